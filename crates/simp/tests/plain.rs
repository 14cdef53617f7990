//! The real `simp` binary in plain mode, driven through pipes against a fake daemon that
//! speaks JSON Lines on a loopback port. Every wait is bounded and fails with what was seen.

mod common;

use common::{FakeDaemon, Simp};
use serde_json::json;

#[tokio::test]
async fn a_whole_chat_through_pipes() {
    let (listener, port) = FakeDaemon::listen().await;
    let mut simp = Simp::spawn(&["--plain", "--port", &port.to_string(), "127.0.0.1"]);
    let mut daemon = FakeDaemon::accept(&listener).await;

    simp.expect("your name?").await;
    simp.type_line("alice").await;
    daemon.expect(json!({"cmd":"connect","user":"alice"})).await;
    daemon.send(json!({"event":"connected","user":"alice","daemon":"127.0.0.1:7777","version":"0.1.0"})).await;
    let line = simp.expect("* connected to daemon").await;
    assert!(line.ends_with("] * connected to daemon 127.0.0.1:7777 as alice"), "{line}");
    assert!(line.starts_with('[') && line.as_bytes()[9] == b']', "timestamp [HH:MM:SS]: {line}");
    simp.expect("[s] start a chat, [w] wait for a call, [l] list the LAN, [q] quit").await;

    simp.type_line("s").await;
    simp.expect("peer IP").await;
    simp.type_line("127.0.0.2").await;
    daemon.expect(json!({"cmd":"start","peer":"127.0.0.2"})).await;
    daemon.send(json!({"event":"calling","peer":"127.0.0.2:7777"})).await;
    simp.expect("* calling 127.0.0.2:7777").await;
    daemon.send(json!({"event":"established","peer":"127.0.0.2:7777","user":"bob"})).await;
    simp.expect("* chat with bob at 127.0.0.2:7777 open").await;

    simp.type_line("hello").await;
    daemon.expect(json!({"cmd":"chat","text":"hello","id":"1"})).await;
    simp.expect("] alice: hello").await;
    daemon.send(json!({"event":"queued","id":"1"})).await;
    daemon.send(json!({"event":"delivered","id":"1"})).await;
    simp.expect("] ✓ delivered: hello").await;

    daemon
        .send(json!({"event":"message","id":1,"at":1_700_000_000_000u64,"user":"bob","text":"hi\u{1b}[2J\r\u{0}"}))
        .await;
    let line = simp.expect("] bob: hi").await;
    assert!(line.ends_with("bob: hi\\x1b[2J\\x0d\\x00"), "{line:?}");
    // Shown, so confirmed (IPC.md `seen`); shown once even when delivered again.
    daemon.expect(json!({"cmd":"seen","ids":[1]})).await;
    daemon
        .send(json!({"event":"message","id":1,"at":1_700_000_000_000u64,"user":"bob","text":"hi\u{1b}[2J\r\u{0}"}))
        .await;
    daemon.expect(json!({"cmd":"seen","ids":[1]})).await;

    simp.type_line("café").await;
    let line = simp.expect("! the text contains").await;
    assert!(line.contains("'é' (U+00E9)"), "{line}");
    simp.type_line("second").await;
    // Nothing was sent for the refused line: the next command is the next good one.
    daemon.expect(json!({"cmd":"chat","text":"second","id":"2"})).await;
    daemon.send(json!({"event":"undelivered","id":"2","reason":"peer unreachable"})).await;
    simp.expect("] ✗ undelivered (peer unreachable): second").await;

    simp.type_line("/leave").await;
    daemon.expect(json!({"cmd":"leave"})).await;
    daemon.send(json!({"event":"ended","reason":"you left"})).await;
    simp.expect("* chat with bob ended: you left").await;
    simp.expect("[s] start a chat").await;

    simp.type_line("q").await;
    daemon.expect(json!({"cmd":"quit"})).await;
    drop(daemon);
    let (code, stderr) = simp.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
}

#[tokio::test]
async fn a_pending_request_is_asked_and_a_vanishing_daemon_is_an_error() {
    let (mut simp, mut daemon) = bob_with_a_request_from_alice().await;
    simp.expect("request from alice at 127.0.0.2:7777 — accept? [y/n/q]").await;
    simp.type_line("y").await;
    daemon.expect(json!({"cmd":"accept"})).await;
    daemon.send(json!({"event":"established","peer":"127.0.0.2:7777","user":"alice"})).await;
    simp.expect("chat with alice at 127.0.0.2:7777 open").await;
    drop(daemon);
    let (code, stderr) = simp.finish().await;
    assert_eq!(code, 1, "stderr: {stderr}");
    assert!(stderr.contains("closed the connection") && stderr.contains("`simpd 127.0.0.1 --client-port "), "{stderr}");
}

#[tokio::test]
async fn declining_and_end_of_input_quit_cleanly() {
    let (mut simp, mut daemon) = bob_with_a_request_from_alice().await;
    simp.expect("accept? [y/n/q]").await;
    simp.type_line("n").await;
    daemon.expect(json!({"cmd":"decline"})).await;
    simp.expect("* you declined the request from alice at 127.0.0.2:7777").await;
    drop(simp.stdin.take());
    daemon.expect(json!({"cmd":"quit"})).await;
    drop(daemon);
    let (code, stderr) = simp.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
}

#[tokio::test]
async fn q_at_the_name_prompt_quits_without_a_word_to_the_daemon() {
    let (listener, port) = FakeDaemon::listen().await;
    let mut simp = Simp::spawn(&["--plain", "--port", &port.to_string()]);
    let mut daemon = FakeDaemon::accept(&listener).await;
    simp.expect("your name?").await;
    simp.type_line("q").await;
    daemon.expect_closed().await;
    let (code, stderr) = simp.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
}

#[tokio::test]
async fn a_service_that_never_answers_connect_is_not_waited_on_forever() {
    let (listener, port) = FakeDaemon::listen().await;
    let simp = Simp::spawn(&["--plain", "--port", &port.to_string(), "--user", "alice"]);
    let mut daemon = FakeDaemon::accept(&listener).await;
    daemon.expect(json!({"cmd":"connect","user":"alice"})).await;
    // No answer: simp gives up after its handshake timeout (5 s), well within the helper's wait.
    let (code, stderr) = simp.finish().await;
    assert_eq!(code, 1, "stderr: {stderr}");
    assert!(stderr.contains("did not answer `connect`"), "{stderr}");
}

#[tokio::test]
async fn a_daemon_busy_with_another_client_says_so() {
    let (listener, port) = FakeDaemon::listen().await;
    let simp = Simp::spawn(&["--plain", "--port", &port.to_string()]);
    let mut daemon = FakeDaemon::accept(&listener).await;
    let msg = "another client is attached to this daemon; close it first";
    daemon.send(json!({"event":"error","code":"client-busy","message":msg})).await;
    drop(daemon);
    let (code, stderr) = simp.finish().await;
    assert_eq!(code, 1, "stderr: {stderr}");
    assert!(stderr.contains(&format!("is busy with another client: {msg}")), "{stderr}");
}

#[tokio::test]
async fn no_daemon_exits_non_zero_with_the_simpd_hint() {
    // Bind and drop: a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let simp = Simp::spawn(&["--plain", "--port", &port.to_string(), "127.0.0.1"]);
    let (code, stderr) = simp.finish().await;
    assert_ne!(code, 0);
    assert!(
        stderr.contains("no simpd answers at 127.0.0.1:") && stderr.contains("`simpd 127.0.0.1 --client-port "),
        "{stderr}"
    );
}

#[tokio::test]
async fn bad_flags_exit_2_with_usage() {
    let simp = Simp::spawn(&["--no-such-flag"]);
    let (code, stderr) = simp.finish().await;
    assert_eq!(code, 2);
    assert!(stderr.contains("Usage"), "{stderr}");
}

/// `simp --plain --user bob` against a fake daemon that has connected it and shows a request
/// from alice at 127.0.0.2:7777.
async fn bob_with_a_request_from_alice() -> (Simp, FakeDaemon) {
    let (listener, port) = FakeDaemon::listen().await;
    let simp = Simp::spawn(&["--plain", "--port", &port.to_string(), "--user", "bob"]);
    let mut daemon = FakeDaemon::accept(&listener).await;
    daemon.expect(json!({"cmd":"connect","user":"bob"})).await;
    daemon.send(json!({"event":"connected","user":"bob","daemon":"127.0.0.1:7777","version":"0.1.0"})).await;
    daemon.send(json!({"event":"request","peer":"127.0.0.2:7777","user":"alice"})).await;
    (simp, daemon)
}

#[tokio::test]
async fn the_config_file_names_the_user_and_contacts_and_save_adds_one() {
    let dir = std::env::temp_dir().join(format!("simp-plain-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, "user = \"alice\" # me\n\n[contacts]\nbob = \"127.0.0.2\"\n").unwrap();
    let (listener, port) = FakeDaemon::listen().await;
    let mut simp = Simp::spawn(&["--plain", "--port", &port.to_string(), "--config", path.to_str().unwrap()]);
    let mut daemon = FakeDaemon::accept(&listener).await;
    daemon.expect(json!({"cmd":"connect","user":"alice"})).await;
    daemon.send(json!({"event":"connected","user":"alice","daemon":"127.0.0.1:7777","version":"0.1.0"})).await;
    simp.expect("[s] start a chat").await;
    simp.type_line("/call bob").await;
    daemon.expect(json!({"cmd":"start","peer":"127.0.0.2:7777"})).await;
    daemon.send(json!({"event":"calling","peer":"127.0.0.2:7777"})).await;
    simp.expect("* calling bob (127.0.0.2:7777)").await;
    daemon.send(json!({"event":"ended","reason":"declined"})).await;
    daemon.send(json!({"event":"request","peer":"127.0.0.3:7777","user":"carol"})).await;
    simp.expect("accept? [y/n/q]").await;
    simp.type_line("y").await;
    daemon.expect(json!({"cmd":"accept"})).await;
    daemon.send(json!({"event":"established","peer":"127.0.0.3:7777","user":"carol"})).await;
    simp.expect("* 127.0.0.3:7777 is not in your contacts: /save keeps it as carol").await;
    simp.type_line("/save").await;
    simp.expect("* saved carol = 127.0.0.3:7777").await;
    simp.type_line("/quit").await;
    daemon.expect(json!({"cmd":"quit"})).await;
    drop(daemon);
    let (code, stderr) = simp.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("user = \"alice\" # me\n") && text.contains("carol = \"127.0.0.3:7777\""), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
