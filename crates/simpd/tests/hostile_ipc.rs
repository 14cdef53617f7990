//! Bad client input beyond `ipc.rs`: every command in every state where it is wrong, binary
//! junk, a 10 MiB line, a client from another host, second and half-closed connections, a
//! client that resets its connection (127.0.25.x).
//!
//! `cargo nextest run -p simpd --test hostile_ipc`

mod common;
mod support;

use std::net::SocketAddr;

use common::{chat_between, control, ip, start_daemon, Ipc, RawPeer};
use serde_json::{json, Value};
use simp_proto::rng::Rng;
use simp_proto::wire;
use support::{seed, status, SimpdProcess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Sends each command, expects an `error` with its code, then checks `status` is unchanged.
async fn refused_in_state(c: &mut Ipc, state: &str, cases: &[(Value, &str)]) {
    let before = status(c).await;
    assert_eq!(before["state"], state, "{before}");
    for (cmd, code) in cases {
        c.send(cmd.clone()).await;
        let event = c.next_event().await;
        assert!(
            common::matches(&event, &json!({"event": "error", "code": code})),
            "in {state}, {cmd} gave {event}, expected error {code}"
        );
        let after = status(c).await;
        assert_eq!(after, before, "in {state}, {cmd} changed the state");
    }
}

#[tokio::test]
async fn every_command_in_every_state_where_it_is_wrong_is_an_error_and_changes_nothing() {
    let d = start_daemon(ip(25, 1), |c| c.endpoint.retries = 50);
    let other = start_daemon(ip(25, 2), |_| {});
    let silent = RawPeer::bind(ip(25, 3));
    let caller = RawPeer::bind(ip(25, 4));
    let start = |peer: SocketAddr| json!({"cmd": "start", "peer": peer.to_string()});
    let chat = json!({"cmd": "chat", "text": "hi"});
    let (accept, decline, leave) = (json!({"cmd": "accept"}), json!({"cmd": "decline"}), json!({"cmd": "leave"}));

    // Not connected: everything but connect, and status (a read-only query, IPC.md "Access").
    let mut c = Ipc::connect("fresh", d.client).await;
    for cmd in [start(other.udp), accept.clone(), decline.clone(), chat.clone(), leave.clone()] {
        c.send(cmd.clone()).await;
        c.expect(json!({"event": "error", "code": "not-connected"})).await;
    }
    c.send(json!({"cmd": "status"})).await;
    c.expect(json!({"event": "status", "state": "idle"})).await;
    c.send(json!({"cmd": "connect", "user": "alice"})).await;
    c.expect(json!({"event": "connected", "user": "alice"})).await;

    let bad = [
        (json!({"cmd": "connect", "user": "x".repeat(33)}), "bad-user"),
        (json!({"cmd": "connect", "user": "bad\u{1b}name"}), "bad-user"),
        (json!({"cmd": "start", "peer": "not an address"}), "bad-peer"),
        (json!({"cmd": "start", "peer": d.udp.to_string()}), "bad-peer"),
    ];
    let idle = [
        (accept.clone(), "no-request"),
        (decline.clone(), "no-request"),
        (chat.clone(), "not-in-chat"),
        (leave.clone(), "not-in-chat"),
    ];
    refused_in_state(&mut c, "idle", &idle).await;
    refused_in_state(&mut c, "idle", &bad).await;

    // Calling a peer that never answers.
    c.send(start(silent.addr)).await;
    c.expect(json!({"event": "calling"})).await;
    let calling = [
        (start(other.udp), "busy"),
        (accept.clone(), "no-request"),
        (decline.clone(), "no-request"),
        (chat.clone(), "not-in-chat"),
    ];
    refused_in_state(&mut c, "calling", &calling).await;
    refused_in_state(&mut c, "calling", &bad).await;
    c.send(leave.clone()).await;
    c.expect(json!({"event": "ended", "reason": "you left"})).await;

    // Ringing: a raw caller.
    caller.send(d.udp, &control(wire::OP_SYN, 0, "carol"));
    c.expect(json!({"event": "request", "user": "carol"})).await;
    let ringing = [(start(other.udp), "busy"), (chat.clone(), "not-in-chat")];
    refused_in_state(&mut c, "ringing", &ringing).await;
    // Accepting: the raw caller never sends its ACK.
    c.send(accept.clone()).await;
    let accepting = [
        (start(other.udp), "busy"),
        (accept.clone(), "no-request"),
        (decline.clone(), "no-request"),
        (chat.clone(), "not-in-chat"),
    ];
    refused_in_state(&mut c, "accepting", &accepting).await;
    caller.send(d.udp, &control(wire::OP_ACK, 0, "carol"));
    c.expect(json!({"event": "established", "user": "carol"})).await;

    // Chatting.
    let chatting = [
        (start(other.udp), "busy"),
        (accept.clone(), "no-request"),
        (decline.clone(), "no-request"),
        (json!({"cmd": "chat", "text": "caf\u{e9}"}), "bad-text"),
        (json!({"cmd": "chat", "text": "bell\u{7}"}), "bad-text"),
    ];
    refused_in_state(&mut c, "chatting", &chatting).await;
    refused_in_state(&mut c, "chatting", &bad).await;
    // Closing: the raw peer does not acknowledge our FIN.
    c.send(leave.clone()).await;
    let closing = [
        (leave.clone(), "not-in-chat"),
        (chat.clone(), "not-in-chat"),
        (start(other.udp), "busy"),
        (accept.clone(), "no-request"),
    ];
    refused_in_state(&mut c, "closing", &closing).await;
}

/// Lines that are not all whitespace (the daemon skips those without a word), each at most the
/// line limit: one `error` each.
fn expected_errors(junk: &[u8]) -> usize {
    let mut lines: Vec<&[u8]> = junk.split(|&b| b == b'\n').collect();
    lines.pop(); // the last piece has no newline yet
    lines.iter().filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count()
}

#[tokio::test]
async fn junk_lines_a_10_mib_line_and_other_connections_leave_the_first_client_unharmed() {
    let seed = seed(0x5EED_0005);
    let d = SimpdProcess::spawn(ip(25, 11), &[]);
    let mut c = Ipc::login(d.client, "alice").await;
    status(&mut c).await;
    let rss_before = d.rss_kib();

    // Binary junk: random bytes, newlines among them (NUL, 0xFF, invalid UTF-8, quotes …).
    let mut rng = Rng::new(seed);
    let mut junk = vec![0u8; 256 * 1024];
    rng.fill(&mut junk);
    for b in junk.iter_mut() {
        if *b % 61 == 0 {
            *b = b'\n';
        }
    }
    junk.push(b'\n');
    let mut extra = Vec::new();
    extra.extend_from_slice(b"{\"cmd\":\"chat\",\"text\":\"\xff\xfe\"}\n");
    extra.extend_from_slice(&b"[".repeat(60_000)); // deep nesting, under the line limit
    extra.push(b'\n');
    extra.extend_from_slice(b"{\"cmd\":\"dance\"}\n{\"cmd\":\"accept\",\"x\":1}\n{\"cmd\":null}\n\0\0\0\n");
    let expected = expected_errors(&junk) + expected_errors(&extra);
    c.send_raw(&junk).await;
    c.send_raw(&extra).await;
    c.send(json!({"cmd": "status"})).await;
    let mut errors = 0;
    loop {
        let e = c.next_event().await;
        match e["event"].as_str() {
            Some("status") => break,
            Some("error") => {
                assert!(["bad-json", "unknown-cmd"].contains(&e["code"].as_str().unwrap_or("")), "{e} (seed {seed})");
                errors += 1;
            }
            _ => panic!("unexpected event {e} (seed {seed})"),
        }
    }
    assert_eq!(errors, expected, "one error per junk line (seed {seed})");

    // 10 MiB without a newline, then one: one line-too-long, nothing kept.
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..10 {
        c.send_raw(&chunk).await;
    }
    let rss_during = d.rss_kib();
    c.send_raw(b"\n").await;
    c.expect(json!({"event": "error", "code": "line-too-long"})).await;

    // A second client, one that half-closes at once, one that resets: each refused or closed.
    let mut second = Ipc::connect("second", d.client).await;
    second.expect(json!({"event": "error", "code": "client-busy"})).await;
    assert!(second.expect_closed().await.is_empty());
    let mut half = Ipc::connect("half-closed", d.client).await;
    half.close_write().await;
    half.expect(json!({"event": "error", "code": "client-busy"})).await;
    let reset = TcpStream::connect(d.client).await.expect("connects");
    reset.set_zero_linger().expect("linger 0");
    drop(reset);

    let st = status(&mut c).await;
    assert_eq!((st["state"].as_str(), st["user"].as_str()), (Some("idle"), Some("alice")), "{st}");
    let rss_after = d.rss_kib();
    println!(
        "{errors} junk lines -> {errors} errors; simpd RSS {rss_before} KiB before, {rss_during} KiB with 10 MiB \
         unterminated, {rss_after} KiB after (seed {seed})"
    );
    assert!(rss_during < rss_before + 5 * 1024 && rss_after < rss_before + 5 * 1024, "simpd's memory grew");
}

#[tokio::test]
async fn a_client_from_another_host_is_refused_unless_allowed() {
    // One machine has no remote host: the test names 127.0.25.29 "remote" by configuration.
    fn only_29_is_remote(ip: std::net::IpAddr) -> bool {
        ip != common::ip(25, 29)
    }
    let strict = start_daemon(ip(25, 21), |c| c.is_local_client = only_29_is_remote);
    let open = start_daemon(ip(25, 22), |c| {
        c.is_local_client = only_29_is_remote;
        c.allow_remote_clients = true;
    });
    let mut first = Ipc::login(strict.client, "alice").await;

    let from_29 = |to: SocketAddr| async move {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::new(ip(25, 29), 0)).expect("bind 127.0.25.29");
        socket.connect(to).await.expect("the TCP handshake itself completes")
    };
    let mut remote = from_29(strict.client).await;
    remote.write_all(b"{\"cmd\":\"connect\",\"user\":\"mallory\"}\n").await.ok();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(common::WAIT, remote.read_to_end(&mut buf)).await.expect("closed in time");
    assert!(buf.is_empty(), "a remote client got {:?} ({read:?})", String::from_utf8_lossy(&buf));

    // The local client never noticed; the other daemon serves the same address when allowed.
    let st = status(&mut first).await;
    assert_eq!((st["state"].as_str(), st["user"].as_str()), (Some("idle"), Some("alice")), "{st}");
    let mut allowed = from_29(open.client).await;
    allowed.write_all(b"{\"cmd\":\"connect\",\"user\":\"bob\"}\n").await.expect("write");
    let mut line = vec![0u8; 256];
    let n = tokio::time::timeout(common::WAIT, allowed.read(&mut line)).await.expect("answer in time").expect("read");
    let text = String::from_utf8_lossy(&line[..n]);
    assert!(text.starts_with("{\"event\":\"connected\",\"user\":\"bob\""), "{text}");
}

#[tokio::test]
async fn a_client_that_half_closes_mid_chat_leaves_it_and_still_gets_its_last_events() {
    let a = start_daemon(ip(25, 31), |_| {});
    let b = start_daemon(ip(25, 32), |_| {});
    let (mut ca, mut cb) = chat_between(&a, &b, "alice", "bob").await;
    ca.send_raw(b"{\"cmd\":\"chat\",\"text\":\"last words\",\"id\":\"w\"}\n").await;
    ca.close_write().await;
    let tail = ca.expect_closed().await;
    assert!(common::matches(&tail[0], &json!({"event": "queued", "id": "w"})), "{tail:?}");
    cb.expect(json!({"event": "message", "text": "last words"})).await;
    cb.expect(json!({"event": "ended", "reason": "peer left"})).await;
}
