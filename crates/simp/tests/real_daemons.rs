//! The real `simp` binary in plain mode against real in-process `simpd` daemons on 127.0.0.1
//! and 127.0.0.2 (free ports, real UDP between them), with the demo's echo bot on the second.

mod common;

use common::Simp;
use simp::demo::Demo;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_with_the_echo_bot_through_a_real_daemon_pair() {
    let demo = Demo::start(false).await.expect("start two daemons and the bot");
    let port = demo.client_addr.port().to_string();
    let bot = demo.bot_udp.to_string();
    let mut simp = Simp::spawn(&["--plain", "--port", &port, "127.0.0.1"]);

    simp.expect("your name?").await;
    simp.type_line("alice").await;
    simp.expect("* connected to daemon 127.0.0.1:").await;
    simp.expect("[s] start a chat").await;
    simp.type_line("s").await;
    simp.expect("peer IP").await;
    simp.type_line(&bot).await;
    simp.expect(&format!("* chat with echo at {bot} open")).await;
    simp.expect("] echo: hi! I am an echo bot").await;

    simp.type_line("hello there").await;
    simp.expect("] ✓ delivered: hello there").await;
    simp.expect("] echo: echo: hello there").await;

    simp.type_line("/leave").await;
    simp.expect("* chat with echo ended: you left").await;
    simp.expect("[s] start a chat").await;
    simp.type_line("q").await;
    let (code, stderr) = simp.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
    demo.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_stops_mid_chat_is_reported_and_simp_exits_non_zero() {
    let demo = Demo::start(false).await.expect("start two daemons and the bot");
    let port = demo.client_addr.port().to_string();
    let bot = demo.bot_udp.to_string();
    let mut simp = Simp::spawn(&["--plain", "--port", &port, "--user", "alice"]);
    simp.type_line(&bot).await;
    simp.expect("] echo: hi! I am an echo bot").await;
    demo.stop().await;
    let (code, stderr) = simp.finish().await;
    assert_eq!(code, 1, "stderr: {stderr}");
    assert!(stderr.contains("closed the connection") && stderr.contains("`simpd 127.0.0.1 --client-port "), "{stderr}");
}

#[tokio::test]
async fn demo_in_plain_mode_calls_the_echo_bot() {
    let mut simp = Simp::spawn(&["--demo", "--demo-any-port", "--plain"]);
    let line = simp.expect("* connected to daemon 127.0.0.1:").await;
    assert!(line.ends_with(" as you"), "{line}");
    simp.expect("* chat with echo at 127.0.0.2:").await;
    simp.type_line("ping").await;
    simp.expect("] echo: echo: ping").await;
    simp.type_line("/quit").await;
    let (code, stderr) = simp.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simp_status_answers_while_another_client_is_attached() {
    let demo = Demo::start(false).await.expect("start two daemons and the bot");
    let port = demo.client_addr.port().to_string();
    let bot = demo.bot_udp.to_string();
    let mut simp = Simp::spawn(&["--plain", "--port", &port, "--user", "alice"]);
    simp.type_line(&bot).await;
    simp.expect("] echo: hi! I am an echo bot").await;

    let mut status = Simp::spawn(&["status", "--port", &port, "127.0.0.1"]);
    let line = status.expect("status: ").await;
    assert!(line.starts_with(&format!("status: chatting with {bot} (echo)")), "{line}");
    let (code, stderr) = status.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");

    simp.type_line("still here").await;
    simp.expect("] echo: echo: still here").await;
    simp.type_line("/quit").await;
    let (code, stderr) = simp.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
    demo.stop().await;
}

#[tokio::test]
async fn with_no_daemon_running_simp_daemon_starts_one_for_as_long_as_it_runs() {
    // 127.0.9.1: an address no other test uses, so its UDP port 7777 is free.
    let port = std::net::TcpListener::bind("127.0.9.1:0").unwrap().local_addr().unwrap().port().to_string();
    let state_home = std::env::temp_dir().join(format!("simp-own-daemon-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state_home);
    let mut simp =
        Simp::spawn_with_state(&["--daemon", "--plain", "--port", &port, "--user", "alice", "127.0.9.1"], &state_home);
    simp.expect("* connected to daemon 127.0.9.1:7777 as alice").await;
    // Its store is where `simpd 127.0.9.1` keeps one (not in memory): what it acknowledges
    // outlives simp.
    let store = state_home.join("simp").join("127.0.9.1").join(simpd::store::DB_FILE);
    assert!(store.is_file(), "no store at {}", store.display());

    let mut status = Simp::spawn(&["status", "--port", &port, "127.0.9.1"]);
    let line = status.expect("status: ").await;
    assert!(line.starts_with("status: idle"), "{line}");
    assert_eq!(status.finish().await.0, 0);

    simp.type_line("/quit").await;
    let (code, stderr) = simp.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
    let (code, stderr) = Simp::spawn(&["status", "--port", &port, "127.0.9.1"]).finish().await;
    assert_eq!(code, 1, "the daemon went with its simp");
    assert!(stderr.contains("or `simp --daemon`"), "{stderr}");
    let _ = std::fs::remove_dir_all(&state_home);
}
