//! Out of file descriptors (issue 11 §3): `accept` failing with EMFILE must not stall the one
//! event loop, and `simpd` raises its soft descriptor limit to the hard one at start
//! (127.43.0.x).
//!
//! Lowering the limit is the whole process's business: this file holds one test per limit,
//! and nextest runs each test in a process of its own.
//!
//! `cargo nextest run -p simpd --test hostile_descriptors`
#![cfg(target_os = "linux")]

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{chat, control, start_daemon, Ipc, RawPeer, StateDir};
use rlimit::Resource;
use serde_json::json;
use simp_proto::wire;
use socket2::{Domain, Socket, Type};

fn ip(host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 43, 0, host))
}

/// Chat messages the raw peer sends while the daemon cannot accept.
const MESSAGES: usize = 200;
/// Generous for 200 round trips on loopback (a few milliseconds, but the suite's load can keep
/// a thread off the CPU for a second); a loop that sleeps 100 ms at every failed `accept` took
/// 3.4 s for 100.
const LIMIT: Duration = Duration::from_millis(2500);

#[tokio::test]
async fn out_of_descriptors_the_daemon_still_serves_its_chat() {
    let d = start_daemon(ip(1), |c| c.endpoint.retries = 50);
    let bob = RawPeer::bind(ip(2));
    let mut alice = Ipc::login(d.client, "alice").await;
    bob.send(d.udp, &control(wire::OP_SYN, 0, "bob"));
    alice.expect(json!({"event": "request", "user": "bob"})).await;
    alice.send(json!({"cmd": "accept"})).await;
    bob.expect(d.udp, &control(wire::OP_SYN_ACK, 0, "alice"), "SYN+ACK");
    bob.send(d.udp, &control(wire::OP_ACK, 0, "bob"));
    alice.expect(json!({"event": "established", "user": "bob"})).await;

    // Sockets to connect once no descriptor is left (connecting takes none).
    let waiting: Vec<Socket> =
        (0..3).map(|_| Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket")).collect();
    let (soft, hard) = Resource::NOFILE.get().expect("the descriptor limit");
    // The lowest free descriptor: every one below it is in use, so with the soft limit there
    // no new descriptor can be had, by the test or by the daemon's `accept`.
    let lowest_free = File::open("/dev/null").expect("open /dev/null").as_raw_fd();
    let lowest_free = u64::try_from(lowest_free).expect("a descriptor is not negative");
    Resource::NOFILE.set(lowest_free, hard).expect("lower the soft limit");
    assert!(File::open("/dev/null").is_err(), "a descriptor was still free");
    for socket in &waiting {
        socket.connect(&d.client.into()).expect("the kernel completes the connection, unaccepted");
    }

    let started = Instant::now();
    for i in 0..MESSAGES {
        let seq = (i % 2) as u8;
        bob.send(d.udp, &chat(seq, "bob", &format!("m{i}")));
        bob.expect(d.udp, &control(wire::OP_ACK, seq, "alice"), &format!("the ACK of message {i}"));
    }
    let elapsed = started.elapsed();
    Resource::NOFILE.set(soft, hard).expect("restore the soft limit");
    println!("{MESSAGES} messages acknowledged in {elapsed:?} while accept failed with EMFILE");
    assert!(elapsed < LIMIT, "{MESSAGES} messages took {elapsed:?}: the loop stalled on the failing accept");

    for i in 0..MESSAGES {
        alice.expect(json!({"event": "message", "user": "bob", "text": format!("m{i}")})).await;
    }
    // With descriptors again, the waiting connections are accepted (and refused: alice holds
    // the slot).
    let waiting: TcpStream = waiting.into_iter().next().expect("a socket").into();
    waiting.set_read_timeout(Some(common::WAIT)).expect("read timeout");
    let mut line = String::new();
    BufReader::new(waiting).read_line(&mut line).expect("a refusal");
    assert!(line.contains("client-busy"), "{line}");
}

#[test]
fn simpd_raises_its_soft_descriptor_limit_to_the_hard_one() {
    let (_, hard) = Resource::NOFILE.get().expect("the descriptor limit");
    assert!(hard > 64, "the hard limit ({hard}) leaves nothing to raise");
    let state = StateDir::new("descriptors");
    let mut child = Command::new("sh")
        .args(["-c", "ulimit -Sn 64 && exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_simpd")])
        .args([&ip(11).to_string(), "--port", "0", "--client-port", "0", "--state-dir", state.arg()])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("simpd starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut first = String::new();
    stderr.read_line(&mut first).expect("simpd's first line");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).expect("/proc/PID/limits");
    let _ = child.kill();
    let _ = child.wait();
    let mut rest = String::new();
    let _ = stderr.read_to_string(&mut rest);
    assert!(first.contains("simpd listening"), "{first}{rest}");
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("a line for open files");
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers, [hard.to_string(), hard.to_string()], "soft and hard limits of simpd: {line}");
}
