//! SPEC 2.2, stop-and-wait: one datagram in flight each way, re-sends on timeout only,
//! duplicates re-acknowledged, and what is held for the client before it is acknowledged.

use std::time::Duration;

use super::harness::*;
use crate::ipc::{Command as C, EndReason, ErrorCode, Event};
use crate::wire::Kind;

#[test]
fn one_datagram_in_flight_then_the_next_with_the_other_seq() {
    let mut h = H::chatting();
    h.chat("one", "1");
    h.chat("two", "2");
    h.chat("three", "3");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "one")]);
    let queued: Vec<_> = ["1", "2", "3"].iter().map(|id| Event::Queued { id: (*id).into() }).collect();
    assert_eq!(h.events(), queued);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 1, "alice", "two")]);
    assert_eq!(h.events(), [Event::Delivered { id: "1".into() }]);
    h.recv(peer(), Kind::Ack, 1, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "three")]);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.events(), [Event::Delivered { id: "2".into() }, Event::Delivered { id: "3".into() }]);
    assert_eq!(h.sent(), []);
    h.expect_nothing();
}

#[test]
fn daemon_assigns_ids_when_the_client_gives_none() {
    let mut h = H::chatting();
    h.cmd(C::Chat { text: "a".into(), id: None });
    h.cmd(C::Chat { text: "b".into(), id: None });
    assert_eq!(h.events(), [Event::Queued { id: "1".into() }, Event::Queued { id: "2".into() }]);
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "a")]);
    h.expect_nothing();
}

#[test]
fn wrong_or_duplicate_ack_is_ignored_and_never_triggers_a_resend() {
    let mut h = H::chatting();
    h.chat("one", "1");
    h.chat("two", "2");
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "one")]);
    h.expect_events(&[queued("1"), queued("2")]);
    h.recv(peer(), Kind::Ack, 1, "bob", "");
    assert_eq!(h.sent(), []);
    assert_eq!(h.events(), []);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 1, "alice", "two")]);
    // The duplicate of the ACK for "one": Sorcerer's Apprentice must not happen.
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.sent(), []);
    assert_eq!(h.events(), [Event::Delivered { id: "1".into() }]);
    h.expect_nothing();
}

#[test]
fn resends_are_byte_for_byte_on_timeout_only() {
    let mut h = H::chatting();
    h.chat("hello", "1");
    let first = h.raw_sent();
    h.wait(T - Duration::from_millis(1));
    assert!(h.raw_sent().is_empty());
    h.wait(Duration::from_millis(1));
    assert_eq!(h.raw_sent(), first);
    h.wait(T);
    assert_eq!(h.raw_sent(), first);
    assert_eq!(h.ep.stats().retransmissions, 2);
    h.expect_events(&[queued("1")]);
    h.expect_nothing();
}

#[test]
fn retries_exhausted_means_unreachable_with_every_message_reported() {
    let mut h = H::chatting_with(|c| c.retries = 2);
    h.chat("one", "1");
    h.chat("two", "2");
    h.expect_events(&[queued("1"), queued("2")]);
    assert_eq!(h.sent().len(), 1);
    h.wait(T);
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "one")]);
    h.wait(T);
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "one")]);
    h.wait(T);
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")], "one FIN, unacknowledged");
    assert_eq!(
        h.events(),
        [
            Event::Undelivered { id: "1".into(), reason: EndReason::PeerUnreachable },
            Event::Undelivered { id: "2".into(), reason: EndReason::PeerUnreachable },
            ended(EndReason::PeerUnreachable),
        ]
    );
    h.wait(T * 10);
    assert_eq!(h.sent(), []);
    assert!(h.ep.is_idle());
    h.expect_nothing();
}

#[test]
fn queue_is_bounded() {
    let mut h = H::chatting_with(|c| c.queue_limit = 3);
    for i in 0..4 {
        h.chat("x", &i.to_string());
    }
    let ev = h.events();
    assert_eq!(ev.len(), 4);
    assert_eq!(code(&ev), [ErrorCode::QueueFull]);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.expect_events(&[delivered("0")]);
    h.chat("x", "4");
    assert_eq!(h.events(), [Event::Queued { id: "4".into() }]);
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "x"), w(peer(), Kind::Chat, 1, "alice", "x")]);
    h.expect_nothing();
}

#[test]
fn receiver_delivers_new_seqs_and_reacks_duplicates() {
    let mut h = H::chatting();
    h.recv(peer(), Kind::Chat, 1, "bob", "first"); // any seq for the first of the session
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 1, "alice", "")]);
    assert_eq!(h.events(), [message("first")]);
    h.recv(peer(), Kind::Chat, 1, "bob", "first");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 1, "alice", "")]);
    assert_eq!(h.events(), [], "a duplicate is not delivered again");
    h.recv(peer(), Kind::Chat, 0, "bob", "second");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    assert_eq!(h.events(), [message("second")]);
    h.expect_nothing();
}

#[test]
fn both_directions_at_once_do_not_confuse_acks_and_chat() {
    let mut h = H::chatting();
    h.chat("mine", "1");
    h.recv(peer(), Kind::Chat, 0, "bob", "theirs");
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "mine"), w(peer(), Kind::Ack, 0, "alice", "")]);
    assert_eq!(h.events(), [Event::Queued { id: "1".into() }, message("theirs"), Event::Delivered { id: "1".into() }]);
    h.expect_nothing();
}

#[test]
fn received_text_is_escaped() {
    let mut h = H::chatting();
    h.ep.handle_datagram(
        h.now,
        peer(),
        &bytes(Kind::Chat, 0, "bob", "")
            .iter()
            .copied()
            .take(35)
            .chain([0, 0, 0, 4, 0x1b, b'[', 0xc3, 0xa9])
            .collect::<Vec<_>>(),
    );
    assert_eq!(h.events(), [message("\\x1b[\\xc3\\xa9")]);
    h.expect_sent(&[w(peer(), Kind::Ack, 0, "alice", "")]);
    h.expect_nothing();
}

#[test]
fn without_a_client_messages_are_stored_up_to_the_limit_and_then_not_acked() {
    let mut h = H::with(|c| {
        c.auto_accept = true;
        c.store_limit = 2;
    });
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.expect_sent(&[w(peer(), Kind::SynAck, 0, "", "")]);
    h.recv(peer(), Kind::Chat, 0, "bob", "1");
    h.recv(peer(), Kind::Chat, 1, "bob", "2");
    assert_eq!(h.sent().len(), 2);
    h.recv(peer(), Kind::Chat, 0, "bob", "3");
    assert_eq!(h.sent(), [], "nothing acknowledged that could be lost");
    h.recv(peer(), Kind::Chat, 1, "bob", "2");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 1, "", "")], "a duplicate is still re-acked");
    h.cmd(C::Connect { user: "alice".into() });
    let ev = h.events();
    assert_eq!(ev[1..], [established(), message("1"), message("2")]);
    h.recv(peer(), Kind::Chat, 0, "bob", "3");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    h.expect_events(&[message("3")]);
    h.expect_nothing();
}

#[test]
fn long_text_is_split_at_max_payload_and_delivered_when_all_parts_are_acked() {
    let mut h = H::chatting_with(|c| c.max_payload = 10);
    h.chat("hello there world", "1");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "hello ")]);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 1, "alice", "there ")]);
    h.recv(peer(), Kind::Ack, 1, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "world")]);
    assert_eq!(h.events(), [Event::Queued { id: "1".into() }]);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.events(), [Event::Delivered { id: "1".into() }]);
    h.expect_nothing();
}

// ----- what the daemon holds for its client -----

#[test]
fn a_huge_escaped_message_is_split_into_events_that_fit_a_line() {
    let mut h = H::chatting();
    let payload = vec![0xffu8; 65_000];
    let mut bytes = bytes(Kind::Chat, 0, "bob", "");
    bytes.truncate(35);
    bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&payload);
    h.ep.handle_datagram(h.now, peer(), &bytes);
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    let texts: Vec<String> = h
        .events()
        .into_iter()
        .map(|e| if let Event::Message { text, .. } = e { text } else { panic!("{e:?}") })
        .collect();
    assert!(texts.len() > 1);
    for t in &texts {
        let line = serde_json::to_string(&Event::Message { user: "bob".into(), text: t.clone() }).unwrap();
        assert!(line.len() <= crate::ipc::MAX_LINE, "{} bytes", line.len());
        assert!(t.len() % 4 == 0 && t.starts_with("\\xff"), "no escape is cut in two");
    }
    assert_eq!(texts.concat(), "\\xff".repeat(65_000), "intact when put together");
    h.expect_nothing();
}

#[test]
fn a_backlogged_client_gets_no_new_message_acknowledged() {
    let mut h = H::chatting();
    h.ep.set_client_backlogged(true);
    h.recv(peer(), Kind::Chat, 0, "bob", "wait");
    assert_eq!(h.sent(), [], "not acknowledged: the peer will re-send");
    assert_eq!(h.events(), []);
    h.ep.set_client_backlogged(false);
    h.recv(peer(), Kind::Chat, 0, "bob", "wait");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    assert_eq!(h.events(), [message("wait")]);
    h.expect_nothing();
}

#[test]
fn the_store_for_an_absent_client_is_bounded_in_bytes_too() {
    // Internal: the byte bound is not configurable, so the test reads the engine's constant.
    use super::super::mailbox::STORE_MAX_BYTES;
    let mut h = H::with(|c| c.auto_accept = true);
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.expect_sent(&[w(peer(), Kind::SynAck, 0, "", "")]);
    let big = "x".repeat(60_000);
    let mut acked = 0;
    for i in 0..100u8 {
        h.recv(peer(), Kind::Chat, i % 2, "bob", &big);
        acked += h.sent().len();
        if acked < usize::from(i) + 1 {
            break;
        }
    }
    assert_eq!(acked, STORE_MAX_BYTES / 60_000, "stored while under the byte bound, then not acknowledged");
    h.expect_nothing();
}
