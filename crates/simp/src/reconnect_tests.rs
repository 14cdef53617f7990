//! The full-screen interface's event loop when its daemon is killed (SIGKILL) and started
//! again on the same address and state directory (issue 13, "a client people keep open"): the
//! screen and its scrollback stay, the status bar and a line say the daemon is gone and that
//! the client reconnects, the restart command is the daemon's own command line, and once the
//! daemon is back the client connects again by itself, says so, and chats on.
//!
//! The daemon must be a process of its own to be killed: the test binary runs itself as the
//! daemon (the ignored test `child_daemon`). The app runs through [`event_loop::run`] with a
//! front drawing on ratatui's `TestBackend`.
//!
//! `cargo nextest run -p simp -E 'test(reconnect_tests)'`

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use simp_proto::ipc::{Command, Event};
use tokio::sync::{mpsc, watch};

use crate::app::{App, Phase};
use crate::conn::{self, Incoming};
use crate::event_loop::{self, Front, Input, Setup};
use crate::log::{Delivery, EntryKind};
use crate::tui::{keys::UiState, ui};

const IP_ENV: &str = "SIMP_TEST_RECONNECT_DAEMON_IP";
const DIR_ENV: &str = "SIMP_TEST_RECONNECT_STATE_DIR";
/// Bound on every wait: the reconnection takes one to three seconds.
const WAIT: Duration = Duration::from_secs(15);

/// Not a test: the daemon process, on the IP and state directory its environment names, on
/// the default ports so that a restart is on the same address.
#[test]
#[ignore = "a helper process, started by a_killed_daemon_is_reconnected_to_with_the_screen_kept"]
fn child_daemon() {
    let ip: IpAddr = std::env::var(IP_ENV).expect("run by the parent test only").parse().expect("an IP");
    let mut config = simpd::DaemonConfig::new(ip);
    config.state_dir = Some(PathBuf::from(std::env::var(DIR_ENV).expect("a state directory")));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let daemon = simpd::Daemon::bind(config).await.expect("daemon binds");
        println!("CHILD-DAEMON-UP");
        daemon.run(std::future::pending()).await.expect("daemon runs");
    });
}

/// Starts the daemon process; returns once it has bound its ports.
fn spawn_daemon(ip: IpAddr, dir: &std::path::Path) -> Child {
    let mut child = Process::new(std::env::current_exe().expect("test binary path"))
        .args(["reconnect_tests::child_daemon", "--exact", "--ignored", "--nocapture"])
        .env(IP_ENV, ip.to_string())
        .env(DIR_ENV, dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the daemon process starts");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("CHILD-DAEMON-UP") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(WAIT).is_err() {
        let _ = child.kill();
        let mut why = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut why);
        }
        panic!("the daemon process did not come up within {WAIT:?} (its addresses in use?): {why}");
    }
    child
}

/// What the test sees of the session after each `show`.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    screen: String,
    log: Vec<String>,
    phase: Option<Phase>,
}

/// A front drawing on a `TestBackend`, fed lines by the test.
struct TestFront {
    terminal: Terminal<TestBackend>,
    ui: UiState,
    lines: mpsc::UnboundedReceiver<String>,
    seen: watch::Sender<Snapshot>,
}

impl Front for TestFront {
    const HISTORY: bool = true;
    const RECONNECT: bool = true;

    async fn input(&mut self, _phase: &Phase) -> std::io::Result<Input> {
        match self.lines.recv().await {
            Some(line) => Ok(Input::Line(line)),
            None => std::future::pending().await,
        }
    }

    fn show(&mut self, app: &mut App) -> std::io::Result<()> {
        app.take_changes();
        app.take_prompt();
        let ui = &mut self.ui;
        let Ok(_) = self.terminal.draw(|frame| ui::draw(frame, app, ui));
        let buffer = self.terminal.backend().buffer();
        let width = usize::from(buffer.area.width);
        let cells: Vec<&str> = buffer.content.iter().map(ratatui::buffer::Cell::symbol).collect();
        let screen = cells.chunks(width).map(|row| row.concat()).collect::<Vec<_>>().join("\n");
        let log = app.log().iter().map(|e| line_of(&e.kind)).collect();
        self.seen.send_replace(Snapshot { screen, log, phase: Some(app.phase().clone()) });
        Ok(())
    }
}

fn line_of(kind: &EntryKind) -> String {
    match kind {
        EntryKind::Incoming { user, lines } => format!("{user}: {}", lines.join(" ")),
        EntryKind::Outgoing { user, lines, delivery, .. } => {
            let mark = match delivery {
                Delivery::Delivered => " ✓",
                Delivery::Pending => " …",
                Delivery::Undelivered(_) => " ✗",
            };
            format!("{user}: {}{mark}", lines.join(" "))
        }
        other => format!("{other:?}"),
    }
}

/// Waits until a snapshot satisfies `what`.
async fn until(seen: &mut watch::Receiver<Snapshot>, why: &str, what: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let found = tokio::time::timeout(WAIT, async { seen.wait_for(|s| what(s)).await.map(|s| s.clone()) }).await;
    match found {
        Ok(Ok(snapshot)) => snapshot,
        _ => panic!("{why}: not within {WAIT:?}; last: {:#?}", *seen.borrow()),
    }
}

/// Bob's IPC client on his in-process daemon: the next event of a kind.
async fn bob_expects(bob: &mut mpsc::Receiver<Result<Option<Incoming>, conn::ConnError>>, want: fn(&Event) -> bool) {
    let got = tokio::time::timeout(WAIT, async {
        while let Some(Ok(Some(item))) = bob.recv().await {
            if matches!(&item, Incoming::Event(e) if want(e)) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(got, Ok(true), "bob's client did not get the event");
}

#[tokio::test]
async fn a_killed_daemon_is_reconnected_to_with_the_screen_kept() {
    let (alice_ip, bob_ip) = (IpAddr::V4(Ipv4Addr::new(127, 0, 29, 1)), IpAddr::V4(Ipv4Addr::new(127, 0, 29, 2)));
    let dir = std::env::temp_dir().join(format!("simp-reconnect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("state dir");
    let mut daemon = spawn_daemon(alice_ip, &dir);

    // Bob: an in-process daemon that accepts every call and notices a dead peer quickly.
    let mut config = simpd::DaemonConfig::new(bob_ip);
    config.endpoint.auto_accept = true;
    config.endpoint.timeout = Duration::from_millis(100);
    config.endpoint.retries = 3;
    let bob_daemon = simpd::Daemon::bind(config).await.expect("bob's daemon binds");
    let bob_client = bob_daemon.client_addr();
    tokio::spawn(bob_daemon.run(std::future::pending()));
    let (bob_reader, mut bob_writer) = conn::connect(bob_client).await.expect("bob's client connects");
    let mut bob = bob_reader.spawn();
    bob_writer.send(&Command::Connect { user: "bob".into() }).await.expect("bob connects");

    let alice_daemon = SocketAddr::new(alice_ip, simp_proto::ipc::DEFAULT_CLIENT_PORT);
    let (reader, writer) = conn::connect(alice_daemon).await.expect("alice's client connects");
    let alice_end = writer.local_addr().expect("local address");
    let (type_line, lines) = mpsc::unbounded_channel();
    let (seen_tx, mut seen) = watch::channel(Snapshot::default());
    let mut front = TestFront {
        terminal: Terminal::new(TestBackend::new(120, 30)).expect("test terminal"),
        ui: UiState::new(),
        lines,
        seen: seen_tx,
    };
    let session = tokio::spawn(async move {
        event_loop::run(&mut front, alice_daemon, reader, writer, &["alice".into()], &Setup::default()).await
    });
    let chatting = |s: &Snapshot| matches!(s.phase, Some(Phase::Chatting { .. }));

    until(&mut seen, "alice connects", |s| s.phase == Some(Phase::Menu)).await;
    // What the restart command is made of: the process holding the daemon's end of alice's
    // connection (accepted: it answered) is found, with its command line.
    let found = crate::daemon_process::command_line(alice_daemon, alice_end).unwrap_or_default().join(" ");
    assert!(found.ends_with(" reconnect_tests::child_daemon --exact --ignored --nocapture"), "{found:?}");
    type_line.send(bob_ip.to_string()).expect("typed");
    until(&mut seen, "the chat opens", chatting).await;
    bob_writer.send(&Command::Chat { text: "before the crash".into(), id: None, utf8: None }).await.expect("sent");
    type_line.send("hello bob".into()).expect("typed");
    until(&mut seen, "both messages shown, hello delivered", |s| {
        s.log.iter().any(|l| l == "bob: before the crash") && s.log.iter().any(|l| l == "alice: hello bob ✓")
    })
    .await;

    daemon.kill().expect("SIGKILL");
    daemon.wait().expect("reaped");
    let gone = until(&mut seen, "the loss is shown", |s| matches!(s.phase, Some(Phase::Reconnecting { .. }))).await;
    assert!(gone.screen.contains("daemon at 127.0.29.1:7778 gone; reconnecting…"), "status bar:\n{}", gone.screen);
    assert!(gone.screen.contains("bob: before the crash"), "the scrollback stays:\n{}", gone.screen);
    let said = gone.log.iter().find(|l| l.contains("is gone; reconnecting")).cloned().unwrap_or_default();
    // The daemon here is a test binary, not simpd: its own command line is not offered.
    assert!(said.contains("start it again with `simpd 127.0.29.1`"), "{said}");
    assert!(gone.log.iter().any(|l| l.contains("chat with bob ended: the daemon went away")), "{:#?}", gone.log);
    type_line.send("into the void".into()).expect("typed");
    until(&mut seen, "a line typed meanwhile is refused", |s| s.log.iter().any(|l| l.contains("not sent: simpd")))
        .await;

    // Bob's daemon gives the dead chat up; then alice's daemon comes back on its state.
    bob_writer.send(&Command::Chat { text: "anyone?".into(), id: None, utf8: None }).await.expect("sent");
    bob_expects(&mut bob, |e| matches!(e, Event::Ended { .. })).await;
    let mut daemon = spawn_daemon(alice_ip, &dir);
    let back = until(&mut seen, "the client reconnects by itself", |s| {
        s.phase == Some(Phase::Menu) && s.log.iter().any(|l| l.contains("reconnected to daemon"))
    })
    .await;
    assert_eq!(back.log.iter().filter(|l| *l == "bob: before the crash").count(), 1, "shown once: {:#?}", back.log);

    type_line.send(bob_ip.to_string()).expect("typed");
    until(&mut seen, "a new chat opens", chatting).await;
    type_line.send("after the restart".into()).expect("typed");
    until(&mut seen, "delivered", |s| s.log.iter().any(|l| l == "alice: after the restart ✓")).await;
    bob_expects(&mut bob, |e| matches!(e, Event::Message { text, .. } if text == "after the restart")).await;

    type_line.send("/quit".into()).expect("typed");
    let ended = tokio::time::timeout(WAIT, session).await.expect("the session ends").expect("no panic");
    assert!(ended.is_ok(), "{ended:?}");
    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_message_the_daemon_delivers_again_after_reconnecting_is_shown_once() {
    let now = crate::app::test_time(12, 0, 0);
    let (mut app, _) = App::with_user("alice", now);
    app.on_event(
        Event::Connected { user: "alice".into(), daemon: "127.0.0.1:7777".parse().unwrap(), version: "0".into() },
        now,
    );
    let message = crate::app::test_message("bob", "once", now);
    app.on_event(message.clone(), now);
    app.daemon_lost("127.0.0.1:7778".parse().unwrap(), "simpd 127.0.0.1", now);
    assert!(matches!(app.phase(), Phase::Reconnecting { .. }));
    assert_eq!(app.on_line("hello", now), Vec::new(), "nothing is sent while the daemon is away");
    assert_eq!(app.reconnected(now), vec![Command::Connect { user: "alice".into() }]);
    app.on_event(
        Event::Connected { user: "alice".into(), daemon: "127.0.0.1:7777".parse().unwrap(), version: "0".into() },
        now,
    );
    assert_eq!(*app.phase(), Phase::Menu);
    // The seen sent for it may have been lost with the daemon: it comes again, is confirmed,
    // and is not shown again.
    let confirm = app.on_event(message, now);
    assert!(matches!(confirm.as_slice(), [Command::Seen { .. }]), "{confirm:?}");
    let shown =
        app.log().iter().filter(|e| matches!(&e.kind, EntryKind::Incoming { lines, .. } if lines == &["once"])).count();
    assert_eq!(shown, 1);
}

#[test]
fn a_message_queued_before_the_daemon_went_away_gets_its_outcome_on_its_own_line() {
    let now = crate::app::test_time(12, 0, 0);
    let connected =
        || Event::Connected { user: "alice".into(), daemon: "127.0.0.1:7777".parse().unwrap(), version: "0".into() };
    let (mut app, _) = App::with_user("alice", now);
    app.on_event(connected(), now);
    app.on_line("127.0.0.2", now);
    app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, now);
    app.on_line("queued one", now);
    app.on_line("never taken", now);
    app.on_event(Event::Queued { id: "1".into() }, now);
    app.daemon_lost("127.0.0.1:7778".parse().unwrap(), "simpd 127.0.0.1", now);
    app.reconnected(now);
    app.on_event(connected(), now);
    // The restarted daemon kept it (same state directory): held under this client's id.
    let held =
        Event::Held { id: "1".into(), peer: "127.0.0.2:7777".parse().unwrap(), text: "queued one".into(), at: 0 };
    app.on_event(held, now);
    app.on_event(Event::Delivered { id: "1".into() }, now);
    let marks: Vec<(String, Delivery)> = app
        .log()
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Outgoing { lines, delivery, .. } => Some((lines.join(" "), delivery.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        marks,
        [
            ("queued one".to_owned(), Delivery::Delivered),
            ("never taken".to_owned(), Delivery::Undelivered(crate::texts::DAEMON_WENT_AWAY.into())),
        ]
    );
    assert!(
        !app.log().iter().any(|e| format!("{:?}", e.kind).contains("held message to")),
        "no second line for it: {:#?}",
        app.log()
    );
}

#[test]
fn a_daemon_back_on_another_store_gives_ids_again_and_its_messages_are_shown() {
    // The daemon was started again on another state directory (not the command the client
    // suggested, or its store was removed): its ids start over. A new message under an id
    // shown before is another message (its `at` differs), shown and confirmed, not dropped.
    let now = crate::app::test_time(12, 0, 0);
    let connected =
        || Event::Connected { user: "alice".into(), daemon: "127.0.0.1:7777".parse().unwrap(), version: "0".into() };
    let message = |id: u64, at: u64, text: &str| Event::Message { id, at, user: "bob".into(), text: text.into() };
    let (mut app, _) = App::with_user("alice", now);
    app.on_event(connected(), now);
    app.on_event(message(1, 1_000, "first run, one"), now);
    app.on_event(message(2, 2_000, "first run, two"), now);
    app.daemon_lost("127.0.0.1:7778".parse().unwrap(), "simpd 127.0.0.1", now);
    app.reconnected(now);
    app.on_event(connected(), now);
    let confirm = app.on_event(message(1, 9_000, "new store, one"), now);
    assert_eq!(confirm, vec![Command::Seen { ids: vec![1] }]);
    let texts: Vec<String> = app
        .log()
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Incoming { lines, .. } => Some(lines.join(" ")),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["first run, one", "first run, two", "new store, one"]);
}
