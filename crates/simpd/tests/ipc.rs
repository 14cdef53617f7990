//! The client connection's error handling (IPC.md), on 127.0.3.x.

mod common;

use common::{ip, start_daemon, Ipc};
use serde_json::json;

#[tokio::test]
async fn bad_lines_get_errors_and_change_nothing() {
    let d = start_daemon(ip(3, 1), |_| {});
    let mut c = Ipc::connect("client", d.client).await;

    // Before connect, status is a read-only query (IPC.md "Access"); other commands are refused.
    c.send(json!({"cmd": "status"})).await;
    c.expect(json!({"event": "status", "state": "idle"})).await;
    c.send(json!({"cmd": "leave"})).await;
    c.expect(json!({"event": "error", "code": "not-connected"})).await;
    c.send_raw(b"{\"cmd\": \"connect\", \n").await;
    c.expect(json!({"event": "error", "code": "bad-json"})).await;
    c.send_raw(b"not json at all\n").await;
    c.expect(json!({"event": "error", "code": "bad-json"})).await;
    c.send(json!({"cmd": "dance"})).await;
    let unknown = c.expect(json!({"event": "error", "code": "unknown-cmd"})).await;
    let message = unknown["message"].as_str().unwrap_or_default();
    assert!(message.contains("dance") && message.contains("connect"), "{message}");
    c.send(json!({"cmd": "start"})).await;
    c.expect(json!({"event": "error", "code": "unknown-cmd"})).await;
    c.send(json!({"cmd": "connect", "user": ""})).await;
    c.expect(json!({"event": "error", "code": "bad-user"})).await;

    // None of that changed anything: still not connected, then connect works.
    c.send(json!({"cmd": "accept"})).await;
    c.expect(json!({"event": "error", "code": "not-connected"})).await;
    c.send(json!({"cmd": "connect", "user": "alice"})).await;
    c.expect(json!({"event": "connected", "user": "alice", "daemon": d.udp.to_string()})).await;
    c.send(json!({"cmd": "accept"})).await;
    c.expect(json!({"event": "error", "code": "no-request"})).await;
    c.send(json!({"cmd": "status"})).await;
    c.expect(json!({"event": "status", "state": "idle", "user": "alice"})).await;
}

#[tokio::test]
async fn a_second_client_is_refused_and_the_first_keeps_working() {
    let d = start_daemon(ip(3, 11), |_| {});
    let mut first = Ipc::login(d.client, "alice").await;
    let mut second = Ipc::connect("second", d.client).await;
    second.send(json!({"cmd": "connect", "user": "mallory"})).await;
    second.expect(json!({"event": "error", "code": "client-busy"})).await;
    assert!(second.expect_closed().await.is_empty(), "nothing after client-busy");

    first.send(json!({"cmd": "status"})).await;
    first.expect(json!({"event": "status", "state": "idle", "user": "alice"})).await;
}

#[tokio::test]
async fn status_is_answered_to_any_local_connection_without_taking_the_slot() {
    let d = start_daemon(ip(3, 12), |_| {});
    let mut first = Ipc::login(d.client, "alice").await;
    let mut query = Ipc::connect("query", d.client).await;
    query.send(json!({"cmd": "status"})).await;
    query.expect(json!({"event": "status", "state": "idle", "user": "alice"})).await;
    assert!(query.expect_closed().await.is_empty(), "one answer, then closed");
    first.send(json!({"cmd": "status"})).await;
    first.expect(json!({"event": "status", "state": "idle", "user": "alice"})).await;
}

#[tokio::test]
async fn an_over_long_line_is_refused_and_the_connection_still_works() {
    let d = start_daemon(ip(3, 21), |_| {});
    let mut c = Ipc::login(d.client, "alice").await;
    let mut line = format!("{{\"cmd\":\"chat\",\"text\":\"{}\"}}", "x".repeat(simp_proto::ipc::MAX_LINE)).into_bytes();
    line.push(b'\n');
    c.send_raw(&line).await;
    c.expect(json!({"event": "error", "code": "line-too-long"})).await;
    c.send(json!({"cmd": "status"})).await;
    c.expect(json!({"event": "status", "state": "idle"})).await;

    // A line of exactly the limit is still a line (here: too long a name, so bad-user).
    let mut exact = format!("{{\"cmd\":\"connect\",\"user\":\"{}", "y".repeat(simp_proto::ipc::MAX_LINE)).into_bytes();
    exact.truncate(simp_proto::ipc::MAX_LINE - 2);
    exact.extend_from_slice(b"\"}\n");
    c.send_raw(&exact).await;
    c.expect(json!({"event": "error", "code": "bad-user"})).await;
}

#[tokio::test]
async fn quit_before_anything_closes_the_connection() {
    let d = start_daemon(ip(3, 31), |_| {});
    let mut c = Ipc::login(d.client, "alice").await;
    c.send(json!({"cmd": "quit"})).await;
    assert!(c.expect_closed().await.is_empty(), "nothing after quit when idle");
    let mut again = Ipc::login(d.client, "bob").await;
    again.send(json!({"cmd": "status"})).await;
    again.expect(json!({"event": "status", "user": "bob"})).await;
}

#[tokio::test]
async fn a_client_that_closes_its_sending_side_still_gets_its_answers() {
    let d = start_daemon(ip(3, 41), |_| {});
    let mut c = Ipc::connect("piped", d.client).await;
    c.send_raw(b"{\"cmd\":\"connect\",\"user\":\"alice\"}\n{\"cmd\":\"status\"}\n").await;
    c.close_write().await;
    let events = c.expect_closed().await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(common::matches(&events[0], &json!({"event": "connected", "user": "alice"})), "{events:?}");
    assert!(common::matches(&events[1], &json!({"event": "status", "state": "idle"})), "{events:?}");
}
