//! `simpd --announce` and `simp --lan` (issue 13, "Who is on the LAN"): a daemon announces
//! itself with the attached user's name, and the listing follows attach and detach. mDNS is
//! multicast, so the test re-runs itself inside a network namespace of its own (`unshare -rn`,
//! loopback up with multicast on): it never sends a datagram on the host's interfaces. Where no
//! namespace can be made it says why and passes.

use std::net::IpAddr;
use std::time::Duration;

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
