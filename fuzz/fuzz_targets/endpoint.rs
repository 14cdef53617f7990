//! Sequences of datagrams (from a few addresses, so some come from the peer), client commands,
//! timer expiries and disconnections into one Endpoint: never panics, only sends valid
//! datagrams, keeps its invariants, and a stranger never changes an established session.
#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use simp_proto::ipc::Command;
use simp_proto::wire::Datagram;
use simp_proto::{Config, Endpoint, Instant, StateName};

#[derive(Debug, Arbitrary)]
enum Op {
    Datagram { from: u8, bytes: Vec<u8> },
    /// A well-formed header around fuzzed fields, to get past the parser more often.
    Shaped { from: u8, ty: u8, op: u8, seq: u8, payload: Vec<u8> },
    Connect(String),
    Start(String),
    Accept,
    Decline,
    Chat(String),
    Leave,
    Quit,
    Status,
    Wait(u16),
    ClientGone,
    Shutdown,
}

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 2 + i % 3], if i & 0x80 != 0 { 40000 } else { 7777 }))
}

fuzz_target!(|input: (bool, Vec<Op>)| {
    let (auto_accept, ops) = input;
    let mut config = Config::new("127.0.0.1:7777".parse().unwrap());
    config.auto_accept = auto_accept;
    config.timeout = Duration::from_millis(100);
    let mut ep = Endpoint::new(config);
    let mut now = Instant::ZERO;
    for op in ops {
        let before = (ep.state(), ep.peer());
        let mut from_stranger = false;
        match op {
            Op::Datagram { from, bytes } => {
                from_stranger = Some(addr(from)) != ep.peer();
                ep.handle_datagram(now, addr(from), &bytes);
            }
            Op::Shaped { from, ty, op, seq, payload } => {
                let mut bytes = vec![ty, op, seq];
                bytes.extend_from_slice(b"fuzz");
                bytes.resize(35, 0);
                bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
                bytes.extend_from_slice(&payload);
                from_stranger = Some(addr(from)) != ep.peer();
                ep.handle_datagram(now, addr(from), &bytes);
            }
            Op::Connect(user) => ep.handle_command(now, Command::Connect { user }),
            Op::Start(peer) => ep.handle_command(now, Command::Start { peer }),
            Op::Accept => ep.handle_command(now, Command::Accept),
            Op::Decline => ep.handle_command(now, Command::Decline),
            Op::Chat(text) => ep.handle_command(now, Command::Chat { text, id: None }),
            Op::Leave => ep.handle_command(now, Command::Leave),
            Op::Quit => ep.handle_command(now, Command::Quit),
            Op::Status => ep.handle_command(now, Command::Status),
            Op::Wait(ms) => {
                now += Duration::from_millis(u64::from(ms));
                if ep.poll_timeout().is_some_and(|t| t <= now) {
                    ep.handle_timeout(now);
                }
            }
            Op::ClientGone => ep.handle_client_gone(now),
            Op::Shutdown => ep.handle_shutdown(now),
        }
        if from_stranger && before.1.is_some() {
            assert_eq!((ep.state(), ep.peer()), before, "a stranger changed the session");
        }
        while let Some(t) = ep.poll_transmit() {
            assert!(Datagram::parse(t.bytes()).is_ok(), "sent an invalid datagram");
        }
        while ep.poll_event().is_some() {}
        assert_eq!(ep.peer().is_none(), ep.state() == StateName::Idle);
    }
});
