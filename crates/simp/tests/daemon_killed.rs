//! The daemon killed (SIGKILL) under a running `simp --plain`: the client says so and exits
//! non-zero. The daemon must be its own process to be killed, and this crate cannot name the
//! `simpd` binary, so the test binary runs itself as the daemon (the ignored test
//! `child_daemon_process`, started with `--exact --ignored`). The full-screen interface runs
//! in a pseudo-terminal (util-linux `script`): it keeps its screen and says it reconnects
//! (the reconnection itself: `src/reconnect_tests.rs`); quit then, it leaves the alternate
//! screen, shows the cursor and leaves raw mode.
//!
//! `cargo nextest run -p simp --test daemon_killed`

mod common;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Simp, WAIT};
use tokio::io::AsyncReadExt;

const CHILD_ENV: &str = "SIMP_TEST_CHILD_DAEMON_IP";

/// Not a test: the daemon process of `a_daemon_killed_under_the_client_is_reported`. It binds
/// the IP in `SIMP_TEST_CHILD_DAEMON_IP`, prints its addresses and runs until killed.
#[test]
#[ignore = "a helper process, started by a_daemon_killed_under_the_client_is_reported"]
fn child_daemon_process() {
    let ip: IpAddr = std::env::var(CHILD_ENV).expect("run by the parent test only").parse().expect("an IP");
    let mut config = simpd::DaemonConfig::new(ip);
    config.port = 0;
    config.client_port = 0;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let daemon = simpd::Daemon::bind(config).await.expect("daemon binds");
        println!("CHILD-DAEMON {} {}", daemon.udp_addr(), daemon.client_addr());
        daemon.run(std::future::pending()).await.expect("daemon runs");
    });
}

/// Starts the daemon process on `ip`; returns it and its client address.
fn spawn_daemon(ip: IpAddr) -> (std::process::Child, SocketAddr) {
    let mut daemon = Command::new(std::env::current_exe().expect("test binary path"))
        .args(["child_daemon_process", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_ENV, ip.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the daemon process starts");
    let stdout = daemon.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("CHILD-DAEMON ") {
                let addrs: Vec<SocketAddr> = rest.split(' ').filter_map(|a| a.parse().ok()).collect();
                let _ = tx.send(addrs);
            }
        }
    });
    match rx.recv_timeout(WAIT) {
        Ok(addrs) if addrs.len() == 2 => (daemon, addrs[1]),
        _ => {
            let _ = daemon.kill();
            panic!("the daemon process did not report its addresses within {WAIT:?}")
        }
    }
}

#[tokio::test]
async fn a_daemon_killed_under_the_client_is_reported() {
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 28, 1));
    let (mut daemon, client) = spawn_daemon(ip);

    let mut simp = Simp::spawn(&["--plain", "--user", "alice", "--port", &client.port().to_string(), &ip.to_string()]);
    simp.expect("* connected to daemon").await;
    simp.expect("[s] start a chat").await;
    simp.type_line("w").await;
    simp.expect("waiting for a call").await;
    daemon.kill().expect("SIGKILL"); // std's kill is SIGKILL
    daemon.wait().expect("reaped");
    let (code, stderr) = tokio::time::timeout(WAIT + Duration::from_secs(1), simp.finish()).await.expect("simp exits");
    assert_eq!(code, 1, "stderr: {stderr}");
    assert!(stderr.contains("closed the connection; is it still running?"), "{stderr}");
    // The daemon is a test binary, not simpd: the restart command is `simpd IP …`.
    assert!(stderr.contains("start it again with `simpd 127.0.28.1 --client-port "), "{stderr}");
    println!("simp exited {code}: {}", stderr.trim());
}

#[tokio::test]
async fn the_full_screen_interface_waits_for_its_killed_daemon_and_restores_the_terminal_on_quit() {
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 28, 11));
    let (mut daemon, client) = spawn_daemon(ip);
    // `script` gives simp a pseudo-terminal; `stty -a` afterwards shows the line discipline
    // simp left behind.
    let shell =
        r#""$0" --user alice --port "$1" "$2"; code=$?; echo; echo "STTY: $(stty -a | tr '\n' ' ')"; exit $code"#;
    let command =
        format!("sh -c '{}' {} {} {}", shell.replace('\'', r#"'\''"#), env!("CARGO_BIN_EXE_simp"), client.port(), ip);
    let mut script = tokio::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("util-linux `script` runs");
    let mut stdout = script.stdout.take().expect("piped");
    let mut seen = Vec::new();
    // Once the interface is up (it has entered the alternate screen), kill the daemon under it.
    let up = tokio::time::timeout(WAIT, async {
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains("\x1b[?1049h") {
            let n = stdout.read(&mut chunk).await.expect("read script's output");
            assert!(n > 0, "script ended before the interface came up: {:?}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    assert!(up.is_ok(), "the interface did not come up within {WAIT:?}: {:?}", String::from_utf8_lossy(&seen));
    daemon.kill().expect("SIGKILL");
    daemon.wait().expect("reaped");
    let waiting = tokio::time::timeout(WAIT, async {
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains("reconnecting") {
            let n = stdout.read(&mut chunk).await.expect("read script's output");
            assert!(n > 0, "script ended instead of reconnecting: {:?}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    assert!(waiting.is_ok(), "no word of reconnecting within {WAIT:?}: {:?}", String::from_utf8_lossy(&seen));
    let shown = seen.len();
    // Quit while it waits: q and Enter.
    let mut keys = script.stdin.take().expect("piped");
    tokio::io::AsyncWriteExt::write_all(&mut keys, b"q\r").await.expect("type q");
    tokio::time::timeout(WAIT, stdout.read_to_end(&mut seen))
        .await
        .expect("script's output ends in time")
        .expect("read");
    let status = tokio::time::timeout(WAIT, script.wait()).await.expect("script exits in time").expect("status");
    let screen = String::from_utf8_lossy(&seen);
    let enter = screen.find("\x1b[?1049h").unwrap_or_else(|| panic!("never entered the alternate screen: {screen:?}"));
    let leave = screen.rfind("\x1b[?1049l").unwrap_or_else(|| panic!("never left the alternate screen: {screen:?}"));
    assert!(enter < shown && shown <= leave, "the screen stays until the user quits: {screen:?}");
    assert!(screen[leave..].contains("\x1b[?25h"), "the cursor is shown again: {screen:?}");
    let stty = screen.split("STTY: ").nth(1).unwrap_or_else(|| panic!("no stty output: {screen:?}"));
    for flag in ["icanon", "echo", "isig"] {
        assert!(stty.split_whitespace().any(|w| w == flag), "raw mode left on ({flag} off): {stty}");
    }
    assert_eq!(status.code(), Some(0), "simp's exit code through script (quit by the user): {screen:?}");
}
