//! SPEC 2.2, stop-and-wait: one datagram in flight each way, re-sends on timeout only,
//! duplicates re-acknowledged, and what is held for the client before it is acknowledged.

use std::time::Duration;

use super::harness::*;
use crate::ipc::{Command as C, EndReason, ErrorCode, Event};
use crate::wire::Kind;
use crate::{Incoming, Stored};

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
    h.cmd(C::Chat { text: "a".into(), id: None, utf8: None });
    h.cmd(C::Chat { text: "b".into(), id: None, utf8: None });
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
    assert_eq!(h.events(), [message(1, "first")]);
    h.recv(peer(), Kind::Chat, 1, "bob", "first");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 1, "alice", "")]);
    assert_eq!(h.events(), [], "a duplicate is not delivered again");
    h.recv(peer(), Kind::Chat, 0, "bob", "second");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    assert_eq!(h.events(), [message(2, "second")]);
    h.expect_nothing();
}

#[test]
fn both_directions_at_once_do_not_confuse_acks_and_chat() {
    let mut h = H::chatting();
    h.chat("mine", "1");
    h.recv(peer(), Kind::Chat, 0, "bob", "theirs");
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "mine"), w(peer(), Kind::Ack, 0, "alice", "")]);
    assert_eq!(
        h.events(),
        [Event::Queued { id: "1".into() }, message(1, "theirs"), Event::Delivered { id: "1".into() }]
    );
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
    h.store();
    assert_eq!(h.events(), [message(1, "\\x1b[\\xc3\\xa9")]);
    h.expect_sent(&[w(peer(), Kind::Ack, 0, "alice", "")]);
    h.expect_nothing();
}

#[test]
fn a_message_is_acknowledged_only_once_the_store_has_it() {
    let mut h = H::chatting();
    h.ep.handle_datagram(h.now, peer(), &bytes(Kind::Chat, 0, "bob", "hi"));
    h.expect_nothing();
    let incoming = h.ep.poll_persist().cloned();
    assert_eq!(incoming, Some(Incoming { peer: peer(), user: "bob".into(), text: "hi".into() }));
    assert_eq!(h.ep.poll_persist(), None, "handed out once");
    h.ep.handle_datagram(h.now, peer(), &bytes(Kind::Chat, 0, "bob", "hi"));
    assert_eq!(h.ep.poll_persist(), None, "a re-send while the store works is not taken twice");
    h.expect_nothing();
    h.ep.handle_persisted(h.now, Some(Stored { first_id: 7, at: 1234 }));
    h.expect_sent(&[w(peer(), Kind::Ack, 0, "alice", "")]);
    h.expect_events(&[Event::Message { id: 7, at: 1234, user: "bob".into(), text: "hi".into() }]);
    h.recv(peer(), Kind::Chat, 0, "bob", "hi");
    h.expect_sent(&[w(peer(), Kind::Ack, 0, "alice", "")]);
    h.expect_events(&[]);
    assert_eq!(h.ep.poll_persist(), None, "a duplicate after the store is acknowledged, not stored again");
}

#[test]
fn a_failed_store_acknowledges_nothing_and_the_re_send_is_stored() {
    let mut h = H::chatting();
    h.ep.handle_datagram(h.now, peer(), &bytes(Kind::Chat, 0, "bob", "hi"));
    assert!(h.ep.poll_persist().is_some());
    h.ep.handle_persisted(h.now, None);
    h.expect_nothing();
    assert_eq!(h.status().received, 0);
    h.recv(peer(), Kind::Chat, 0, "bob", "hi");
    h.expect_sent(&[w(peer(), Kind::Ack, 0, "alice", "")]);
    h.expect_events(&[message(1, "hi")]);
    assert_eq!(h.status().received, 1);
}

#[test]
fn without_a_client_messages_are_stored_and_acknowledged_and_the_endpoint_keeps_none() {
    let mut h = H::with(|c| c.auto_accept = true);
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.expect_sent(&[w(peer(), Kind::SynAck, 0, "", "")]);
    for (i, text) in ["1", "2", "3"].into_iter().enumerate() {
        let seq = (i % 2) as u8;
        h.ep.handle_datagram(h.now, peer(), &bytes(Kind::Chat, seq, "bob", text));
        let parts = h.ep.poll_persist().map(|m| m.parts().map(str::to_owned).collect::<Vec<_>>());
        assert_eq!(parts, Some(vec![text.to_string()]));
        h.ep.handle_persisted(h.now, Some(Stored { first_id: i as u64 + 1, at: 0 }));
        h.expect_sent(&[w(peer(), Kind::Ack, seq, "", "")]);
    }
    h.cmd(C::Connect { user: "alice".into() });
    let ev = h.events();
    assert_eq!(ev[1..], [established()], "stored messages are the shell's to deliver");
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

#[test]
fn utf8_is_sent_byte_exact_only_when_asked_and_split_between_characters() {
    let mut h = H::chatting_with(|c| c.max_payload = 7);
    h.cmd(C::Chat { text: "café".into(), id: Some("1".into()), utf8: None });
    h.cmd(C::Chat { text: "café".into(), id: Some("2".into()), utf8: Some(false) });
    h.cmd(C::Chat { text: "ok\u{1b}".into(), id: Some("3".into()), utf8: Some(true) });
    assert_eq!(code(&h.events()), [ErrorCode::BadText, ErrorCode::BadText, ErrorCode::BadText]);
    assert_eq!(h.sent(), [], "nothing is sent");

    // "é€€" is 2 + 3 + 3 bytes: at 7 bytes a cut by bytes would fall inside the second '€'.
    h.cmd(C::Chat { text: "é€€".into(), id: Some("4".into()), utf8: Some(true) });
    assert_eq!(h.events(), [queued("4")]);
    let parts = [("é€", 0), ("€", 1)];
    for (text, seq) in parts {
        assert_eq!(h.raw_sent(), [bytes(Kind::Chat, seq, "alice", text)], "{text}");
        h.recv(peer(), Kind::Ack, seq, "bob", "");
    }
    assert_eq!(h.events(), [delivered("4")]);
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
    h.store();
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    let (ids, texts): (Vec<u64>, Vec<String>) = h
        .events()
        .into_iter()
        .map(|e| if let Event::Message { id, text, .. } = e { (id, text) } else { panic!("{e:?}") })
        .unzip();
    assert!(texts.len() > 1);
    assert_eq!(ids, (1..=texts.len() as u64).collect::<Vec<_>>(), "each part stored under its own id");
    for t in &texts {
        let event = Event::Message { id: u64::MAX, at: u64::MAX, user: "bob".into(), text: t.clone() };
        let line = serde_json::to_string(&event).unwrap();
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
    assert_eq!(h.events(), [message(1, "wait")]);
    h.expect_nothing();
}
