//! Two real daemons (in-process) chatting through the impairment relay: loss and duplication
//! in order, retransmission timeout 50 ms, generous retries (the point is correctness). Every
//! message must arrive exactly once, in order, and be reported delivered (127.0.20.x).
//!
//! `cargo nextest run -p simpd --test hostile_network`

mod common;
mod support;

use std::time::{Duration, Instant};

use common::{ip, start_daemon, Ipc};
use serde_json::json;
use simp_relay::Impairment;
use support::{assert_exactly_once_in_order, exchange, seed, start_relay, status, Pace};

/// Runs one impaired chat of `n` messages each way and prints its figures.
async fn impaired_chat(net: u8, loss: f64, duplicate: f64, n: usize, default_seed: u64) {
    let seed = seed(default_seed);
    let tweak = |c: &mut simpd::DaemonConfig| {
        c.endpoint.timeout = Duration::from_millis(50);
        c.endpoint.retries = 50;
        c.endpoint.call_timeout = Duration::from_secs(30);
    };
    let a = start_daemon(ip(20, net), tweak);
    let b = start_daemon(ip(20, net + 1), tweak);
    let impairment = Impairment { loss, duplicate, reorder: false, seed, ..Impairment::none() };
    let relay = start_relay(ip(20, net + 2), b.udp, impairment);
    let started = Instant::now();

    let mut ca = Ipc::login(a.client, "alice").await;
    let mut cb = Ipc::login(b.client, "bob").await;
    ca.send(json!({"cmd": "start", "peer": relay.front.to_string()})).await;
    ca.expect(json!({"event": "calling"})).await;
    cb.expect(json!({"event": "request", "peer": relay.back.to_string(), "user": "alice"})).await;
    cb.send(json!({"cmd": "accept"})).await;
    ca.expect(json!({"event": "established", "user": "bob"})).await;
    // Alice sends at once, as a user would: her first chat datagram also completes the
    // handshake at bob if her ACK and her answers to his re-sent SYN+ACKs were all lost
    // (SPEC 2.1 step 4; see RELIABILITY.md "Handshake").

    let pace = Pace { count: n, every: Duration::ZERO };
    // Settle: four timeouts after the caller's first message, for stray handshake ACKs.
    let (a_events, b_events) =
        exchange(&mut ca, &mut cb, pace, Duration::from_millis(200), " payload", Duration::from_secs(150)).await;
    assert_eq!(b_events[0], json!({"event": "established", "peer": relay.back.to_string(), "user": "alice"}));
    assert_exactly_once_in_order(&a_events, "a", "b", n, " payload");
    assert_exactly_once_in_order(&b_events, "b", "a", n, " payload");

    let a_status = status(&mut ca).await;
    let b_status = status(&mut cb).await;
    assert_eq!((a_status["delivered"].as_u64(), a_status["received"].as_u64()), (Some(n as u64), Some(n as u64)));
    assert_eq!((b_status["delivered"].as_u64(), b_status["received"].as_u64()), (Some(n as u64), Some(n as u64)));
    let (received, dropped, duplicated, forwarded) = relay.stats.snapshot();
    let resent = a_status["retransmissions"].as_u64().unwrap_or(0) + b_status["retransmissions"].as_u64().unwrap_or(0);
    println!(
        "loss {loss}, duplication {duplicate}, {n} messages each way in {:.1} s: retransmissions alice {} + bob {} = {resent}; \
         relay received {received}, dropped {dropped}, duplicated {duplicated}, forwarded {forwarded}",
        started.elapsed().as_secs_f64(),
        a_status["retransmissions"],
        b_status["retransmissions"],
    );
    assert!(dropped > 0 && resent > 0, "a lossy link must have cost retransmissions (seed {seed})");

    // And the close survives the same link.
    ca.send(json!({"cmd": "leave"})).await;
    ca.expect_event("ended", |e| e["event"] == "ended").await;
    let end = cb.expect_event("ended", |e| e["event"] == "ended").await;
    assert_eq!(end, json!({"event": "ended", "reason": "peer left"}));
}

#[tokio::test]
async fn loss_20_duplication_5_500_each_way() {
    impaired_chat(1, 0.20, 0.05, 500, 2_005_500).await;
}

#[tokio::test]
async fn loss_50_duplication_5_100_each_way() {
    impaired_chat(11, 0.50, 0.05, 100, 5_005_100).await;
}
