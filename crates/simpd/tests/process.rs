//! The real `simpd` binary: signals, exit codes and messages (IPC.md), on 127.0.4.x.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::Stdio;

use common::{ip, start_daemon, Ipc, StateDir, WAIT};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn simpd() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_simpd"));
    command
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Starts `simpd` on port 0 and reads its addresses from the "simpd listening" log line.
async fn spawn_simpd(args: &[&str]) -> (Child, SocketAddr, SocketAddr, StateDir) {
    let state = StateDir::new("process");
    let mut child = simpd()
        .args(args)
        .args(["--port", "0", "--client-port", "0", "--state-dir", state.arg()])
        .spawn()
        .expect("simpd starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let addrs = tokio::time::timeout(WAIT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line.clone());
            if line.contains("simpd listening") {
                return Some((field(&line, "udp="), field(&line, "client=")));
            }
        }
        None
    })
    .await;
    let Ok(Some((udp, client))) = addrs else {
        panic!("simpd did not report its addresses within 10 s; its stderr:\n{}", seen.join("\n"))
    };
    // Keep draining stderr so the daemon never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, udp, client, state)
}

fn field(line: &str, key: &str) -> SocketAddr {
    let value =
        line.split_whitespace().find_map(|w| w.strip_prefix(key)).unwrap_or_else(|| panic!("no {key} in {line}"));
    value.parse().unwrap_or_else(|e| panic!("{key}{value}: {e}"))
}

#[tokio::test]
async fn sigterm_mid_chat_says_goodbye_to_the_peer_and_exits_zero() {
    let (mut child, udp, client, _state) = spawn_simpd(&["127.0.4.1", "--timeout", "200ms"]).await;
    let a = start_daemon(ip(4, 2), |_| {});
    let mut ca = Ipc::login(a.client, "alice").await;
    let mut cb = Ipc::login(client, "bob").await;
    ca.send(json!({"cmd": "start", "peer": udp.to_string()})).await;
    ca.expect(json!({"event": "calling", "peer": udp.to_string()})).await;
    cb.expect(json!({"event": "request", "user": "alice"})).await;
    cb.send(json!({"cmd": "accept"})).await;
    ca.expect(json!({"event": "established", "user": "bob"})).await;
    cb.expect(json!({"event": "established", "user": "alice"})).await;

    let pid = child.id().expect("simpd is running").to_string();
    let kill = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(kill.success(), "kill -TERM {pid} failed");

    ca.expect(json!({"event": "ended", "reason": "peer left"})).await;
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("simpd did not exit within 10 s of SIGTERM")
        .expect("wait for simpd");
    assert_eq!(status.code(), Some(0), "simpd exit status after SIGTERM: {status}");
}

#[tokio::test]
async fn a_port_in_use_exits_1_naming_the_address() {
    let taken = UdpSocket::bind("127.0.4.11:0").expect("bind a port to take");
    let addr = taken.local_addr().expect("its address");
    let stderr = exits_1_naming(&["127.0.4.11", "--port", &addr.port().to_string(), "--client-port", "0"], addr).await;
    assert!(stderr.contains("in use"), "the message gives the likely cause:\n{stderr}");
}

#[tokio::test]
async fn a_client_port_in_use_exits_1_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.4.12:0").expect("bind a port to take");
    let addr = taken.local_addr().expect("its address");
    exits_1_naming(&["127.0.4.12", "--port", "0", "--client-port", &addr.port().to_string()], addr).await;
}

#[tokio::test]
async fn a_state_dir_in_use_by_another_simpd_exits_1_naming_it() {
    let (mut first, _, _, state) = spawn_simpd(&["127.0.4.13"]).await;
    let args = ["127.0.4.14", "--port", "0", "--client-port", "0", "--state-dir", state.arg()];
    let output = tokio::time::timeout(WAIT, simpd().args(args).output())
        .await
        .expect("the second simpd did not exit within 10 s")
        .expect("simpd runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "exit status; stderr:\n{stderr}");
    assert!(stderr.contains(state.arg()) && stderr.contains("in use"), "names the directory and why:\n{stderr}");
    assert!(first.try_wait().expect("the first simpd can be watched").is_none(), "the first simpd still runs");
}

#[tokio::test]
async fn bad_flags_exit_2_with_usage() {
    let output = tokio::time::timeout(WAIT, simpd().arg("--bogus").output()).await.expect("exits").expect("runs");
    assert!(String::from_utf8_lossy(&output.stderr).contains("Usage: simpd"), "usage for an unknown flag");
    for args in
        [&["--bogus"][..], &["--timeout", "5"], &["--max-payload", "0"], &["--rto", "sometimes"], &["not-an-ip"]]
    {
        let output = tokio::time::timeout(WAIT, simpd().args(args).output())
            .await
            .expect("simpd did not exit within 10 s")
            .expect("simpd runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "simpd {args:?}; stderr:\n{stderr}");
        // clap prints the usage line for an unknown flag, and a pointer to --help for a bad value.
        assert!(stderr.contains("Usage") || stderr.contains("--help"), "simpd {args:?} prints usage:\n{stderr}");
    }
}

/// Runs simpd with `args`, expecting it to fail to start: exit code 1 and a message naming
/// `addr`. Returns its stderr.
async fn exits_1_naming(args: &[&str], addr: std::net::SocketAddr) -> String {
    let output = tokio::time::timeout(WAIT, simpd().args(args).output())
        .await
        .expect("simpd did not exit within 10 s")
        .expect("simpd runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "exit status; stderr:\n{stderr}");
    assert!(stderr.contains(&addr.to_string()), "the message names {addr}:\n{stderr}");
    stderr
}
