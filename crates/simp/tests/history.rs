//! Stored messages end to end (issue 13 "History", and "Messages stored while no client was
//! attached are stamped with the time of attaching"): two real in-process daemons on
//! 127.0.61.x, a message that reaches alice's daemon while her client is gone, then shown later
//! at its time of arrival — by `simp history` through a pipe, by the full-screen interface
//! (its drawing, against ratatui's `TestBackend`, fed by a real connection) and by plain mode.
//!
//! `cargo nextest run -p simp --test history`

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use chrono::{DateTime, Local};
use common::{next_matching, Simp, WAIT};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use serde_json::Value;
use simp::app::App;
use simp::conn::{self, CommandWriter, EventReader};
use simp::tui::keys::UiState;
use simp_proto::ipc::{Command, Event, StateName};

fn ip(host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 61, host))
}

/// A daemon on `ip` (free ports, an in-memory store) running on this test's runtime;
/// returns its peer and client addresses.
async fn daemon(ip: IpAddr) -> (SocketAddr, SocketAddr) {
    let mut config = simpd::DaemonConfig::new(ip);
    config.port = 0;
    config.client_port = 0;
    let daemon = simpd::Daemon::bind(config).await.expect("the daemon binds");
    let addrs = (daemon.udp_addr(), daemon.client_addr());
    tokio::spawn(daemon.run(std::future::pending()));
    addrs
}

/// A raw IPC client, attached as `user`.
async fn attach(addr: SocketAddr, user: &str) -> (EventReader, CommandWriter) {
    let (mut reader, mut writer) = conn::connect(addr).await.expect("the daemon answers");
    writer.send(&Command::Connect { user: user.into() }).await.unwrap();
    next_matching(&mut reader, |e| matches!(e, Event::Connected { .. })).await;
    (reader, writer)
}

/// Alice attached to the daemon at `a_client`, bob to the one at `b_client`; bob calls alice
/// (at `a_udp`), she accepts: both clients, the chat established.
async fn chat(
    a_client: SocketAddr,
    a_udp: SocketAddr,
    b_client: SocketAddr,
) -> ((EventReader, CommandWriter), (EventReader, CommandWriter)) {
    let (mut alice, mut alice_w) = attach(a_client, "alice").await;
    let (mut bob, mut bob_w) = attach(b_client, "bob").await;
    bob_w.send(&Command::Start { peer: a_udp.to_string() }).await.unwrap();
    next_matching(&mut alice, |e| matches!(e, Event::Request { .. })).await;
    alice_w.send(&Command::Accept).await.unwrap();
    next_matching(&mut alice, |e| matches!(e, Event::Established { .. })).await;
    next_matching(&mut bob, |e| matches!(e, Event::Established { .. })).await;
    ((alice, alice_w), (bob, bob_w))
}

fn millis_now() -> u64 {
    u64::try_from(Local::now().timestamp_millis()).unwrap()
}

/// `at` (milliseconds since the epoch) as local time with this format.
fn local(at: u64, format: &str) -> String {
    DateTime::from_timestamp_millis(i64::try_from(at).unwrap())
        .unwrap()
        .with_timezone(&Local)
        .format(format)
        .to_string()
}

/// The output of `simp ARGS`, which must exit 0.
async fn run_simp(args: &[&str]) -> Vec<String> {
    let mut child = Simp::spawn(args);
    drop(child.stdin.take());
    let mut lines = Vec::new();
    let out = child.read_to_end().await;
    lines.extend(out.lines().map(str::to_owned));
    let (code, stderr) = child.finish().await;
    assert_eq!(code, 0, "simp {args:?} failed: {stderr}");
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_stored_while_no_client_was_attached_is_shown_later_at_its_arrival_time() {
    let (a_udp, a_client) = daemon(ip(1)).await;
    let (b_udp, b_client) = daemon(ip(2)).await;
    let port = a_client.port().to_string();
    let daemon_ip = a_client.ip().to_string();

    // Alice calls bob; a first exchange, read and confirmed by alice's client.
    let ((mut alice, mut alice_w), (mut bob, mut bob_w)) = chat(a_client, a_udp, b_client).await;
    alice_w.send(&Command::Chat { text: "hello bob".into(), id: Some("1".into()), utf8: None }).await.unwrap();
    next_matching(&mut alice, |e| matches!(e, Event::Delivered { .. })).await;
    bob_w.send(&Command::Chat { text: "hi alice".into(), id: Some("1".into()), utf8: None }).await.unwrap();
    let Event::Message { id, .. } = next_matching(&mut alice, |e| matches!(e, Event::Message { .. })).await else {
        unreachable!()
    };
    alice_w.send(&Command::Seen { ids: vec![id] }).await.unwrap();

    // Then a message alice's client never reads: it goes away, and the message waits.
    let sent_from = millis_now();
    let text = "are you\tthere? café".to_owned();
    bob_w.send(&Command::Chat { text, id: Some("2".into()), utf8: Some(true) }).await.unwrap();
    next_matching(&mut bob, |e| matches!(e, Event::Delivered { id } if id == "2")).await;
    let delivered_by = millis_now();
    drop((alice, alice_w));
    next_matching(&mut bob, |e| matches!(e, Event::Ended { .. })).await;
    // Attaching comes over a second later: an attach-time stamp would show another second.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let attached_from = millis_now();

    // simp history, as JSON: the store's arrival time, between sending and the delivery mark.
    let json = run_simp(&["history", "--json", "--port", &port, "--daemon-ip", &daemon_ip]).await;
    assert_eq!(json.len(), 3, "{json:?}");
    let last: Value = serde_json::from_str(&json[2]).unwrap();
    assert_eq!((last["event"].as_str(), last["outcome"].as_str()), (Some("history"), Some("unseen")));
    let at = last["at"].as_u64().unwrap();
    assert!((sent_from..=delivered_by).contains(&at), "{at} is not in {sent_from}..={delivered_by}");
    let (arrived, attached) = (local(at, "%H:%M:%S"), local(attached_from, "%H:%M:%S"));
    assert_ne!(arrived, attached);

    // simp history as text, for a peer: one line each, the arrival's date and time.
    let text = run_simp(&["history", "127.0.61.9", "--port", &port, "--daemon-ip", &daemon_ip]).await;
    assert_eq!(text, Vec::<String>::new(), "nothing with a peer never called");
    let peer = b_udp.to_string();
    let text = run_simp(&["history", &peer, "-n", "2", "--port", &port, "--daemon-ip", &daemon_ip]).await;
    let when = local(at, "%Y-%m-%d %H:%M:%S");
    let bob_peer = json_peer(&json[2]);
    assert_eq!(bob_peer, peer);
    assert_eq!(
        text,
        [
            format!("{} from {bob_peer} bob: hi alice", local(json_at(&json[1]), "%Y-%m-%d %H:%M:%S")),
            format!("{when} from {bob_peer} bob: are you there? café (unread)"),
        ],
        "-n 2: the last two, escaped, still unread (simp history confirms nothing)"
    );

    // The full-screen interface, fed by a real connection: the message at its arrival time,
    // under the unread line.
    let (mut reader, mut writer) = conn::connect(a_client).await.unwrap();
    let (mut app, cmds) = App::with_user("alice", simp::event_loop::now());
    app.set_history(true);
    writer.send_all(&cmds).await.unwrap();
    while !app.log().iter().any(|e| matches!(&e.kind, simp::log::EntryKind::Incoming { .. })) {
        let event = next_matching(&mut reader, |_| true).await;
        // No `seen` goes out: the message stays unread for plain mode below.
        app.on_event(event, simp::event_loop::now());
    }
    let mut terminal = Terminal::new(TestBackend::new(80, 10)).unwrap();
    terminal.draw(|f| simp::tui::ui::draw(f, &app, &mut UiState::new())).unwrap();
    let buf = terminal.backend().buffer().clone();
    let rows: Vec<String> = (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect::<String>().trim_end().to_owned())
        .collect();
    let row = rows.iter().position(|r| r.contains("bob: are you")).expect("the message on screen");
    assert_eq!(rows[row], format!("{arrived} bob: are you there? café"), "{rows:#?}");
    assert_eq!(rows[row - 1].trim(), "──── unread ────", "{rows:#?}");
    writer.send(&Command::Quit).await.unwrap();
    drop((reader, writer));

    // Plain mode: the same time; it confirms what it shows.
    let mut plain = Simp::spawn(&["--plain", "--port", &port, "--user", "alice", &daemon_ip]);
    let line = plain.expect("bob: are you").await;
    assert_eq!(line, format!("[{arrived}] bob: are you there? café"));
    plain.type_line("q").await;
    let (code, stderr) = plain.finish().await;
    assert_eq!(code, 0, "{stderr}");
    let text = run_simp(&["history", "-n", "1", "--port", &port, "--daemon-ip", &daemon_ip]).await;
    assert_eq!(text, [format!("{when} from {bob_peer} bob: are you there? café")], "seen now");
}

fn json_at(line: &str) -> u64 {
    serde_json::from_str::<Value>(line).unwrap()["at"].as_u64().unwrap()
}

fn json_peer(line: &str) -> String {
    serde_json::from_str::<Value>(line).unwrap()["peer"].as_str().unwrap().to_owned()
}

/// `simp history` only reads (IPC.md "Access"): it prints the store while the user's own
/// client is attached and chatting, and while a call rings with no client attached, and
/// neither notices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simp_history_reads_during_a_chat_and_a_ringing_call_and_disturbs_neither() {
    let (a_udp, a_client) = daemon(ip(11)).await;
    let (b_udp, b_client) = daemon(ip(12)).await;
    let port = a_client.port().to_string();
    let daemon_ip = a_client.ip().to_string();
    let ((mut alice, mut alice_w), (mut bob, mut bob_w)) = chat(a_client, a_udp, b_client).await;
    bob_w.send(&Command::Chat { text: "one".into(), id: Some("1".into()), utf8: None }).await.unwrap();
    next_matching(&mut alice, |e| matches!(e, Event::Message { text, .. } if text == "one")).await;
    alice_w.send(&Command::Chat { text: "two".into(), id: Some("2".into()), utf8: None }).await.unwrap();
    next_matching(&mut alice, |e| matches!(e, Event::Delivered { id } if id == "2")).await;

    // Alice's client is attached and chatting: simp history prints the store all the same.
    let peer = b_udp.to_string();
    let lines = run_simp(&["history", &peer, "--port", &port, "--daemon-ip", &daemon_ip]).await;
    let tails: Vec<&str> = lines.iter().map(|l| l.split_once(&peer).map_or("", |(_, rest)| rest)).collect();
    assert_eq!(tails, [" bob: one (unread)", " alice: two ✓"], "{lines:?}");

    // Her session saw nothing of it, and goes on.
    alice_w.send(&Command::Status).await.unwrap();
    let next = next_matching(&mut alice, |_| true).await;
    assert!(matches!(&next, Event::Status(s) if s.state == StateName::Chatting), "{next:?}");
    bob_w.send(&Command::Chat { text: "three".into(), id: Some("3".into()), utf8: None }).await.unwrap();
    let next = next_matching(&mut alice, |_| true).await;
    assert!(matches!(&next, Event::Message { text, .. } if text == "three"), "{next:?}");

    // Alice's client goes; bob calls again: the call rings with no client attached.
    alice_w.send(&Command::Quit).await.unwrap();
    while let Ok(Ok(Some(_))) = tokio::time::timeout(WAIT, alice.next()).await {}
    drop((alice, alice_w));
    next_matching(&mut bob, |e| matches!(e, Event::Ended { .. })).await;
    bob_w.send(&Command::Start { peer: a_udp.to_string() }).await.unwrap();
    next_matching(&mut bob, |e| matches!(e, Event::Calling { .. })).await;
    let lines = run_simp(&["history", "-n", "1", "--port", &port, "--daemon-ip", &daemon_ip]).await;
    assert!(lines.len() == 1 && lines[0].ends_with(" bob: three (unread)"), "{lines:?}");
    // The call still rings: alice, attaching now, is asked.
    let (mut alice, _alice_w) = attach(a_client, "alice").await;
    next_matching(&mut alice, |e| matches!(e, Event::Request { user, .. } if user == "bob")).await;

    let mut bad = Simp::spawn(&["history", "not-a-contact", "--port", &port, "--daemon-ip", &daemon_ip]);
    drop(bad.stdin.take());
    let (code, stderr) = bad.finish().await;
    assert_eq!(code, 1);
    assert!(stderr.contains("neither an address nor a contact's name"), "{stderr}");
}
