//! What `delivered` means for a course-dialect client (issue 12, defect 4; IPC.md "The
//! course's dialect cannot confirm"): its messages are paced, counted delivered only once sent,
//! and a crashed client's port (unreachable) stops delivery with the rest kept (127.0.47.x).
//!
//! What the issue measured on the code before: with a slow reader 2,834 of 3,000 messages
//! lost, with a crashed one 3,000 of 3,000, each `delivered` to the sender.
//!
//! `cargo nextest run -p simpd --test course_delivery`

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{ip, start_daemon, Ipc, TestDaemon, WAIT};
use serde_json::json;

/// Messages in each stream, as in the issue.
const MESSAGES: usize = 3_000;
/// Chat commands the sender has outstanding at most (the daemon queues 1,000).
const WINDOW: usize = 200;

/// A course client on a plain UDP socket.
struct CourseClient {
    socket: UdpSocket,
    daemon: SocketAddr,
}

impl CourseClient {
    /// A client on `127.0.47.host` whose receive buffer is `rcvbuf` bytes (the kernel doubles
    /// it), or the default.
    fn new(host: u8, daemon: &TestDaemon, rcvbuf: Option<usize>) -> CourseClient {
        let socket = UdpSocket::bind((ip(47, host), 0)).expect("course client binds");
        if let Some(size) = rcvbuf {
            socket2::SockRef::from(&socket).set_recv_buffer_size(size).expect("SO_RCVBUF");
        }
        socket.set_read_timeout(Some(WAIT)).expect("read timeout");
        CourseClient { socket, daemon: daemon.client }
    }

    fn send(&self, datagram: &str) {
        self.socket.send_to(datagram.as_bytes(), self.daemon).expect("course client sends");
    }

    /// The next datagram, or `None` if nothing comes within `wait`.
    fn recv_within(&self, wait: Duration) -> Option<String> {
        self.socket.set_read_timeout(Some(wait)).expect("read timeout");
        let mut buf = vec![0u8; 65_536];
        match self.socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                assert_eq!(from, self.daemon, "a datagram from elsewhere");
                Some(String::from_utf8_lossy(&buf[..n]).into_owned())
            }
            Err(_) => None,
        }
    }

    fn expect(&self, expected: &str) {
        let got = self.recv_within(WAIT);
        assert_eq!(got.as_deref(), Some(expected));
    }
}

/// What the sender saw of its stream.
#[derive(Debug, Default)]
struct Outcome {
    /// Texts of the messages reported `delivered`, in the order they were sent.
    delivered: Vec<String>,
    undelivered: usize,
    /// Chat commands refused (after the chat ended).
    refused: usize,
}

/// `alice` (in a chat) sends `m0`, `m1`, … up to `count`, [`WINDOW`] at a time, until all are
/// sent or the chat ends; returns what she was told of each.
async fn stream(alice: &mut Ipc, count: usize) -> Outcome {
    let mut outcome = Outcome::default();
    let mut ended = false;
    let mut next = 0;
    while next < count && !ended {
        let window = WINDOW.min(count - next);
        for i in next..next + window {
            alice.send(json!({"cmd": "chat", "text": format!("m{i}"), "id": format!("m{i}")})).await;
        }
        next += window;
        // Each command is answered `queued` (then `delivered` or `undelivered`) or `error`.
        let (mut answered, mut queued, mut settled) = (0, 0, 0);
        while answered < window || settled < queued {
            let event = alice.next_event().await;
            match event["event"].as_str() {
                Some("queued") => (answered, queued) = (answered + 1, queued + 1),
                Some("error") => (answered, outcome.refused) = (answered + 1, outcome.refused + 1),
                Some("delivered") => {
                    settled += 1;
                    outcome.delivered.push(event["id"].as_str().expect("an id").to_owned());
                }
                Some("undelivered") => (settled, outcome.undelivered) = (settled + 1, outcome.undelivered + 1),
                Some("ended") => ended = true,
                _ => {}
            }
        }
    }
    outcome.refused += count - next;
    outcome
}

/// `alice` on `a` calls the course client on `b`, which accepts.
async fn call_course_client(a: &TestDaemon, b: &TestDaemon, bob: &CourseClient) -> Ipc {
    bob.send("connect|username=bob");
    bob.expect("ok");
    let mut alice = Ipc::login(a.client, "alice").await;
    alice.send(json!({"cmd": "start", "peer": b.udp.to_string()})).await;
    bob.expect(&format!("invitation|username=alice|ip={}", a.udp.ip()));
    bob.send("accept");
    bob.expect("connected|username=alice");
    alice.expect_event("established", |e| e["event"] == "established").await;
    alice
}

/// The `message` datagrams `client` receives until nothing comes for `quiet`, as the texts
/// (a chat still open is reported first, `connected|…`: skipped).
fn texts_until_quiet(client: &CourseClient, quiet: Duration) -> Vec<String> {
    let mut texts = Vec::new();
    while let Some(datagram) = client.recv_within(quiet) {
        match datagram.strip_prefix("message|username=alice|text=") {
            Some(text) => texts.push(text.to_owned()),
            None if datagram.starts_with("connected|") && texts.is_empty() => {}
            None => panic!("not a message from alice: {datagram:?} (after {} messages)", texts.len()),
        }
    }
    texts
}

/// A reader that takes a millisecond over each datagram, with a 64 KiB receive buffer (128 KiB
/// granted), gets every message: the sender pushes them faster than it reads, the daemon
/// sends 500 a second. Takes about 6 s (3,000 at the pace).
#[tokio::test]
async fn a_slow_course_reader_receives_every_message_in_order() {
    let a = start_daemon(ip(47, 1), |_| {});
    let b = start_daemon(ip(47, 2), |_| {});
    let bob = CourseClient::new(3, &b, Some(64 * 1024));
    let mut alice = call_course_client(&a, &b, &bob).await;

    let reader = std::thread::spawn(move || {
        let mut texts = Vec::new();
        while texts.len() < MESSAGES {
            let Some(datagram) = bob.recv_within(Duration::from_secs(5)) else { break };
            texts.push(datagram);
            std::thread::sleep(Duration::from_millis(1));
        }
        texts
    });
    let started = Instant::now();
    let outcome = stream(&mut alice, MESSAGES).await;
    assert_eq!(outcome.delivered.len(), MESSAGES, "the sender saw {outcome:?}");
    let received = tokio::task::spawn_blocking(move || reader.join().expect("the reader thread"))
        .await
        .expect("joined the reader");
    println!("{} of {MESSAGES} received in {:.1} s", received.len(), started.elapsed().as_secs_f64());
    let expected: Vec<String> = (0..MESSAGES).map(|i| format!("message|username=alice|text=m{i}")).collect();
    let lost = expected.iter().filter(|m| !received.contains(m)).count();
    assert_eq!(lost, 0, "{lost} of {MESSAGES} messages the sender saw delivered were lost");
    assert_eq!(received, expected, "every message once, in order");
}

/// A course client that crashed (its socket closed) after the chat opened: the first datagram
/// to it comes back port-unreachable; delivery stops, the chat ends (its user is gone), and
/// every message the sender saw `delivered` is kept for the next client, which gets each once,
/// in order; once sent to a course client they count as shown.
#[tokio::test]
async fn a_crashed_course_client_loses_nothing_the_sender_saw_delivered() {
    let a = start_daemon(ip(47, 11), |_| {});
    let b = start_daemon(ip(47, 12), |_| {});
    let bob = CourseClient::new(13, &b, None);
    let mut alice = call_course_client(&a, &b, &bob).await;
    drop(bob);

    let outcome = stream(&mut alice, MESSAGES).await;
    println!(
        "the sender saw {} delivered, {} undelivered, {} refused",
        outcome.delivered.len(),
        outcome.undelivered,
        outcome.refused
    );
    assert!(!outcome.delivered.is_empty(), "no message was delivered: {outcome:?}");
    assert_eq!(outcome.delivered.len() + outcome.undelivered + outcome.refused, MESSAGES);

    let next = CourseClient::new(14, &b, None);
    next.send("connect|username=bob");
    next.expect("ok");
    let received = texts_until_quiet(&next, Duration::from_secs(1));
    let lost = outcome.delivered.iter().filter(|m| !received.contains(m)).count();
    assert_eq!(lost, 0, "{lost} of {} messages the sender saw delivered were lost", outcome.delivered.len());
    assert_eq!(received, outcome.delivered, "every message once, in order");

    // Sent to a course client, they count as shown: a later client is not given them again.
    next.send("quit");
    next.expect("ok");
    let mut later = Ipc::login(b.client, "bob").await;
    later.send(json!({"cmd": "status"})).await;
    later.expect(json!({"event": "status"})).await;
}

/// A crashed course client's chat ends at once: the daemon that finds the client's port
/// unreachable leaves the chat in the same turn, so the peer hears FIN without waiting for a
/// retransmission (the callee's timeout here is 5 s; the FIN once waited for it).
#[tokio::test]
async fn the_chat_of_a_crashed_course_client_ends_without_waiting_for_a_timeout() {
    let a = start_daemon(ip(47, 31), |_| {});
    let b = start_daemon(ip(47, 32), |c| c.endpoint.timeout = Duration::from_secs(5));
    let bob = CourseClient::new(33, &b, None);
    let mut alice = call_course_client(&a, &b, &bob).await;
    drop(bob);

    let sent = Instant::now();
    alice.send(json!({"cmd": "chat", "text": "anyone?", "id": "1"})).await;
    alice.expect_event("ended", |e| e["event"] == "ended").await;
    let took = sent.elapsed();
    println!("the chat ended {took:?} after the message to the crashed client");
    assert!(took < Duration::from_secs(2), "the chat ended only after {took:?}: the FIN waited for a timeout");
}

/// The course's clients leave a chat with `quit` at once followed by `connect` (simp-check's
/// course driver does): the `connect` reaches the client's own socket before the daemon has
/// taken the `quit`, and is served all the same.
#[tokio::test]
async fn quit_at_once_followed_by_connect_is_served() {
    let b = start_daemon(ip(47, 21), |_| {});
    let bob = CourseClient::new(22, &b, None);
    for _ in 0..20 {
        bob.send("connect|username=bob");
        bob.expect("ok");
        bob.send("quit");
        bob.send("connect|username=bob");
        bob.expect("ok");
        bob.expect("ok");
        bob.send("quit");
        bob.expect("ok");
    }
}
