//! The relay forwards both ways, and impairs as configured.

use std::net::SocketAddr;
use std::time::Duration;

use simp_relay::{Impairment, Relay};
use tokio::net::UdpSocket;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

async fn setup(
    imp: Impairment,
    host: u8,
) -> (UdpSocket, UdpSocket, SocketAddr, std::sync::Arc<simp_relay::RelayStats>) {
    let a = UdpSocket::bind(("127.0.0.1", 0)).await.unwrap();
    let b = UdpSocket::bind(("127.0.0.1", 0)).await.unwrap();
    let front: SocketAddr = format!("127.0.0.{host}:0").parse().unwrap();
    let relay = Relay::bind(front, "127.0.0.1:0".parse().unwrap(), b.local_addr().unwrap(), imp).await.unwrap();
    let front = relay.front_addr();
    let stats = relay.stats();
    tokio::spawn(relay.run(std::future::pending()));
    (a, b, front, stats)
}

async fn recv(s: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = [0u8; 2048];
    let (n, from) = timeout(Duration::from_millis(300), s.recv_from(&mut buf)).await.ok()?.ok()?;
    Some((buf[..n].to_vec(), from))
}

#[tokio::test(flavor = "current_thread")]
async fn forwards_both_ways_in_order() {
    let imp = Impairment { delay: Duration::from_millis(2), jitter: Duration::from_millis(5), ..Impairment::none() };
    let (a, b, front, _) = setup(imp, 61).await;
    for i in 0..50u8 {
        a.send_to(&[i], front).await.unwrap();
    }
    let mut back_addr = None;
    for i in 0..50u8 {
        let (bytes, from) = timeout(WAIT, async { recv(&b).await }).await.unwrap().expect("forwarded");
        assert_eq!(bytes, [i], "order kept without --reorder");
        back_addr = Some(from);
    }
    b.send_to(b"reply", back_addr.unwrap()).await.unwrap();
    let (bytes, from) = recv(&a).await.expect("reply relayed back");
    assert_eq!(bytes, b"reply");
    assert_eq!(from, front, "A hears the reply from the address it called");
}

#[tokio::test(flavor = "current_thread")]
async fn total_loss_drops_everything_and_duplication_doubles() {
    let (a, b, front, stats) = setup(Impairment { loss: 1.0, ..Impairment::none() }, 62).await;
    for _ in 0..10 {
        a.send_to(b"x", front).await.unwrap();
    }
    assert_eq!(recv(&b).await, None);
    assert_eq!(stats.snapshot().1, 10);

    let (a, b, front, stats) = setup(Impairment { duplicate: 1.0, ..Impairment::none() }, 63).await;
    a.send_to(b"y", front).await.unwrap();
    assert_eq!(recv(&b).await.unwrap().0, b"y");
    assert_eq!(recv(&b).await.unwrap().0, b"y");
    assert_eq!(recv(&b).await, None);
    assert_eq!(stats.snapshot().2, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn loss_rate_follows_the_seeded_setting() {
    let (a, b, front, stats) = setup(Impairment { loss: 0.2, seed: 42, ..Impairment::none() }, 64).await;
    for i in 0..500u16 {
        a.send_to(&i.to_be_bytes(), front).await.unwrap();
        if i % 50 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let mut got = 0;
    while recv(&b).await.is_some() {
        got += 1;
    }
    let (received, dropped, _, forwarded) = stats.snapshot();
    assert_eq!(received, 500);
    assert_eq!(got, forwarded);
    assert!((60..=140).contains(&dropped), "20 % of 500 is about 100, got {dropped}");
}
