//! Crashes: a peer daemon killed with SIGKILL mid-chat, a client that vanishes with a reset,
//! and a daemon restarted at the same address (127.0.26.x).
//!
//! `cargo nextest run -p simpd --test hostile_crash`

mod common;
mod support;

use std::time::{Duration, Instant};

use common::{chat_between, ip, start_daemon, Ipc};
use serde_json::json;
use support::{status, SimpdProcess};

/// Alice (in-process) calls bob (the binary) and both see `established`.
async fn call(alice: &mut Ipc, bob: &mut Ipc, bob_udp: std::net::SocketAddr) {
    alice.send(json!({"cmd": "start", "peer": bob_udp.to_string()})).await;
    alice.expect(json!({"event": "calling"})).await;
    bob.expect(json!({"event": "request", "user": "alice"})).await;
    bob.send(json!({"cmd": "accept"})).await;
    alice.expect(json!({"event": "established", "user": "bob"})).await;
    bob.expect(json!({"event": "established", "user": "alice"})).await;
}

#[tokio::test]
async fn a_peer_killed_mid_chat_is_unreachable_after_the_retries_with_every_message_listed() {
    let mut bob = SimpdProcess::spawn(ip(26, 1), &["--timeout", "100ms"]);
    let a = start_daemon(ip(26, 2), |c| {
        c.endpoint.timeout = Duration::from_millis(100);
        c.endpoint.retries = 5;
    });
    let mut ca = Ipc::login(a.client, "alice").await;
    let mut cb = Ipc::login(bob.client, "bob").await;
    call(&mut ca, &mut cb, bob.udp).await;
    ca.send(json!({"cmd": "chat", "text": "before", "id": "k0"})).await;
    ca.expect(json!({"event": "queued", "id": "k0"})).await;
    ca.expect(json!({"event": "delivered", "id": "k0"})).await;

    bob.kill9();
    let killed = Instant::now();
    for i in 1..=3 {
        ca.send(json!({"cmd": "chat", "text": format!("after {i}"), "id": format!("k{i}")})).await;
        ca.expect(json!({"event": "queued", "id": format!("k{i}")})).await;
    }
    for i in 1..=3 {
        ca.expect(json!({"event": "undelivered", "id": format!("k{i}"), "reason": "peer unreachable"})).await;
    }
    ca.expect(json!({"event": "ended", "reason": "peer unreachable"})).await;
    let took = killed.elapsed();
    println!("peer unreachable {:.2} s after the kill (timeout 100 ms, 5 retries)", took.as_secs_f64());
    // Six sends of the first message, 100 ms apart: not before 600 ms.
    assert!(took >= Duration::from_millis(600), "gave up after {took:?}, before its retries");
}

#[tokio::test]
async fn a_client_that_vanishes_with_a_reset_makes_its_daemon_fin_the_peer() {
    // What the kernel does for a killed client process with unread data: RST, no FIN.
    let a = start_daemon(ip(26, 11), |_| {});
    let b = start_daemon(ip(26, 12), |_| {});
    let (ca, mut cb) = chat_between(&a, &b, "alice", "bob").await;
    cb.send(json!({"cmd": "chat", "text": "unread by alice"})).await;
    cb.expect_event("delivered", |e| e["event"] == "delivered").await;
    drop(ca); // the test's Ipc has not read that message: closing now resets the connection
    cb.expect(json!({"event": "ended", "reason": "peer left"})).await;
    // The daemon serves the next client.
    let mut again = Ipc::login(a.client, "alice2").await;
    let st = status(&mut again).await;
    assert_eq!(st["state"], "idle", "{st}");
}

#[tokio::test]
async fn a_daemon_restarted_at_the_same_address_can_chat_again_at_once() {
    let args = ["--timeout", "100ms"];
    let mut bob = SimpdProcess::spawn(ip(26, 21), &args);
    let (port, client_port) = (bob.udp.port(), bob.client.port());
    let a = start_daemon(ip(26, 22), |c| c.endpoint.timeout = Duration::from_millis(100));
    let mut ca = Ipc::login(a.client, "alice").await;
    let mut cb = Ipc::login(bob.client, "bob").await;
    call(&mut ca, &mut cb, bob.udp).await;

    // Bob's daemon dies without a word; alice, idle in her chat, cannot know.
    bob.kill9();
    drop(cb);
    let restarted = Instant::now();
    let bob2 = SimpdProcess::spawn_at(ip(26, 21), port, client_port, &args);
    assert_eq!(bob2.udp, bob.udp, "same address");
    let mut cb2 = Ipc::login(bob2.client, "bob").await;
    cb2.send(json!({"cmd": "start", "peer": a.udp.to_string()})).await;
    cb2.expect(json!({"event": "calling"})).await;
    // SPEC 2.3: the SYN of the restarted peer ends the old chat and rings as a new call.
    ca.expect(json!({"event": "ended", "reason": "peer left"})).await;
    ca.expect(json!({"event": "request", "peer": bob2.udp.to_string(), "user": "bob"})).await;
    ca.send(json!({"cmd": "accept"})).await;
    ca.expect(json!({"event": "established", "user": "bob"})).await;
    cb2.expect(json!({"event": "established", "user": "alice"})).await;
    ca.send(json!({"cmd": "chat", "text": "welcome back", "id": "w"})).await;
    ca.expect(json!({"event": "queued", "id": "w"})).await;
    ca.expect(json!({"event": "delivered", "id": "w"})).await;
    cb2.expect(json!({"event": "message", "user": "alice", "text": "welcome back"})).await;
    println!("chatting again {:.2} s after the restart", restarted.elapsed().as_secs_f64());
}
