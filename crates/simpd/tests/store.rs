//! The message store seen from the client (IPC.md "Messages and their store"), with two
//! in-process daemons on 127.0.30.x: what the sender saw `delivered` reaches the receiving
//! user even when the client goes away unread, `seen` confirms, `history` and `forget`.

mod common;

use common::{chat_between, ip, start_daemon, Ipc, StateDir};
use serde_json::{json, Value};

const N: usize = 50;

async fn collect_until(ipc: &mut Ipc, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut events = Vec::new();
    while !done(&events) {
        events.push(ipc.next_event().await);
    }
    events
}

fn messages(events: &[Value]) -> Vec<(u64, u64, String)> {
    events
        .iter()
        .filter(|e| e["event"] == "message")
        .map(|e| (e["id"].as_u64().unwrap(), e["at"].as_u64().unwrap(), e["text"].as_str().unwrap().to_owned()))
        .collect()
}

/// Issue 12, defect 2: a client with unread messages in its socket disconnects; before the
/// store, the messages the sender saw `delivered` reached nobody.
#[tokio::test]
async fn messages_a_client_did_not_confirm_are_delivered_again_in_order_with_their_time() {
    let a = start_daemon(ip(30, 1), |_| {});
    let b = start_daemon(ip(30, 2), |_| {});
    let (mut ca, cb) = chat_between(&a, &b, "alice", "bob").await;
    for i in 0..N {
        ca.send(json!({"cmd": "chat", "text": format!("m{i}"), "id": format!("{i}")})).await;
    }
    collect_until(&mut ca, |e| e.iter().filter(|e| e["event"] == "delivered").count() == N).await;
    // Bob's client goes away without reading a thing.
    drop(cb);
    ca.expect(json!({"event": "ended", "reason": "peer left"})).await;

    let mut cb = Ipc::connect("bob again", b.client).await;
    cb.send(json!({"cmd": "connect", "user": "bob"})).await;
    cb.expect(json!({"event": "connected"})).await;
    let first = messages(&collect_until(&mut cb, |e| e.len() == N).await);
    let texts: Vec<String> = first.iter().map(|m| m.2.clone()).collect();
    assert_eq!(texts, (0..N).map(|i| format!("m{i}")).collect::<Vec<_>>(), "every one, once, in order");
    assert!(first.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "ids increase, times in order");

    // Confirm the first 20 in one batch; the rest come again, as they were.
    let ids: Vec<u64> = first[..20].iter().map(|m| m.0).collect();
    cb.send(json!({"cmd": "seen", "ids": ids})).await;
    cb.send(json!({"cmd": "quit"})).await;
    cb.expect_closed().await;
    let mut cb = Ipc::login(b.client, "bob").await;
    let again = messages(&collect_until(&mut cb, |e| e.len() == N - 20).await);
    assert_eq!(again, first[20..], "same ids, same arrival times, same texts");
    let ids: Vec<u64> = again.iter().map(|m| m.0).collect();
    cb.send(json!({"cmd": "seen", "ids": ids})).await;
    cb.send(json!({"cmd": "quit"})).await;
    cb.expect_closed().await;
    let mut cb = Ipc::login(b.client, "bob").await;
    cb.send(json!({"cmd": "status"})).await;
    cb.expect(json!({"event": "status"})).await;
}

/// The sending daemon records a burst of `chat`s in one transaction (README, "where the cost
/// goes"): its WAL then holds about one page per message (each one's outcome; the rows of the
/// burst share their pages), where one transaction per message writes two (its row, then its
/// row again with the outcome): 55 frames against 104 for 50 messages.
#[tokio::test]
async fn a_burst_of_sent_messages_is_recorded_in_few_wal_frames() {
    let state = StateDir::new("burst");
    let a = start_daemon(ip(30, 31), |c| c.state_dir = Some(state.0.clone()));
    let b = start_daemon(ip(30, 32), |_| {});
    let (mut ca, _cb) = chat_between(&a, &b, "alice", "bob").await;
    let burst: String = (0..N)
        .map(|i| format!("{}\n", json!({"cmd": "chat", "text": format!("m{i}"), "id": format!("{i}")})))
        .collect();
    ca.send_raw(burst.as_bytes()).await;
    collect_until(&mut ca, |e| e.iter().filter(|e| e["event"] == "delivered").count() == N).await;
    // A WAL frame is a 24-byte header and a 4 KiB page, after the 32-byte file header.
    let wal = std::fs::metadata(state.0.join("simpd.sqlite3-wal")).expect("the store's WAL").len();
    let frames = wal.saturating_sub(32) / (24 + 4096);
    assert!(frames < 3 * N as u64 / 2, "{frames} WAL frames for {N} messages sent in one burst");
}

#[tokio::test]
async fn history_pages_back_and_forget_deletes_a_peer() {
    let a = start_daemon(ip(30, 11), |_| {});
    let b = start_daemon(ip(30, 12), |_| {});
    let (mut ca, mut cb) = chat_between(&a, &b, "alice", "bob").await;
    for i in 0..5 {
        ca.send(json!({"cmd": "chat", "text": format!("hi {i}"), "id": format!("{i}")})).await;
    }
    collect_until(&mut ca, |e| e.iter().filter(|e| e["event"] == "delivered").count() == 5).await;
    cb.send(json!({"cmd": "chat", "text": "back", "id": "x"})).await;
    collect_until(&mut cb, |e| e.iter().any(|e| e["event"] == "delivered")).await;
    collect_until(&mut ca, |e| e.iter().any(|e| e["event"] == "message")).await;

    let peer = b.udp.to_string();
    ca.send(json!({"cmd": "history", "peer": peer, "limit": 3})).await;
    let page = collect_until(&mut ca, |e| e.last().is_some_and(|e| e["event"] == "history-end")).await;
    let texts: Vec<&str> = page[..3].iter().map(|e| e["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["hi 3", "hi 4", "back"], "the last 3, oldest first");
    assert_eq!(page[0]["direction"], "out");
    assert_eq!(page[0]["outcome"], "delivered");
    assert_eq!(page[0]["user"], "alice");
    assert_eq!(page[2]["direction"], "in");
    assert_eq!((page[2]["user"].as_str(), page[2]["peer_user"].as_str()), (Some("bob"), Some("bob")));
    assert_eq!(page[3], json!({"event": "history-end", "count": 3}));
    let before = page[0]["id"].clone();
    ca.send(json!({"cmd": "history", "before": before})).await;
    let older = collect_until(&mut ca, |e| e.last().is_some_and(|e| e["event"] == "history-end")).await;
    let texts: Vec<&str> = older.iter().filter_map(|e| e["text"].as_str()).collect();
    assert_eq!(texts, ["hi 0", "hi 1", "hi 2"]);

    ca.send(json!({"cmd": "history", "peer": "not an address"})).await;
    ca.expect(json!({"event": "error", "code": "bad-peer"})).await;
    ca.send(json!({"cmd": "forget", "peer": peer})).await;
    ca.expect(json!({"event": "forgotten", "peer": peer, "count": 6})).await;
    ca.send(json!({"cmd": "history"})).await;
    ca.expect(json!({"event": "history-end", "count": 0})).await;
}

/// `history` is read-only (IPC.md "Access"): answered before `connect` without attaching;
/// `seen` and `forget` change the store and need the client.
#[tokio::test]
async fn before_connect_history_is_answered_and_the_other_store_commands_are_refused() {
    let a = start_daemon(ip(30, 21), |_| {});
    let mut c = Ipc::connect("anonymous", a.client).await;
    for cmd in [json!({"cmd": "seen", "ids": [1]}), json!({"cmd": "forget", "peer": "127.0.0.9"})] {
        c.send(cmd).await;
        c.expect(json!({"event": "error", "code": "not-connected"})).await;
    }
    c.send(json!({"cmd": "history"})).await;
    c.expect(json!({"event": "history-end", "count": 0})).await;
    c.send(json!({"cmd": "seen", "ids": [1]})).await;
    c.expect(json!({"event": "error", "code": "not-connected"})).await;
    c.send(json!({"cmd": "connect", "user": "alice"})).await;
    c.expect(json!({"event": "connected", "user": "alice"})).await;
}

/// What a connection that sends `cmd` as its first line gets before the daemon closes it.
async fn read_only(addr: std::net::SocketAddr, cmd: Value) -> Vec<Value> {
    let mut q = Ipc::connect("read-only", addr).await;
    q.send(cmd).await;
    q.expect_closed().await
}

/// `simp history` while the user's own client chats: a second connection's `history` is
/// answered from the store and closed; its `seen`, `chat` or `forget` is refused and changes
/// nothing; the attached client sees none of it and its chat goes on.
#[tokio::test]
async fn a_second_connection_reads_the_history_during_a_chat_and_changes_nothing() {
    let a = start_daemon(ip(30, 31), |_| {});
    let b = start_daemon(ip(30, 32), |_| {});
    let (mut ca, mut cb) = chat_between(&a, &b, "alice", "bob").await;
    ca.send(json!({"cmd": "chat", "text": "hello", "id": "1"})).await;
    ca.expect_event("delivered", |e| e["event"] == "delivered").await;
    let id = cb.expect(json!({"event": "message", "text": "hello"})).await["id"].clone();

    let stored = json!([
        {"event": "history", "id": id, "peer": a.udp.to_string(), "peer_user": "alice", "user": "alice",
         "direction": "in", "text": "hello", "outcome": "unseen"},
        {"event": "history-end", "count": 1},
    ]);
    let check = |answer: &[Value]| {
        let Some(expected) = stored.as_array() else { unreachable!() };
        assert_eq!(answer.len(), expected.len(), "{answer:?}");
        for (event, pattern) in answer.iter().zip(expected) {
            assert!(common::matches(event, pattern), "{event} is not like {pattern}");
        }
    };
    check(&read_only(b.client, json!({"cmd": "history", "peer": a.udp.to_string()})).await);
    for cmd in [
        json!({"cmd": "seen", "ids": [id]}),
        json!({"cmd": "chat", "text": "sneaky"}),
        json!({"cmd": "forget", "peer": a.udp.to_string()}),
    ] {
        let answer = read_only(b.client, cmd.clone()).await;
        assert_eq!(answer.len(), 1, "{cmd}: {answer:?}");
        assert!(common::matches(&answer[0], &json!({"event": "error", "code": "client-busy"})), "{cmd}: {answer:?}");
    }
    check(&read_only(b.client, json!({"cmd": "history"})).await);

    // Bob's client got nothing of all that: its next event answers its own command, and its
    // chat goes on (alice gets the next message, not the refused one).
    cb.send(json!({"cmd": "status"})).await;
    cb.expect(json!({"event": "status", "state": "chatting", "user": "bob"})).await;
    cb.send(json!({"cmd": "chat", "text": "still here", "id": "1"})).await;
    cb.expect(json!({"event": "queued", "id": "1"})).await;
    cb.expect(json!({"event": "delivered", "id": "1"})).await;
    ca.expect(json!({"event": "message", "text": "still here"})).await;
    ca.send(json!({"cmd": "chat", "text": "and me", "id": "2"})).await;
    cb.expect(json!({"event": "message", "text": "and me"})).await;
}

/// Each `history` answer to a second connection holds up to 1,000 messages until its reader
/// takes them: at most 4 are written at a time, a fifth is told to try again.
#[tokio::test]
async fn at_most_four_history_answers_to_second_connections_at_a_time() {
    let a = start_daemon(ip(30, 41), |_| {});
    let _attached = Ipc::login(a.client, "alice").await;
    let mut readers = Vec::new();
    for i in 0..4 {
        let mut q = Ipc::connect(&format!("reader {i}"), a.client).await;
        q.send(json!({"cmd": "history"})).await;
        q.expect(json!({"event": "history-end", "count": 0})).await;
        // Not closed: its answer's permit is held until it closes (or 2 s pass).
        readers.push(q);
    }
    let answer = read_only(a.client, json!({"cmd": "history"})).await;
    assert_eq!(answer.len(), 1, "{answer:?}");
    assert!(common::matches(&answer[0], &json!({"event": "error", "code": "client-busy"})), "{answer:?}");
    assert!(answer[0]["message"].as_str().is_some_and(|m| m.contains("try again")), "{answer:?}");
    drop(readers);
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let answer = read_only(a.client, json!({"cmd": "history"})).await;
        if common::matches(&answer[0], &json!({"event": "history-end"})) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still refused: {answer:?}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
