//! The daemon killed (SIGKILL) under a running `simp --plain`: the client says so and exits
//! non-zero. The daemon must be its own process to be killed, and this crate cannot name the
//! `simpd` binary, so the test binary runs itself as the daemon (the ignored test
//! `child_daemon_process`, started with `--exact --ignored`). The full-screen interface
//! restores the terminal on the same path (unit tests of `simp::tui`).
//!
//! `cargo nextest run -p simp --test daemon_killed`

mod common;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Simp, WAIT};

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

#[tokio::test]
async fn a_daemon_killed_under_the_client_is_reported() {
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 28, 1));
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
    let addrs = rx.recv_timeout(WAIT).unwrap_or_else(|_| {
        let _ = daemon.kill();
        panic!("the daemon process did not report its addresses within {WAIT:?}")
    });
    let client = addrs[1];

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
    println!("simp exited {code}: {}", stderr.trim());
}
