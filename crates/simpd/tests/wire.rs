//! The exact bytes simpd puts on the wire, checked by a SIMP peer written by hand over a plain
//! UDP socket (127.0.2.x). The RTO is long (5 s) so that no re-send can sneak in between the
//! steps on a loaded machine: nothing is lost on loopback.

mod common;

use std::time::Duration;

use common::{chat, control, datagram, ip, start_daemon, Ipc, RawPeer};
use serde_json::json;
use simp_proto::wire::{BUSY_TEXT, OP_ACK, OP_ERR, OP_FIN, OP_SYN, OP_SYN_ACK, TYPE_CONTROL};

const RTO: Duration = Duration::from_secs(5);

#[tokio::test]
async fn callee_answers_the_handshake_chat_duplicates_busy_and_fin_byte_for_byte() {
    let b = start_daemon(ip(2, 1), |c| c.endpoint.timeout = RTO);
    let mut cb = Ipc::login(b.client, "bob").await;
    let raw = RawPeer::bind(ip(2, 2));

    raw.send(b.udp, &control(OP_SYN, 0, "raw"));
    cb.expect(json!({"event": "request", "peer": raw.addr.to_string(), "user": "raw"})).await;
    cb.send(json!({"cmd": "accept"})).await;
    raw.expect(b.udp, &control(OP_SYN_ACK, 0, "bob"), "SYN+ACK to our SYN");
    raw.send(b.udp, &control(OP_ACK, 0, "raw"));
    cb.expect(json!({"event": "established", "peer": raw.addr.to_string(), "user": "raw"})).await;

    raw.send(b.udp, &chat(0, "raw", "hello"));
    raw.expect(b.udp, &control(OP_ACK, 0, "bob"), "ACK echoing chat seq 0");
    cb.expect(json!({"event": "message", "user": "raw", "text": "hello"})).await;
    raw.send(b.udp, &chat(1, "raw", "second"));
    raw.expect(b.udp, &control(OP_ACK, 1, "bob"), "ACK echoing chat seq 1");
    cb.expect(json!({"event": "message", "user": "raw", "text": "second"})).await;

    // Our ACK "was lost": the same datagram again is acknowledged again, not delivered again.
    raw.send(b.udp, &chat(1, "raw", "second"));
    raw.expect(b.udp, &control(OP_ACK, 1, "bob"), "ACK again for a duplicate");
    raw.send(b.udp, &chat(0, "raw", "third"));
    raw.expect(b.udp, &control(OP_ACK, 0, "bob"), "ACK for the next seq 0");
    cb.expect(json!({"event": "message", "user": "raw", "text": "third"})).await;

    // Someone else calls: ERR with the busy text, then FIN, both seq 0.
    let stranger = RawPeer::bind(ip(2, 3));
    stranger.send(b.udp, &control(OP_SYN, 0, "eve"));
    let err = datagram(TYPE_CONTROL, OP_ERR, 0, "bob", BUSY_TEXT.as_bytes());
    stranger.expect(b.udp, &err, "busy ERR");
    stranger.expect(b.udp, &control(OP_FIN, 0, "bob"), "FIN after the busy ERR");
    cb.expect(json!({"event": "missed", "peer": stranger.addr.to_string(), "user": "eve"})).await;

    // The peer leaves: its FIN is acknowledged.
    raw.send(b.udp, &control(OP_FIN, 0, "raw"));
    raw.expect(b.udp, &control(OP_ACK, 0, "bob"), "ACK to the peer's FIN");
    cb.expect(json!({"event": "ended", "reason": "peer left"})).await;
}

#[tokio::test]
async fn caller_sends_syn_then_ack_then_chat_with_alternating_seqs() {
    let a = start_daemon(ip(2, 11), |c| c.endpoint.timeout = RTO);
    let mut ca = Ipc::login(a.client, "alice").await;
    let raw = RawPeer::bind(ip(2, 12));

    ca.send(json!({"cmd": "start", "peer": raw.addr.to_string()})).await;
    raw.expect(a.udp, &control(OP_SYN, 0, "alice"), "SYN from the caller");
    ca.expect(json!({"event": "calling", "peer": raw.addr.to_string()})).await;
    raw.send(a.udp, &control(OP_SYN_ACK, 0, "raw"));
    raw.expect(a.udp, &control(OP_ACK, 0, "alice"), "ACK to our SYN+ACK");
    ca.expect(json!({"event": "established", "peer": raw.addr.to_string(), "user": "raw"})).await;

    ca.send(json!({"cmd": "chat", "text": "hi", "id": "1"})).await;
    raw.expect(a.udp, &chat(0, "alice", "hi"), "first chat datagram, seq 0");
    ca.expect(json!({"event": "queued", "id": "1"})).await;
    raw.send(a.udp, &control(OP_ACK, 0, "raw"));
    ca.expect(json!({"event": "delivered", "id": "1"})).await;

    ca.send(json!({"cmd": "chat", "text": "yo", "id": "2"})).await;
    raw.expect(a.udp, &chat(1, "alice", "yo"), "second chat datagram, seq 1");
    ca.expect(json!({"event": "queued", "id": "2"})).await;
    raw.send(a.udp, &control(OP_ACK, 1, "raw"));
    ca.expect(json!({"event": "delivered", "id": "2"})).await;

    ca.send(json!({"cmd": "leave"})).await;
    raw.expect(a.udp, &control(OP_FIN, 0, "alice"), "FIN on leave");
    raw.send(a.udp, &control(OP_ACK, 0, "raw"));
    ca.expect(json!({"event": "ended", "reason": "you left"})).await;
}

#[tokio::test]
async fn an_auto_accept_daemon_without_client_sends_fin_when_stopped() {
    let b = start_daemon(ip(2, 21), |c| {
        c.endpoint.timeout = RTO;
        c.endpoint.auto_accept = true;
    });
    let udp = b.udp;
    let raw = RawPeer::bind(ip(2, 22));
    // The course grader's steps: SYN from an ephemeral port, no client attached.
    raw.send(udp, &control(OP_SYN, 0, "grader"));
    raw.expect(udp, &control(OP_SYN_ACK, 0, ""), "SYN+ACK from an auto-accept daemon");
    raw.send(udp, &control(OP_ACK, 0, "grader"));
    raw.send(udp, &chat(0, "grader", "one"));
    raw.expect(udp, &control(OP_ACK, 0, ""), "ACK for a stored message");
    raw.send(udp, &chat(1, "grader", "two"));
    raw.expect(udp, &control(OP_ACK, 1, ""), "ACK for a second stored message");

    let stopping = std::thread::spawn(move || b.stop());
    raw.expect(udp, &control(OP_FIN, 0, ""), "FIN from a daemon that is stopping");
    raw.send(udp, &control(OP_ACK, 0, "grader"));
    stopping.join().expect("the daemon stops once its FIN is acknowledged");
}
