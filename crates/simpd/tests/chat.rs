//! Two or three real daemons on loopback, driven through their IPC clients (127.0.1.x).

mod common;

use std::time::Duration;

use common::{chat_between, ip, start_daemon, Ipc, RawPeer};
use serde_json::{json, Value};

#[tokio::test]
async fn two_hundred_messages_each_way_arrive_once_in_order_and_are_delivered() {
    let a = start_daemon(ip(1, 1), |_| {});
    let b = start_daemon(ip(1, 2), |_| {});
    let (mut ca, mut cb) = chat_between(&a, &b, "alice", "bob").await;

    const N: usize = 200;
    for i in 0..N {
        ca.send(json!({"cmd": "chat", "text": format!("from alice {i}"), "id": format!("a{i}")})).await;
        cb.send(json!({"cmd": "chat", "text": format!("from bob {i}")})).await;
    }
    // Then each side leaves... only once everything is through: collect until complete.
    let a_events = collect_until(&mut ca, |e| count(e, "delivered") == N && count(e, "message") == N).await;
    let b_events = collect_until(&mut cb, |e| count(e, "delivered") == N && count(e, "message") == N).await;

    ca.send(json!({"cmd": "leave"})).await;
    let a_rest = collect_until(&mut ca, |e| count(e, "ended") == 1).await;
    let b_rest = collect_until(&mut cb, |e| count(e, "ended") == 1).await;
    let a_all: Vec<Value> = a_events.into_iter().chain(a_rest).collect();
    let b_all: Vec<Value> = b_events.into_iter().chain(b_rest).collect();

    // Alice: her ids queued and delivered in order, each once; Bob's texts once each, in order.
    let a_ids: Vec<String> = (0..N).map(|i| format!("a{i}")).collect();
    assert_eq!(field_of(&a_all, "queued", "id"), a_ids);
    assert_eq!(field_of(&a_all, "delivered", "id"), a_ids);
    let from_bob: Vec<String> = (0..N).map(|i| format!("from bob {i}")).collect();
    assert_eq!(field_of(&a_all, "message", "text"), from_bob);
    assert!(a_all.iter().filter(|e| e["event"] == "message").all(|e| e["user"] == "bob"));
    assert_eq!(a_all.last().unwrap(), &json!({"event": "ended", "reason": "you left"}));

    // Bob: daemon-assigned ids, each queued id delivered once and in order.
    let b_queued = field_of(&b_all, "queued", "id");
    assert_eq!(b_queued.len(), N);
    assert_eq!(field_of(&b_all, "delivered", "id"), b_queued);
    let from_alice: Vec<String> = (0..N).map(|i| format!("from alice {i}")).collect();
    assert_eq!(field_of(&b_all, "message", "text"), from_alice);
    assert_eq!(b_all.last().unwrap(), &json!({"event": "ended", "reason": "peer left"}));
    assert!(!a_all.iter().chain(&b_all).any(|e| e["event"] == "undelivered" || e["event"] == "error"));
}

#[tokio::test]
async fn a_declined_call_ends_declined_for_the_caller() {
    let a = start_daemon(ip(1, 11), |_| {});
    let b = start_daemon(ip(1, 12), |_| {});
    let mut ca = Ipc::login(a.client, "alice").await;
    let mut cb = Ipc::login(b.client, "bob").await;
    ca.send(json!({"cmd": "start", "peer": b.udp.to_string()})).await;
    ca.expect(json!({"event": "calling"})).await;
    cb.expect(json!({"event": "request", "peer": a.udp.to_string(), "user": "alice"})).await;
    cb.send(json!({"cmd": "decline"})).await;
    cb.expect(json!({"event": "ended", "reason": "declined"})).await;
    ca.expect(json!({"event": "ended", "reason": "declined"})).await;
}

#[tokio::test]
async fn a_third_daemon_gets_busy_and_the_chat_goes_on() {
    let a = start_daemon(ip(1, 21), |_| {});
    let b = start_daemon(ip(1, 22), |_| {});
    let c = start_daemon(ip(1, 23), |_| {});
    let (mut ca, mut cb) = chat_between(&a, &b, "alice", "bob").await;
    let mut cc = Ipc::login(c.client, "carol").await;
    cc.send(json!({"cmd": "start", "peer": a.udp.to_string()})).await;
    cc.expect(json!({"event": "calling"})).await;
    cc.expect(json!({"event": "ended", "reason": "busy", "detail": "User already in another chat"})).await;
    // alice hears of the call she missed (SPEC 2.4); the chat goes on.
    ca.expect(json!({"event": "missed", "peer": c.udp.to_string(), "user": "carol"})).await;

    ca.send(json!({"cmd": "chat", "text": "still here?", "id": "x"})).await;
    ca.expect(json!({"event": "queued", "id": "x"})).await;
    ca.expect(json!({"event": "delivered", "id": "x"})).await;
    cb.expect(json!({"event": "message", "user": "alice", "text": "still here?"})).await;
}

#[tokio::test]
async fn a_request_pending_before_the_client_connects_is_shown_after_connected() {
    let a = start_daemon(ip(1, 31), |_| {});
    let b = start_daemon(ip(1, 32), |_| {});
    let mut ca = Ipc::login(a.client, "alice").await;
    ca.send(json!({"cmd": "start", "peer": b.udp.to_string()})).await;
    ca.expect(json!({"event": "calling"})).await;

    // Proof that b is ringing, without a client: a stranger's SYN gets the busy reply.
    let probe = RawPeer::bind(ip(1, 33));
    probe.send(b.udp, &common::control(simp_proto::wire::OP_SYN, 0, "probe"));
    let busy = common::datagram(
        simp_proto::wire::TYPE_CONTROL,
        simp_proto::wire::OP_ERR,
        0,
        "",
        simp_proto::wire::BUSY_TEXT.as_bytes(),
    );
    probe.expect(b.udp, &busy, "the busy ERR from a ringing daemon with no client");

    let mut cb = Ipc::connect("bob", b.client).await;
    cb.send(json!({"cmd": "connect", "user": "bob"})).await;
    cb.expect(json!({"event": "connected", "user": "bob", "daemon": b.udp.to_string()})).await;
    cb.expect(json!({"event": "request", "peer": a.udp.to_string(), "user": "alice"})).await;
    // The probe's call, turned away while bob was away, is listed too (SPEC 2.4).
    cb.expect(json!({"event": "missed", "user": "probe"})).await;
    cb.send(json!({"cmd": "accept"})).await;
    cb.expect(json!({"event": "established", "user": "alice"})).await;
    ca.expect(json!({"event": "established", "user": "bob"})).await;
}

#[tokio::test]
async fn an_unanswered_request_expires() {
    let a = start_daemon(ip(1, 41), |_| {});
    let b = start_daemon(ip(1, 42), |c| c.endpoint.ring_timeout = Duration::from_millis(300));
    let mut ca = Ipc::login(a.client, "alice").await;
    let mut cb = Ipc::login(b.client, "bob").await;
    ca.send(json!({"cmd": "start", "peer": b.udp.to_string()})).await;
    ca.expect(json!({"event": "calling"})).await;
    cb.expect(json!({"event": "request", "user": "alice"})).await;
    cb.expect(json!({"event": "ended", "reason": "request expired"})).await;
    // Told apart from a decline by the ERR "No answer" before the FIN (SPEC 2.1).
    ca.expect(json!({"event": "ended", "reason": "no answer"})).await;
}

#[tokio::test]
async fn calling_an_address_without_a_daemon_ends_with_no_answer() {
    let a = start_daemon(ip(1, 51), |c| c.endpoint.call_timeout = Duration::from_millis(500));
    // A bound socket that never answers: nobody else can take its port meanwhile.
    let silent = RawPeer::bind(ip(1, 52));
    let mut ca = Ipc::login(a.client, "alice").await;
    ca.send(json!({"cmd": "start", "peer": silent.addr.to_string()})).await;
    ca.expect(json!({"event": "calling", "peer": silent.addr.to_string()})).await;
    ca.expect(json!({"event": "ended", "reason": "no answer"})).await;
}

#[tokio::test]
async fn a_client_that_disconnects_mid_chat_leaves_it() {
    let a = start_daemon(ip(1, 61), |_| {});
    let b = start_daemon(ip(1, 62), |_| {});
    let (ca, mut cb) = chat_between(&a, &b, "alice", "bob").await;
    drop(ca);
    cb.expect(json!({"event": "ended", "reason": "peer left"})).await;
}

#[tokio::test]
async fn quit_leaves_the_chat_and_closes_the_connection() {
    let a = start_daemon(ip(1, 71), |_| {});
    let b = start_daemon(ip(1, 72), |_| {});
    let (mut ca, mut cb) = chat_between(&a, &b, "alice", "bob").await;
    ca.send(json!({"cmd": "quit"})).await;
    ca.expect_closed().await;
    cb.expect(json!({"event": "ended", "reason": "peer left"})).await;
    // The daemon serves a new client afterwards, once it is idle again: bob's daemon sends the
    // ACK of the FIN as it tells bob, so on a busy machine alice's daemon may still be closing
    // (and would tell a client attached by then that it left).
    let mut again = Ipc::connect("alice2", a.client).await;
    again.wait_for_state("idle").await;
    again.send(json!({"cmd": "connect", "user": "alice2"})).await;
    again.expect(json!({"event": "connected", "user": "alice2"})).await;
    again.send(json!({"cmd": "status"})).await;
    again.expect(json!({"event": "status", "state": "idle", "user": "alice2"})).await;
}

#[tokio::test]
async fn shutdown_of_a_daemon_mid_chat_tells_the_peer() {
    let a = start_daemon(ip(1, 81), |_| {});
    let b = start_daemon(ip(1, 82), |_| {});
    let (_ca, mut cb) = chat_between(&a, &b, "alice", "bob").await;
    a.stop();
    cb.expect(json!({"event": "ended", "reason": "peer left"})).await;
}

/// All events until `done` holds for them.
async fn collect_until(ipc: &mut Ipc, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut events = Vec::new();
    while !done(&events) {
        events.push(ipc.next_event().await);
    }
    events
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["event"] == kind).count()
}

fn field_of(events: &[Value], kind: &str, field: &str) -> Vec<String> {
    events.iter().filter(|e| e["event"] == kind).map(|e| e[field].as_str().unwrap_or("?").to_owned()).collect()
}
