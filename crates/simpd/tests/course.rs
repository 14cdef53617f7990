//! The course's dialect on the client port's UDP side (IPC.md "Course-compatibility
//! endpoint"), driven by a test acting as the course's client, and the course grader's checks
//! of an auto-accepting daemon, byte for byte (127.0.7.x).

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{ip, start_daemon, Ipc, RawPeer, TestDaemon, WAIT};
use serde_json::json;
use simp_proto::wire::{Datagram, Kind, Seq, UserName};

/// The course's client: one UDP socket, one datagram per command.
struct CourseClient {
    socket: UdpSocket,
    daemon: SocketAddr,
    seen: Vec<String>,
}

impl CourseClient {
    /// A client on `host` (port 0) for the daemon's client port.
    fn new(host: u8, daemon: &TestDaemon) -> CourseClient {
        let socket = UdpSocket::bind((ip(7, host), 0)).expect("course client binds");
        socket.set_read_timeout(Some(WAIT)).expect("read timeout");
        CourseClient { socket, daemon: daemon.client, seen: Vec::new() }
    }

    fn send(&self, datagram: &str) {
        self.send_bytes(datagram.as_bytes());
    }

    fn send_bytes(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.daemon).expect("course client sends");
    }

    /// The next datagram from the daemon's client port, as text.
    fn recv(&mut self) -> String {
        let mut buf = vec![0u8; 65_536];
        match self.socket.recv_from(&mut buf) {
            Ok((n, from)) if from == self.daemon => {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push(text.clone());
                text
            }
            Ok((_, from)) => panic!("a datagram from {from}, not the daemon's client port {}", self.daemon),
            Err(e) => panic!("no datagram within 10 s ({e}); seen so far: {:?}", self.seen),
        }
    }

    fn expect(&mut self, expected: &str) {
        let got = self.recv();
        assert_eq!(got, expected, "seen so far: {:?}", self.seen);
    }

    /// The next datagram is an `error|message=…` whose message contains `part`.
    fn expect_error(&mut self, part: &str) {
        let got = self.recv();
        assert!(
            got.starts_with("error|message=") && got.contains(part),
            "expected an error about {part:?}, got {got:?}"
        );
    }

    /// Nothing arrives for a while (events with no course word are not sent).
    fn expect_silence(&mut self, for_how_long: Duration) {
        self.socket.set_read_timeout(Some(for_how_long)).expect("read timeout");
        let mut buf = [0u8; 1024];
        if let Ok((n, _)) = self.socket.recv_from(&mut buf) {
            panic!("expected nothing, got {:?}", String::from_utf8_lossy(&buf[..n]));
        }
        self.socket.set_read_timeout(Some(WAIT)).expect("read timeout");
    }
}

#[tokio::test]
async fn a_course_client_calls_chats_and_quits() {
    let a = start_daemon(ip(7, 1), |_| {});
    let b = start_daemon(ip(7, 2), |_| {});
    let mut alice = CourseClient::new(3, &a);
    let mut bob = Ipc::login(b.client, "bob").await;

    alice.send("connect|username=alice");
    alice.expect("ok");
    alice.send(&format!("invite|ip={}|port={}", b.udp.ip(), b.udp.port()));
    bob.expect(json!({"event": "request", "peer": a.udp.to_string(), "user": "alice"})).await;
    bob.send(json!({"cmd": "accept"})).await;
    // `calling` has no course word: the next datagram is the established chat.
    alice.expect("connected|username=bob");
    bob.expect(json!({"event": "established", "user": "alice"})).await;

    alice.send("send|text=a|b");
    bob.expect(json!({"event": "message", "user": "alice", "text": "a|b"})).await;
    bob.send(json!({"cmd": "chat", "text": "hi alice | how are you"})).await;
    alice.expect("message|username=bob|text=hi alice | how are you");

    alice.send("quit");
    alice.expect("ok");
    bob.expect_event("ended", |e| e["event"] == "ended").await;
    // `queued` and `delivered` were never sent, and nothing follows the quit.
    alice.expect_silence(Duration::from_millis(300));
    assert_eq!(alice.seen, ["ok", "connected|username=bob", "message|username=bob|text=hi alice | how are you", "ok"]);
}

#[tokio::test]
async fn a_course_client_is_invited_accepts_declines_and_sees_the_peer_leave() {
    let a = start_daemon(ip(7, 11), |_| {});
    let b = start_daemon(ip(7, 12), |_| {});
    let mut alice = Ipc::login(a.client, "alice").await;
    let mut bob = CourseClient::new(13, &b);
    bob.send("connect|username=bob");
    bob.expect("ok");

    // Declined first.
    alice.send(json!({"cmd": "start", "peer": b.udp.to_string()})).await;
    bob.expect(&format!("invitation|username=alice|ip={}", a.udp.ip()));
    bob.send("decline");
    bob.expect("disconnected");
    alice.expect_event("ended declined", |e| e["event"] == "ended" && e["reason"] == "declined").await;

    // Then accepted, from another daemon (a SYN from the daemon just declined would be taken
    // for a late copy of the declined one for a while: SPEC's linger).
    let c = start_daemon(ip(7, 14), |_| {});
    let mut carol = Ipc::login(c.client, "carol").await;
    carol.send(json!({"cmd": "start", "peer": b.udp.to_string()})).await;
    bob.expect(&format!("invitation|username=carol|ip={}", c.udp.ip()));
    bob.send("accept");
    bob.expect("connected|username=carol");
    carol.expect_event("established", |e| e["event"] == "established").await;
    carol.send(json!({"cmd": "chat", "text": "hello bob"})).await;
    bob.expect("message|username=carol|text=hello bob");
    bob.send("send|text=hello carol");
    carol.expect_event("bob's message", |e| e["event"] == "message" && e["text"] == "hello carol").await;

    carol.send(json!({"cmd": "leave"})).await;
    bob.expect("disconnected");
    // A command the state does not allow is the endpoint's error, in the dialect.
    bob.send("accept");
    bob.expect("error|message=no call is waiting for an answer");
}

#[tokio::test]
async fn one_client_at_a_time_across_tcp_and_udp() {
    let d = start_daemon(ip(7, 21), |_| {});
    let mut course = CourseClient::new(22, &d);

    // A TCP client is attached: the UDP client is refused, whatever it sends.
    let mut tcp = Ipc::login(d.client, "tcpuser").await;
    course.send("connect|username=alice");
    course.expect_error("over TCP");
    tcp.send(json!({"cmd": "quit"})).await;
    tcp.expect_closed().await;

    // The slot is free: the UDP client takes it, and a TCP client is refused.
    course.send("connect|username=alice");
    course.expect("ok");
    let mut second = Ipc::connect("second", d.client).await;
    let refusal = second.expect(json!({"event": "error", "code": "client-busy"})).await;
    let message = refusal["message"].as_str().unwrap_or_default();
    assert!(message.contains("over UDP") && message.contains("quit"), "{message}");
    second.expect_closed().await;

    // The UDP client is whoever sent the last command: a new socket (a restarted course
    // client) takes over and gets the events.
    let mut restarted = CourseClient::new(22, &d);
    restarted.send("connect|username=alice2");
    restarted.expect("ok");
    restarted.send("quit");
    restarted.expect("ok");
    course.expect_silence(Duration::from_millis(200));

    // After quit the slot is free again, for either transport.
    let mut tcp = Ipc::login(d.client, "tcpuser").await;
    tcp.send(json!({"cmd": "status"})).await;
    tcp.expect(json!({"event": "status", "state": "idle", "user": "tcpuser"})).await;
}

#[tokio::test]
async fn arbitrary_datagrams_get_errors_and_leave_the_slot_free() {
    let d = start_daemon(ip(7, 31), |_| {});
    let mut course = CourseClient::new(32, &d);

    // An answer is never longer than what it answers (IPC.md "Forged datagrams"): these carry
    // padding (bytes that change nothing) so that the whole reason fits.
    let pad = format!("|pad={}", "x".repeat(120));
    course.send_bytes(b"");
    course.expect_silence(Duration::from_millis(200));
    course.send_bytes(&[b"\xff\xfe\x00connect".as_slice(), pad.as_bytes()].concat());
    course.expect_error("not ASCII");
    course.send_bytes(&vec![b'x'; 65_507]);
    course.expect_error("unknown command");
    course.send(&format!("dance|now{pad}"));
    course.expect_error("known commands: connect, invite");
    course.send(&format!("invite|ip=bob.example|port=7777{pad}"));
    course.expect_error("not an IP address");
    // Without padding, the answer is cut to the length of the datagram.
    course.send("dance|now");
    course.expect("error|mes");
    course.send("accept");
    course.expect("error|message=send connect|username=NAME first");
    course.send("send|text=hi");
    course.expect("error|message=send connect|username=NAME first");
    course.send("connect|username=");
    course.expect_error("name");
    course.send("quit");
    course.expect("ok");

    // None of it attached a client: a TCP client is served.
    let mut tcp = Ipc::login(d.client, "tcpuser").await;
    tcp.send(json!({"cmd": "quit"})).await;
    tcp.expect_closed().await;

    // And the UDP side still works (a trailing newline, as `echo … | nc -u` sends, is fine).
    course.send("connect|username=alice\n");
    course.expect("ok");
    course.send("send|text=nobody is listening");
    course.expect("error|message=there is no chat to send to; start a call or accept one first");
    course.send("quit");
    course.expect("ok");
}

/// The course grader's check of a daemon started with `--auto-accept` and no client attached:
/// SYN from an ephemeral port → SYN+ACK within 2 s; chat seq 0 and 1 → ACKs echoing them;
/// FIN → ACK. Expected bytes come from the codec (`simp_proto::wire`).
#[test]
fn the_graders_check_of_an_auto_accepting_daemon() {
    let d = start_daemon(ip(7, 41), |c| {
        c.endpoint.timeout = Duration::from_secs(5);
        c.endpoint.auto_accept = true;
    });
    let grader = RawPeer::bind(ip(7, 42));
    grader.socket.set_read_timeout(Some(Duration::from_secs(2))).expect("read timeout");
    let name = UserName::new("grader").expect("a valid name");
    let from_grader = |kind, seq, payload: &[u8]| Datagram::new(kind, seq, Some(&name), payload).to_vec();
    let from_daemon = |kind, seq| Datagram::new(kind, seq, None, &[]).to_vec();

    let asked = Instant::now();
    grader.send(d.udp, &from_grader(Kind::Syn, Seq::Zero, &[]));
    grader.expect(d.udp, &from_daemon(Kind::SynAck, Seq::Zero), "SYN+ACK within 2 s");
    assert!(asked.elapsed() < Duration::from_secs(2), "SYN+ACK after {:?}", asked.elapsed());
    grader.send(d.udp, &from_grader(Kind::Ack, Seq::Zero, &[]));

    grader.send(d.udp, &from_grader(Kind::Chat, Seq::Zero, b"first"));
    grader.expect(d.udp, &from_daemon(Kind::Ack, Seq::Zero), "ACK echoing chat seq 0");
    grader.send(d.udp, &from_grader(Kind::Chat, Seq::One, b"second"));
    grader.expect(d.udp, &from_daemon(Kind::Ack, Seq::One), "ACK echoing chat seq 1");

    grader.send(d.udp, &from_grader(Kind::Fin, Seq::Zero, &[]));
    grader.expect(d.udp, &from_daemon(Kind::Ack, Seq::Zero), "ACK to the FIN");
}

#[tokio::test]
async fn a_client_port_taken_over_udp_is_reported_naming_the_address() {
    let taken = UdpSocket::bind((ip(7, 51), 0)).expect("bind a port to take");
    let addr = taken.local_addr().expect("its address");
    let mut config = simpd::DaemonConfig::new(ip(7, 51));
    config.port = 0;
    config.client_port = addr.port();
    let error = simpd::Daemon::bind(config).await.expect_err("the client port's UDP side is taken").to_string();
    assert!(error.contains(&format!("UDP {addr}")) && error.contains("in use"), "{error}");
    assert!(error.contains("--client-port"), "the message says what to change: {error}");
}

#[tokio::test]
async fn a_course_client_from_another_host_is_refused_unless_allowed() {
    // One machine has no remote host: the test names 127.0.7.69 "remote" by configuration, as
    // the TCP side's test does (hostile_ipc.rs); both sides follow the same policy.
    fn only_69_is_remote(ip: std::net::IpAddr) -> bool {
        ip != common::ip(7, 69)
    }
    let strict = start_daemon(ip(7, 61), |c| c.is_local_client = only_69_is_remote);
    let open = start_daemon(ip(7, 62), |c| {
        c.is_local_client = only_69_is_remote;
        c.allow_remote_clients = true;
    });

    let mut remote = CourseClient::new(69, &strict);
    remote.send("connect|username=mallory");
    remote.expect_silence(Duration::from_millis(300));
    // The slot stayed free: a local course client gets it.
    let mut local = CourseClient::new(63, &strict);
    local.send("connect|username=alice");
    local.expect("ok");

    let mut allowed = CourseClient::new(69, &open);
    allowed.send("connect|username=bob");
    allowed.expect("ok");
    allowed.send("quit");
    allowed.expect("ok");
}
