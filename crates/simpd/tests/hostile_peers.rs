//! Strangers and a SYN flood against a daemon in a chat (127.0.22.x, 127.0.23.x, 127.0.24.x).
//!
//! `cargo nextest run -p simpd --test hostile_peers`

mod common;
mod support;

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use common::{chat, chat_between, control, ip, start_daemon, Ipc, RawPeer};
use serde_json::json;
use simp_proto::wire::{self, Datagram, Kind};
use support::{assert_exactly_once_in_order, exchange, status, Pace};

/// The next datagram at `peer` that `want` accepts, skipping others (re-sent chat datagrams).
fn recv_matching(peer: &RawPeer, what: &str, want: impl Fn(&Datagram<'_>) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + common::WAIT;
    while Instant::now() < deadline {
        let (bytes, _) = peer.recv(what);
        if Datagram::parse(&bytes).is_ok_and(|d| want(&d)) {
            return bytes;
        }
    }
    panic!("raw peer {}: no {what} within {:?}", peer.addr, common::WAIT)
}

#[tokio::test]
async fn strangers_cannot_end_feed_or_acknowledge_a_chat() {
    let d = start_daemon(ip(22, 1), |c| c.endpoint.retries = 50);
    let bob = RawPeer::bind(ip(22, 2));
    let mallory = RawPeer::bind(ip(22, 3));
    // Same IP as the peer, another port: still a stranger (SPEC: a peer is IP and port).
    let neighbour = RawPeer::bind(ip(22, 2));
    let mut ca = Ipc::login(d.client, "alice").await;

    bob.send(d.udp, &control(wire::OP_SYN, 0, "bob"));
    ca.expect(json!({"event": "request", "peer": bob.addr.to_string(), "user": "bob"})).await;
    ca.send(json!({"cmd": "accept"})).await;
    bob.expect(d.udp, &control(wire::OP_SYN_ACK, 0, "alice"), "SYN+ACK");
    bob.send(d.udp, &control(wire::OP_ACK, 0, "bob"));
    ca.expect(json!({"event": "established", "user": "bob"})).await;

    // A message in flight that bob has not acknowledged yet.
    ca.send(json!({"cmd": "chat", "text": "for bob only", "id": "p1"})).await;
    ca.expect(json!({"event": "queued", "id": "p1"})).await;
    recv_matching(&bob, "alice's chat datagram", |d| d.kind() == Kind::Chat && d.payload() == b"for bob only");

    let forged = |user: &str| {
        vec![
            control(wire::OP_FIN, 0, user),
            control(wire::OP_FIN, 1, user),
            control(wire::OP_ACK, 0, user),
            control(wire::OP_ACK, 1, user),
            chat(0, user, "forged text seq 0"),
            chat(1, user, "forged text seq 1"),
            control(wire::OP_SYN_ACK, 0, user),
            common::datagram(wire::TYPE_CONTROL, wire::OP_ERR, 0, user, b"forged error"),
        ]
    };
    for stranger in [&mallory, &neighbour] {
        for user in ["mallory", "bob"] {
            for d_bytes in forged(user) {
                stranger.send(d.udp, &d_bytes);
            }
        }
    }
    // Then bob speaks: the next event must be his message; nothing came before it.
    bob.send(d.udp, &chat(0, "bob", "marker"));
    recv_matching(&bob, "the ACK of bob's marker", |d| d.kind() == Kind::Ack && d.seq().byte() == 0);
    ca.expect(json!({"event": "message", "user": "bob", "text": "marker"})).await;
    let st = status(&mut ca).await;
    assert_eq!(st["state"], "chatting", "{st}");
    assert_eq!(st["peer"], bob.addr.to_string(), "{st}");
    assert_eq!((st["delivered"].as_u64(), st["queued"].as_u64()), (Some(0), Some(1)), "nothing marked delivered: {st}");

    // Nothing was answered to the strangers (only a SYN would be).
    for stranger in [&mallory, &neighbour] {
        stranger.socket.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
        let mut buf = [0u8; 100];
        let got = stranger.socket.recv_from(&mut buf);
        assert!(got.is_err(), "stranger {} got an answer: {:?}", stranger.addr, got.map(|(n, _)| buf[..n].to_vec()));
    }

    // The real ACK delivers, and the chat goes on both ways.
    bob.send(d.udp, &control(wire::OP_ACK, 0, "bob"));
    ca.expect(json!({"event": "delivered", "id": "p1"})).await;
    ca.send(json!({"cmd": "chat", "text": "next", "id": "p2"})).await;
    ca.expect(json!({"event": "queued", "id": "p2"})).await;
    recv_matching(&bob, "alice's second message, seq 1", |d| d.kind() == Kind::Chat && d.seq().byte() == 1);
    bob.send(d.udp, &control(wire::OP_ACK, 1, "bob"));
    ca.expect(json!({"event": "delivered", "id": "p2"})).await;
}

const SOURCES: u8 = 100;
const FLOOD: Duration = Duration::from_secs(5);

/// Per source: SYNs sent, bytes sent, ERRs and FINs received, bytes received.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    syns: u64,
    sent_bytes: u64,
    errs: u64,
    fins: u64,
    other: u64,
    received_bytes: u64,
}

fn drain(socket: &UdpSocket, from: SocketAddr, tally: &mut Tally) {
    let mut buf = [0u8; 2048];
    while let Ok((n, src)) = socket.recv_from(&mut buf) {
        tally.received_bytes += n as u64;
        match Datagram::parse(&buf[..n]).map(|d| (src == from, d.kind())) {
            Ok((true, Kind::Err)) => tally.errs += 1,
            Ok((true, Kind::Fin)) => tally.fins += 1,
            _ => tally.other += 1,
        }
    }
}

/// 100 sources (127.0.24.1–100, a socket each) send SYNs to `target` as fast as they can for
/// five seconds, then collect the replies.
fn flood(target: SocketAddr) -> Vec<Tally> {
    let sockets: Vec<UdpSocket> = (1..=SOURCES)
        .map(|h| {
            let s = UdpSocket::bind((ip(24, h), 0)).expect("a flood source binds");
            s.set_nonblocking(true).expect("non-blocking");
            s
        })
        .collect();
    let syn = control(wire::OP_SYN, 0, "flood");
    let mut tallies = vec![Tally::default(); sockets.len()];
    let end = Instant::now() + FLOOD;
    while Instant::now() < end {
        for (socket, tally) in sockets.iter().zip(&mut tallies) {
            if socket.send_to(&syn, target).is_ok() {
                tally.syns += 1;
                tally.sent_bytes += syn.len() as u64;
            }
        }
        for (socket, tally) in sockets.iter().zip(&mut tallies) {
            drain(socket, target, tally);
        }
    }
    // Replies to SYNs still queued at the daemon: let them arrive, then count.
    thread::sleep(Duration::from_millis(500));
    for (socket, tally) in sockets.iter().zip(&mut tallies) {
        drain(socket, target, tally);
    }
    tallies
}

#[tokio::test]
async fn a_syn_flood_from_100_sources_gets_a_trickle_and_the_chat_delivers_everything() {
    let tweak = |c: &mut simpd::DaemonConfig| c.endpoint.retries = 50; // 200 ms x 50: 10 s of patience
    let a = start_daemon(ip(23, 1), tweak);
    let b = start_daemon(ip(23, 2), tweak);
    let (mut ca, mut cb) = chat_between(&a, &b, "alice", "bob").await;

    let target = a.udp;
    let flooder = thread::spawn(move || flood(target));
    let started = Instant::now();
    // One message each way every 50 ms while the flood lasts.
    let pace = Pace { count: 80, every: Duration::from_millis(50) };
    let (a_events, b_events) =
        exchange(&mut ca, &mut cb, pace, Duration::from_millis(400), "", Duration::from_secs(60)).await;
    let chat_time = started.elapsed();
    let tallies = flooder.join().expect("the flood thread panicked");
    assert_exactly_once_in_order(&a_events, "a", "b", pace.count, "");
    assert_exactly_once_in_order(&b_events, "b", "a", pace.count, "");
    let a_status = status(&mut ca).await;
    assert_eq!(a_status["state"], "chatting", "{a_status}");

    let syns: u64 = tallies.iter().map(|t| t.syns).sum();
    let sent: u64 = tallies.iter().map(|t| t.sent_bytes).sum();
    let received: u64 = tallies.iter().map(|t| t.received_bytes).sum();
    let pairs: Vec<u64> = tallies.iter().map(|t| t.errs).collect();
    let mut histogram: HashMap<u64, usize> = HashMap::new();
    for p in &pairs {
        *histogram.entry(*p).or_default() += 1;
    }
    let mut histogram: Vec<(u64, usize)> = histogram.into_iter().collect();
    histogram.sort_unstable();
    println!(
        "flood: {syns} SYNs ({sent} bytes) from {SOURCES} sources in {FLOOD:?}; replies {received} bytes; \
         ERR+FIN pairs per source (pairs: sources) {histogram:?}; chat of {} messages each way took {:.1} s, \
         retransmissions alice {}",
        pace.count,
        chat_time.as_secs_f64(),
        a_status["retransmissions"],
    );
    for (i, t) in tallies.iter().enumerate() {
        // SPEC 2.4: a burst of 5, then 1 per second: at most 5 + 5 in five seconds (one more
        // for a SYN still queued when the flood stopped).
        assert!(t.errs <= 11 && t.fins <= 11, "source 127.0.24.{}: {t:?}", i + 1);
        assert!(t.errs >= 5, "source 127.0.24.{} got less than its burst: {t:?}", i + 1);
        assert_eq!((t.errs, t.other), (t.fins, 0), "source 127.0.24.{}: replies come in ERR+FIN pairs: {t:?}", i + 1);
    }
    assert!(received <= sent, "replies ({received} bytes) exceed requests ({sent} bytes)");
}
