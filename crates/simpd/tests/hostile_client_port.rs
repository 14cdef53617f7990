//! Forged and flooding traffic on the client port (issue 11 §3): the course dialect's error
//! answers cannot be turned into a loop between two daemons (or one daemon and itself) nor
//! into an amplifier, and a flood of datagrams or connections cannot fill the log
//! (127.42.0.x).
//!
//! `cargo nextest run -p simpd --test hostile_client_port`

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{start_daemon, Ipc, StateDir, WAIT};
use serde_json::json;

fn ip(host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 42, 0, host))
}

/// A UDP socket on `ip(host)`, port 0, that waits at most `timeout` for a datagram.
fn socket(host: u8, timeout: Duration) -> UdpSocket {
    let socket = UdpSocket::bind((ip(host), 0)).expect("a test socket binds");
    socket.set_read_timeout(Some(timeout)).expect("read timeout");
    socket
}

/// Plays the forger between the client ports `a` and `b` (the same daemon twice for "a
/// daemon and itself"): sends `first` to `a` as if from `b`, then for one second passes
/// every answer on as if from the one it is meant for, as a forged source address would make
/// the daemons do by themselves. Returns the sizes of the datagrams that bounced.
fn bounce(hosts: (u8, u8), a: SocketAddr, b: SocketAddr, first: &[u8]) -> Vec<usize> {
    // `as_b` stands for b's address towards a, `as_a` for a's towards b.
    let as_b = socket(hosts.0, Duration::from_millis(5));
    let as_a = socket(hosts.1, Duration::from_millis(5));
    as_b.send_to(first, a).expect("send the forged datagram");
    let mut sizes = Vec::new();
    let mut buf = [0u8; 2048];
    let end = Instant::now() + Duration::from_secs(1);
    while Instant::now() < end {
        if let Ok((n, _)) = as_b.recv_from(&mut buf) {
            sizes.push(n);
            as_a.send_to(&buf[..n], b).expect("pass it on");
        }
        if let Ok((n, _)) = as_a.recv_from(&mut buf) {
            sizes.push(n);
            as_b.send_to(&buf[..n], a).expect("pass it on");
        }
    }
    sizes
}

#[tokio::test]
async fn one_forged_datagram_does_not_start_a_ping_pong() {
    let a = start_daemon(ip(1), |_| {});
    let b = start_daemon(ip(2), |_| {});
    let junk = b"hello daemon, is anyone there?";

    let between_two = bounce((10, 11), a.client, b.client, junk);
    println!(
        "two daemons: {} datagrams bounced in 1 s, sizes {:?}",
        between_two.len(),
        &between_two[..between_two.len().min(5)]
    );
    let first = &between_two[..between_two.len().min(5)];
    assert_eq!(
        between_two.len(),
        1,
        "only a's answer to the junk, which b does not answer; the first of them: {first:?}"
    );
    assert!(
        between_two[0] <= junk.len(),
        "the answer ({} bytes) is longer than the junk ({})",
        between_two[0],
        junk.len()
    );

    let with_itself = bounce((12, 13), a.client, a.client, junk);
    println!("a daemon and itself: {} datagrams bounced in 1 s", with_itself.len());
    assert_eq!(with_itself.len(), 1, "a answered its own answer, {} datagrams bounced", with_itself.len());

    // A forged answer is not answered at all.
    let forged_answer = bounce((14, 15), a.client, b.client, b"error|message=unknown command \"hello\"");
    assert!(forged_answer.is_empty(), "a daemon answered what looks like an answer: {} bounced", forged_answer.len());
}

#[test]
fn error_answers_are_few_per_source_and_never_longer_than_what_they_answer() {
    let d = start_daemon(ip(21), |_| {});
    let sender = socket(22, Duration::from_millis(300));
    let junk: Vec<Vec<u8>> = (0..50).map(|i| format!("junk {i} {}", "y".repeat(i)).into_bytes()).collect();
    for datagram in &junk {
        sender.send_to(datagram, d.client).expect("send junk");
    }
    let mut answers = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok((n, _)) = sender.recv_from(&mut buf) {
        answers.push(buf[..n].to_vec());
    }
    let sent: usize = junk.iter().map(Vec::len).sum();
    let received: usize = answers.iter().map(Vec::len).sum();
    println!("50 junk datagrams ({sent} bytes): {} answers ({received} bytes)", answers.len());
    assert!(!answers.is_empty() && answers.len() <= 5, "{} answers to one source at once (budget 5)", answers.len());
    for (answer, request) in answers.iter().zip(&junk) {
        assert!(answer.starts_with(b"error"), "{:?}", String::from_utf8_lossy(answer));
        assert!(answer.len() <= request.len(), "answer {} bytes to a request of {}", answer.len(), request.len());
    }
    // Another source has its own budget.
    let other = socket(23, WAIT);
    other.send_to(b"junk from elsewhere", d.client).expect("send junk");
    let (n, _) = other.recv_from(&mut buf).expect("another source is answered");
    assert_eq!(&buf[..n], b"error|message=unkno");
}

/// Lines of `log` that contain `what`.
fn lines_with(log: &str, what: &str) -> usize {
    log.lines().filter(|l| l.contains(what)).count()
}

/// Removed however the test ends.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn a_flood_of_datagrams_and_connections_writes_a_few_lines() {
    // The log goes to a file: a pipe nobody reads while the flood lasts would block simpd.
    let path = std::env::temp_dir().join(format!("simpd-quiet-{}.log", std::process::id()));
    let log_file = TempFile(path.clone());
    let state = StateDir::new("quiet");
    let mut child = Command::new(env!("CARGO_BIN_EXE_simpd"))
        .args([&ip(31).to_string(), "--port", "0", "--client-port", "0", "--state-dir", state.arg()])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log_file.0).expect("a log file"))
        .spawn()
        .expect("simpd starts");
    let deadline = Instant::now() + WAIT;
    let client: SocketAddr = loop {
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        let found = log.split_whitespace().find_map(|w| w.strip_prefix("client=")).and_then(|a| a.parse().ok());
        if let Some(client) = found {
            break client;
        }
        assert!(Instant::now() < deadline, "simpd did not report its client address; its log:\n{log}");
        std::thread::sleep(Duration::from_millis(10));
    };

    // A TCP client holds the slot: every datagram on the UDP side, and every other
    // connection, is refused.
    let mut alice = Ipc::login(client, "alice").await;
    let flood = socket(32, WAIT);
    for _ in 0..2_000 {
        flood.send_to(b"connect|username=mallory", client).expect("send");
    }
    for _ in 0..200 {
        let mut refused = TcpStream::connect(client).expect("connect");
        refused.set_read_timeout(Some(WAIT)).expect("read timeout");
        // A command at once: not a `status` query, so refused without waiting for one.
        refused.write_all(b"{\"cmd\":\"connect\",\"user\":\"mallory\"}\n").expect("write");
        let mut sink = Vec::new();
        let _ = refused.read_to_end(&mut sink);
    }
    // Everything refused was handled before this answer.
    alice.send(json!({"cmd": "status"})).await;
    alice.expect_event("status", |e| e["event"] == "status").await;
    drop(alice);
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&path).expect("simpd's log");

    let udp = lines_with(&log, "refused a UDP client");
    let tcp = lines_with(&log, "refused a second client");
    println!(
        "2,000 datagrams and 200 connections refused: {udp} + {tcp} lines about them ({} lines in all)",
        log.lines().count()
    );
    assert!((1..=5).contains(&udp), "{udp} lines about refused datagrams from one source");
    assert!((1..=5).contains(&tcp), "{tcp} lines about refused connections from one source");
}
