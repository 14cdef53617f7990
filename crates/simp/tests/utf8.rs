//! `simp --utf8` in plain mode between two real in-process daemons (127.0.0.1 and 127.0.0.2,
//! free ports, real UDP): alice's UTF-8 arrives as text at bob's client, with the warning shown
//! once to alice; bob, without the flag, is refused locally and nothing is sent (SPEC 1,
//! "Beyond ASCII").

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use common::Simp;
use tokio::sync::oneshot;

/// A daemon on `ip` with free ports; dropping the sender stops it.
async fn daemon(ip: Ipv4Addr) -> (SocketAddr, SocketAddr, oneshot::Sender<()>) {
    let mut config = simpd::DaemonConfig::new(IpAddr::V4(ip));
    config.port = 0;
    config.client_port = 0;
    let daemon = simpd::Daemon::bind(config).await.expect("daemon binds");
    let (udp, client) = (daemon.udp_addr(), daemon.client_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(daemon.run(async move {
        let _ = stopped.await;
    }));
    (udp, client, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utf8_sent_with_the_flag_arrives_as_text_and_is_refused_without_it() {
    let (_, alice_client, _stop_a) = daemon(Ipv4Addr::new(127, 0, 0, 1)).await;
    let (bob_udp, bob_client, _stop_b) = daemon(Ipv4Addr::new(127, 0, 0, 2)).await;
    let bob_port = bob_client.port().to_string();
    let mut bob = Simp::spawn(&["--plain", "--port", &bob_port, "--user", "bob", "127.0.0.2"]);
    bob.expect("[s] start a chat").await;
    bob.type_line("w").await;
    bob.expect("waiting for a call").await;

    let alice_port = alice_client.port().to_string();
    let mut alice = Simp::spawn(&["--plain", "--utf8", "--port", &alice_port, "--user", "alice", "127.0.0.1"]);
    alice.expect("[s] start a chat").await;
    alice.type_line("s").await;
    alice.expect("peer IP").await;
    alice.type_line(&bob_udp.to_string()).await;
    bob.expect("request from alice").await;
    bob.type_line("y").await;
    alice.expect("* chat with bob at").await;

    alice.type_line("café ☕").await;
    alice.expect("* sending UTF-8 (--utf8): this is outside the course's SIMP").await;
    alice.expect("] ✓ delivered: café ☕").await;
    bob.expect("] alice: café ☕").await;

    bob.type_line("née").await;
    let refusal = bob.expect("nothing was sent").await;
    assert!(refusal.contains("'é' (U+00E9) at character 2"), "{refusal}");
    bob.type_line("ok").await;
    bob.expect("] ✓ delivered: ok").await;
    let got = alice.expect("] bob: ").await;
    assert!(got.ends_with("] bob: ok"), "only the ASCII line arrives: {got}");

    alice.type_line("/quit").await;
    let (code, stderr) = alice.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
    bob.expect("ended").await;
    bob.type_line("q").await;
    let (code, stderr) = bob.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
}
