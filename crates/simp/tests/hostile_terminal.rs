//! Terminal safety end to end: a hostile peer (a raw UDP socket in the test) sends a real
//! `simpd` ANSI escapes, NUL, bytes above 0x7F, a 65,000-byte message and a 32-byte name with
//! no NUL. The real `simp --plain` prints them escaped and intact, one line each; the
//! full-screen interface, fed the very events that daemon sends, draws them escaped on
//! ratatui's `TestBackend` (127.0.27.x).
//!
//! `cargo nextest run -p simp --test hostile_terminal`

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use chrono::NaiveDateTime;
use common::{Simp, WAIT};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use simp::app::App;
use simp::tui::keys::UiState;
use simp_proto::ipc::Event;
use simp_proto::wire::{self, Datagram, Kind, Seq};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn ip(host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 27, host))
}

/// A 32-byte name, no NUL: escapes, DEL, bytes above 0x7F, filled up with 'Z'.
fn hostile_name() -> Vec<u8> {
    let mut name = b"\x1b[31mEVIL\x9b\xff\x7f\x08".to_vec();
    name.resize(wire::USER_LEN, b'Z');
    name
}

/// The payloads, in order: ANSI (clear screen, home, retitle), NUL, every byte above 0x7F,
/// 65,000 printable bytes ending in a marker.
fn hostile_payloads() -> Vec<Vec<u8>> {
    let mut long: Vec<u8> = (0..65_000 - 4).map(|i| b"0123456789abcdefghijklmnopqrstuvwxyz"[i % 36]).collect();
    long.extend_from_slice(b"!END");
    vec![b"\x1b[2J\x1b[H\x1b]0;pwned\x07text".to_vec(), b"nul\x00inside\x00".to_vec(), (0x80..=0xFFu8).collect(), long]
}

/// A `simpd` on its own thread (port 0); returns its UDP and client addresses.
fn start_daemon(host: u8) -> (SocketAddr, SocketAddr) {
    let mut config = simpd::DaemonConfig::new(ip(host));
    config.port = 0;
    config.client_port = 0;
    config.endpoint.timeout = Duration::from_millis(200);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let daemon = simpd::Daemon::bind(config).await.expect("daemon binds");
            tx.send((daemon.udp_addr(), daemon.client_addr())).expect("test waits");
            daemon.run(std::future::pending()).await.expect("daemon runs");
        });
    });
    rx.recv_timeout(WAIT).expect("daemon did not bind")
}

/// The hostile peer: calls `daemon`, completes the handshake once accepted, then sends every
/// payload, each after the ACK of the one before.
fn hostile_peer(daemon: SocketAddr, host: u8) -> std::thread::JoinHandle<()> {
    let socket = UdpSocket::bind((ip(host), 0)).expect("peer binds");
    socket.set_read_timeout(Some(WAIT)).expect("timeout");
    std::thread::spawn(move || {
        let name = hostile_name();
        let datagram = |kind: Kind, seq: Seq, payload: &[u8]| {
            let mut bytes = Datagram::new(kind, seq, None, payload).to_vec();
            bytes[3..3 + wire::USER_LEN].copy_from_slice(&name);
            bytes
        };
        let recv = |want: Kind, seq: Seq| {
            let mut buf = vec![0u8; 65_536];
            loop {
                let (n, _) = socket.recv_from(&mut buf).unwrap_or_else(|e| panic!("peer waited for {want:?}: {e}"));
                if Datagram::parse(&buf[..n]).is_ok_and(|d| d.kind() == want && d.seq() == seq) {
                    return;
                }
            }
        };
        socket.send_to(&datagram(Kind::Syn, Seq::Zero, b""), daemon).expect("send");
        recv(Kind::SynAck, Seq::Zero);
        socket.send_to(&datagram(Kind::Ack, Seq::Zero, b""), daemon).expect("send");
        for (i, payload) in hostile_payloads().iter().enumerate() {
            let seq = if i % 2 == 0 { Seq::Zero } else { Seq::One };
            socket.send_to(&datagram(Kind::Chat, seq, payload), daemon).expect("send");
            recv(Kind::Ack, seq);
        }
    })
}

/// Every character a terminal would act on rather than show.
fn assert_inert(line: &str) {
    assert!(!line.chars().any(char::is_control), "a control character reached the terminal: {line:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_prints_hostile_text_escaped_and_intact() {
    let (udp, client) = start_daemon(1);
    let mut simp =
        Simp::spawn(&["--plain", "--user", "alice", "--port", &client.port().to_string(), &ip(1).to_string()]);
    simp.expect("* connected to daemon").await;
    simp.expect("[s] start a chat").await;
    simp.type_line("w").await;
    simp.expect("waiting for a call").await;
    let peer = hostile_peer(udp, 2);

    let name = wire::escape_name(&hostile_name());
    assert_eq!(name, "\\x1b[31mEVIL\\x9b\\xff\\x7f\\x08ZZZZZZZZZZZZZZZZZZZ"); // 13 bytes, then 19 Z
    let request = simp.expect("* request from").await;
    assert_inert(&request);
    assert!(request.contains(&format!("* request from {name} at ")), "{request}");
    simp.expect("accept? [y/n/q]").await;
    simp.type_line("y").await;
    let open = simp.expect("open").await;
    assert!(open.contains(&format!("* chat with {name} at ")), "{open}");
    for payload in hostile_payloads() {
        let text = wire::escape(&payload);
        let line = simp.expect(&format!("] {name}: ")).await;
        assert_inert(&line);
        assert!(line.ends_with(&format!("] {name}: {text}")), "expected the escaped text intact, got {line:?}");
    }
    tokio::task::spawn_blocking(move || peer.join()).await.expect("join").expect("the hostile peer failed");
    simp.type_line("/quit").await;
    let (code, stderr) = simp.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_screen_interface_draws_what_the_daemon_sends_escaped() {
    let (udp, client) = start_daemon(11);
    // A raw JSON Lines client collects what the daemon tells its user.
    let stream =
        tokio::time::timeout(WAIT, tokio::net::TcpStream::connect(client)).await.expect("in time").expect("connect");
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"{\"cmd\":\"connect\",\"user\":\"alice\"}\n").await.expect("write");
    let peer = hostile_peer(udp, 12);
    let (mut app, _) = App::with_user("alice", NaiveDateTime::MIN);
    let mut messages = 0;
    while messages < hostile_payloads().len() {
        let line = tokio::time::timeout(WAIT, lines.next_line()).await.expect("an event in time").expect("read");
        let event: Event = serde_json::from_str(&line.expect("the daemon closed")).expect("an IPC event");
        match &event {
            Event::Request { .. } => write.write_all(b"{\"cmd\":\"accept\"}\n").await.expect("write"),
            Event::Message { .. } => messages += 1,
            _ => {}
        }
        app.on_event(event, NaiveDateTime::MIN);
    }
    tokio::task::spawn_blocking(move || peer.join()).await.expect("join").expect("the hostile peer failed");

    let mut ui = UiState::new();
    for (width, height) in [(120, 40), (80, 24), (37, 9)] {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
        terminal.draw(|f| simp::tui::ui::draw(f, &app, &mut ui)).expect("draw");
        let buf = terminal.backend().buffer().clone();
        let rows: Vec<String> =
            (0..height).map(|y| (0..width).map(|x| buf[(x, y)].symbol()).collect::<String>()).collect();
        for row in &rows {
            assert_inert(row);
            assert_eq!(row.chars().count(), usize::from(width), "a row of the wrong width: {row:?}");
        }
        let screen = rows.join("\n");
        // The bottom of the log: the end of the 65,000-byte message, wrapped (maybe mid-word).
        let squeezed: String = screen.split_whitespace().collect();
        assert!(squeezed.contains("!END"), "the long message's end is not on screen:\n{screen}");
        assert!(screen.contains("\\x1b[31mEVIL"), "the peer's escaped name is not on screen:\n{screen}");
    }
    // The whole log, scrolled back to its top, shows every payload escaped and intact.
    let log: String = simp::tui::ui::log_lines(app.log(), 120)
        .0
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect::<String>())
        .collect::<Vec<_>>()
        .join("");
    for payload in hostile_payloads() {
        let text = wire::escape(&payload);
        let squeezed: String = text.split_whitespace().collect();
        let log_squeezed: String = log.split_whitespace().collect();
        assert!(
            log_squeezed.contains(&squeezed),
            "payload missing from the drawn log: {}",
            &text[..text.len().min(80)]
        );
    }
}
