//! `simpd --announce` and `simp --lan` (issue 13, "Who is on the LAN"): a daemon announces
//! itself with the attached user's name, and the listing follows attach and detach. mDNS is
//! multicast, so the test re-runs itself inside a network namespace of its own (`unshare -rn`,
//! loopback up with multicast on): it never sends a datagram on the host's interfaces. Where no
//! namespace can be made it says why and passes.

use std::net::IpAddr;
use std::time::Duration;

mod common;
mod netns;

use simp::conn::{self, Incoming};
use simp::lan::{self, LanDaemon};
use simp_proto::ipc::{Command as IpcCommand, Event};
use simpd::{Daemon, DaemonConfig, DaemonError};

/// Set in the re-run inside the namespace.
const INSIDE: &str = "SIMP_LAN_TEST_IN_NETNS";
const TEST_NAME: &str = "the_lan_listing_follows_who_is_attached";
const LISTEN: Duration = Duration::from_millis(1500);
const WAIT: Duration = Duration::from_secs(10);

#[test]
fn the_lan_listing_follows_who_is_attached() {
    netns::run_isolated(
        INSIDE,
        TEST_NAME,
        &[&["link", "set", "lo", "up"], &["link", "set", "lo", "multicast", "on"]],
        inside_the_namespace,
    );
}

async fn listed(ip: IpAddr) -> Vec<LanDaemon> {
    tokio::task::spawn_blocking(move || lan::browse(ip, LISTEN)).await.unwrap().expect("browse the LAN")
}

fn inside_the_namespace() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(listed(ip).await, [], "nothing announces before a daemon runs");

        // 0.0.0.0 is every interface: refused, not announced everywhere.
        let mut everywhere = DaemonConfig::new("0.0.0.0".parse().unwrap());
        (everywhere.port, everywhere.client_port, everywhere.announce) = (0, 0, true);
        let refused = Daemon::bind(everywhere).await.unwrap().run(std::future::pending()).await;
        assert!(matches!(refused, Err(DaemonError::Announce(_))), "{refused:?}");

        let mut config = DaemonConfig::new(ip);
        (config.port, config.client_port, config.announce) = (0, 0, true);
        let daemon = Daemon::bind(config).await.expect("bind a daemon");
        let (peer, client) = (daemon.udp_addr(), daemon.client_addr());
        tokio::spawn(daemon.run(std::future::pending()));
        let nobody = LanDaemon { addr: peer, user: None };
        assert_eq!(listed(ip).await, std::slice::from_ref(&nobody));

        let (mut reader, mut writer) = conn::connect(client).await.unwrap();
        writer.send(&IpcCommand::Connect { user: "alice".into() }).await.unwrap();
        tokio::time::timeout(WAIT, async {
            while let Ok(Some(item)) = reader.next().await {
                if matches!(item, Incoming::Event(Event::Connected { .. })) {
                    return;
                }
            }
            panic!("the daemon closed the connection before `connected`");
        })
        .await
        .expect("alice is attached");
        let alice = LanDaemon { addr: peer, user: Some("alice".into()) };
        assert_eq!(listed(ip).await, std::slice::from_ref(&alice));
        println!("{}", lan::listing(&[alice]));

        drop((reader, writer));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(listed(ip).await, [nobody], "the name goes once the client detaches");
    });
}

/// Set in the re-run of the `/lan` test inside its namespace.
const INSIDE_CALL: &str = "SIMP_LAN_CALL_TEST_IN_NETNS";
const CALL_TEST_NAME: &str = "lan_in_simp_lists_the_daemons_and_a_number_calls_one";

/// `/lan` in a session (here `l` in plain mode's menu, through pipes): the real `simp` lists
/// the daemon announcing itself, and its number calls it.
#[test]
fn lan_in_simp_lists_the_daemons_and_a_number_calls_one() {
    netns::run_isolated(
        INSIDE_CALL,
        CALL_TEST_NAME,
        &[&["link", "set", "lo", "up"], &["link", "set", "lo", "multicast", "on"]],
        lan_call_inside_the_namespace,
    );
}

fn lan_call_inside_the_namespace() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let mut config = DaemonConfig::new(ip);
        (config.port, config.client_port, config.announce) = (0, 0, true);
        let bobs = Daemon::bind(config).await.expect("bind bob's daemon");
        let (bob_peer, bob_client) = (bobs.udp_addr(), bobs.client_addr());
        tokio::spawn(bobs.run(std::future::pending()));
        let mut config = DaemonConfig::new(ip);
        (config.port, config.client_port) = (0, 0);
        let alices = Daemon::bind(config).await.expect("bind alice's daemon");
        let alice_client = alices.client_addr();
        tokio::spawn(alices.run(std::future::pending()));

        let (mut bob, mut bob_w) = conn::connect(bob_client).await.unwrap();
        bob_w.send(&IpcCommand::Connect { user: "bob".into() }).await.unwrap();
        let mut simp = common::Simp::spawn(&["--plain", "--port", &alice_client.port().to_string(), "--user", "alice"]);
        simp.expect("[l] list the LAN").await;
        simp.type_line("l").await;
        simp.expect("looking for daemons announcing themselves on the LAN").await;
        let line = simp.expect(&format!("  1  {bob_peer}  bob")).await;
        assert!(line.ends_with(&format!("*   1  {bob_peer}  bob")), "one numbered line: {line}");
        simp.expect("call which daemon? 1-1").await;
        simp.type_line("1").await;
        simp.expect(&format!("* calling {bob_peer}")).await;
        tokio::time::timeout(WAIT, async {
            while let Ok(Some(item)) = bob.next().await {
                if matches!(item, Incoming::Event(Event::Request { .. })) {
                    return;
                }
            }
            panic!("bob's daemon closed the connection before the call");
        })
        .await
        .expect("the call reaches bob");
        bob_w.send(&IpcCommand::Accept).await.unwrap();
        simp.expect("* chat with bob at").await;
        simp.type_line("/quit").await;
        let (code, stderr) = simp.finish().await;
        assert_eq!(code, 0, "{stderr}");
    });
}
