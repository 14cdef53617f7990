//! One scenario per SPEC 2 clause, on virtual time, asserting the exact datagrams and events.

mod harness;

use std::net::SocketAddr;
use std::time::Duration;

use crate::ipc::{Command as C, EndReason, ErrorCode, Event};
use crate::wire::{Datagram, Kind, BUSY_TEXT};
use crate::{Config, RtoMode, SeqMode, StateName};
use harness::*;

// ----- 2.1 handshake, caller side -----

#[test]
fn caller_sends_syn_and_completes_the_handshake_with_ack() {
    let mut h = H::connected();
    h.cmd(C::Start { peer: "127.0.0.2".into() });
    assert_eq!(h.sent(), [w(peer(), Kind::Syn, 0, "alice", "")]);
    assert_eq!(h.events(), [Event::Calling { peer: "127.0.0.2:7777".into() }]);
    h.recv(peer(), Kind::SynAck, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    assert_eq!(h.events(), [established()]);
    assert_eq!(h.ep.poll_timeout(), None, "nothing pending in an idle chat");
    h.expect_nothing();
}

#[test]
fn syn_is_resent_every_timeout_until_call_timeout_then_no_answer() {
    let mut h = H::with(|c| c.call_timeout = Duration::from_secs(12));
    h.cmd(C::Connect { user: "alice".into() });
    h.cmd(C::Start { peer: "127.0.0.2".into() });
    h.expect_sent(&[w(peer(), Kind::Syn, 0, "alice", "")]);
    h.expect_events(&[connected_event(), calling()]);
    h.wait(T - Duration::from_millis(1));
    assert_eq!(h.sent(), []);
    h.wait(Duration::from_millis(1));
    assert_eq!(h.sent(), [w(peer(), Kind::Syn, 0, "alice", "")]);
    h.wait(T);
    assert_eq!(h.sent(), [w(peer(), Kind::Syn, 0, "alice", "")]);
    h.wait(Duration::from_secs(2));
    // The call ends: one FIN to cancel the callee's ringing, not re-sent.
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")]);
    assert_eq!(h.events(), [ended(EndReason::NoAnswer)]);
    h.wait(T * 10);
    assert_eq!(h.sent(), []);
    assert!(h.ep.is_idle());
    h.expect_nothing();
}

#[test]
fn fin_answering_our_syn_is_a_decline() {
    let mut h = H::connected();
    h.cmd(C::Start { peer: "127.0.0.2".into() });
    h.expect_sent(&[w(peer(), Kind::Syn, 0, "alice", "")]);
    h.expect_events(&[calling()]);
    h.recv(peer(), Kind::Fin, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    assert_eq!(h.events(), [ended(EndReason::Declined)]);
    assert_eq!(h.ep.state(), StateName::Idle);
    h.expect_nothing();
}

#[test]
fn err_then_fin_is_busy_with_the_err_text() {
    let mut h = H::connected();
    h.cmd(C::Start { peer: "127.0.0.2".into() });
    h.expect_sent(&[w(peer(), Kind::Syn, 0, "alice", "")]);
    h.expect_events(&[calling()]);
    h.recv(peer(), Kind::Err, 0, "bob", BUSY_TEXT);
    assert_eq!(h.events(), []);
    h.recv(peer(), Kind::Fin, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    assert_eq!(h.events(), [Event::Ended { reason: EndReason::Busy, detail: Some(BUSY_TEXT.into()) }]);
    h.expect_nothing();
}

#[test]
fn resent_syn_ack_reaching_a_caller_in_the_chat_is_acked_again() {
    let mut h = H::chatting();
    h.recv(peer(), Kind::SynAck, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    assert_eq!(h.events(), []);
    h.expect_nothing();
}

// ----- 2.1 handshake, callee side -----

#[test]
fn callee_is_asked_once_and_accepts() {
    let mut h = H::connected();
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    assert_eq!(h.events(), [Event::Request { peer: "127.0.0.2:7777".into(), user: "bob".into() }]);
    assert_eq!(h.sent(), []);
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    assert_eq!(h.events(), [], "a re-sent SYN does not ask again");
    h.cmd(C::Accept);
    assert_eq!(h.sent(), [w(peer(), Kind::SynAck, 0, "alice", "")]);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.events(), [established()]);
    assert_eq!(h.ep.state(), StateName::Chatting);
    h.expect_nothing();
}

#[test]
fn request_waits_for_a_client_and_is_shown_when_one_attaches() {
    let mut h = H::new();
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    assert_eq!(h.sent(), []);
    assert_eq!(h.events(), []);
    h.wait(Duration::from_secs(30));
    h.cmd(C::Connect { user: "alice".into() });
    let ev = h.events();
    assert!(matches!(ev[0], Event::Connected { .. }));
    assert_eq!(ev[1..], [Event::Request { peer: "127.0.0.2:7777".into(), user: "bob".into() }]);
    h.expect_nothing();
}

#[test]
fn auto_accept_answers_without_a_client() {
    let mut h = H::with(|c| c.auto_accept = true);
    h.recv(stranger(), Kind::Syn, 0, "grader", "");
    assert_eq!(h.sent(), [w(stranger(), Kind::SynAck, 0, "", "")]);
    h.recv(stranger(), Kind::Chat, 0, "grader", "one");
    assert_eq!(h.sent(), [w(stranger(), Kind::Ack, 0, "", "")]);
    h.recv(stranger(), Kind::Chat, 1, "grader", "two");
    assert_eq!(h.sent(), [w(stranger(), Kind::Ack, 1, "", "")]);
    h.recv(stranger(), Kind::Fin, 0, "grader", "");
    assert_eq!(h.sent(), [w(stranger(), Kind::Ack, 0, "", "")]);
    // The messages were stored for the client.
    h.cmd(C::Connect { user: "alice".into() });
    let ev = h.events();
    let texts: Vec<_> = ev
        .iter()
        .filter_map(|e| if let Event::Message { text, .. } = e { Some(text.as_str()) } else { None })
        .collect();
    assert_eq!(texts, ["one", "two"]);
    h.expect_nothing();
}

#[test]
fn decline_sends_fin_and_a_resent_syn_gets_fin_again() {
    let mut h = H::connected();
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.expect_events(&[request()]);
    h.cmd(C::Decline);
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")]);
    assert_eq!(h.events(), [ended(EndReason::Declined)]);
    // Our FIN was lost, the caller re-sends SYN: answer FIN again, don't ring again.
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")]);
    assert_eq!(h.events(), []);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.sent(), []);
    h.expect_nothing();
}

#[test]
fn ring_timeout_declines() {
    let mut h = H::with(|c| c.ring_timeout = Duration::from_secs(20));
    h.cmd(C::Connect { user: "alice".into() });
    h.expect_events(&[connected_event()]);
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.expect_events(&[request()]);
    h.wait(Duration::from_secs(19));
    assert_eq!(h.sent(), []);
    h.wait(Duration::from_secs(1));
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")]);
    assert_eq!(h.events(), [ended(EndReason::RequestExpired)]);
    h.expect_nothing();
}

#[test]
fn syn_ack_is_resent_twice_on_its_own_and_once_per_resent_syn() {
    let mut h = H::with(|c| c.retries = 3);
    h.cmd(C::Connect { user: "alice".into() });
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.cmd(C::Accept);
    h.expect_events(&[connected_event(), request()]);
    let synack = || vec![w(peer(), Kind::SynAck, 0, "alice", "")];
    assert_eq!(h.sent(), synack());
    h.wait(T);
    assert_eq!(h.sent(), synack());
    h.wait(T);
    assert_eq!(h.sent(), synack());
    h.wait(T);
    assert_eq!(h.sent(), [], "three sends on our own for one SYN");
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    assert_eq!(h.sent(), synack(), "one more for each re-sent SYN");
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    assert_eq!(h.sent(), synack());
    // Silence from the caller for retries + 1 timeouts: the handshake is given up.
    h.wait(T * 4 - Duration::from_millis(1));
    assert_eq!(h.sent(), []);
    h.wait(Duration::from_millis(1));
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")]);
    assert_eq!(h.events(), [ended(EndReason::PeerUnreachable)]);
    h.expect_nothing();
}

#[test]
fn first_chat_datagram_is_an_implicit_ack() {
    let mut h = H::connected();
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.cmd(C::Accept);
    h.expect_events(&[request()]);
    h.expect_sent(&[w(peer(), Kind::SynAck, 0, "alice", "")]);
    h.recv(peer(), Kind::Chat, 0, "bob", "hi");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    assert_eq!(h.events(), [established(), message("hi")]);
    h.expect_nothing();
}

#[test]
fn simultaneous_open_higher_address_accepts() {
    // We are 127.0.0.3, higher than the peer: abandon our call, accept theirs.
    let mut h = H::with(|c| c.local = "127.0.0.3:7777".parse().unwrap());
    h.cmd(C::Connect { user: "alice".into() });
    h.cmd(C::Start { peer: "127.0.0.2".into() });
    h.expect_sent(&[w(peer(), Kind::Syn, 0, "alice", "")]);
    h.expect_events(&[
        Event::Connected {
            user: "alice".into(),
            daemon: "127.0.0.3:7777".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        calling(),
    ]);
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::SynAck, 0, "alice", "")]);
    assert_eq!(h.ep.state(), StateName::Accepting);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.events(), [established()]);
    h.expect_nothing();
}

#[test]
fn simultaneous_open_lower_address_stays_caller() {
    let mut h = H::connected(); // 127.0.0.1 < 127.0.0.2
    h.cmd(C::Start { peer: "127.0.0.2".into() });
    h.expect_sent(&[w(peer(), Kind::Syn, 0, "alice", "")]);
    h.expect_events(&[calling()]);
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    assert_eq!(h.sent(), []);
    assert_eq!(h.ep.state(), StateName::Calling);
    h.recv(peer(), Kind::SynAck, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    assert_eq!(h.events(), [established()]);
    h.expect_nothing();
}

#[test]
fn two_endpoints_calling_each_other_end_up_in_one_chat() {
    use crate::sim::{Link, Side, Sim};
    let a = Config::new(me());
    let b = Config::new(peer());
    let mut sim = Sim::new(1, a, b, Link::perfect(Duration::from_millis(10)));
    sim.command(Side::A, C::Connect { user: "alice".into() });
    sim.command(Side::B, C::Connect { user: "bob".into() });
    sim.command(Side::A, C::Start { peer: "127.0.0.2".into() });
    sim.command(Side::B, C::Start { peer: "127.0.0.1".into() });
    assert!(sim.run_until(Duration::from_secs(1), |s| s.a.ep.state() == StateName::Chatting
        && s.b.ep.state() == StateName::Chatting));
    assert!(sim.a.events.contains(&Event::Established { peer: peer().to_string(), user: "bob".into() }));
    assert!(sim.b.events.contains(&Event::Established { peer: me().to_string(), user: "alice".into() }));
}

// ----- 2.2 stop-and-wait -----

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

// ----- 2.3 closing -----

#[test]
fn leave_drains_the_queue_then_sends_fin_until_acked() {
    let mut h = H::chatting();
    h.chat("one", "1");
    h.chat("two", "2");
    h.cmd(C::Leave);
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "one")]);
    assert_eq!(h.ep.state(), StateName::Leaving);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 1, "alice", "two")]);
    h.recv(peer(), Kind::Ack, 1, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")]);
    h.wait(T);
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")]);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    let ev = h.events();
    assert_eq!(ev.last(), Some(&ended(EndReason::YouLeft)));
    assert!(ev.contains(&Event::Delivered { id: "2".into() }));
    assert_eq!(h.ep.state(), StateName::Idle);
    h.expect_nothing();
}

#[test]
fn fin_is_resent_up_to_retries_then_the_session_ends_anyway() {
    let mut h = H::chatting();
    h.cmd(C::Leave);
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")]);
    for _ in 0..5 {
        h.wait(T);
        assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")]);
    }
    h.wait(T);
    assert_eq!(h.sent(), []);
    assert_eq!(h.events(), [ended(EndReason::YouLeft)]);
    h.expect_nothing();
}

#[test]
fn fin_from_the_peer_is_acked_with_its_seq_and_queued_messages_reported() {
    let mut h = H::chatting();
    h.chat("one", "1");
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "one")]);
    h.expect_events(&[queued("1")]);
    h.recv(peer(), Kind::Fin, 1, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 1, "alice", "")]);
    assert_eq!(
        h.events(),
        [Event::Undelivered { id: "1".into(), reason: EndReason::PeerLeft }, ended(EndReason::PeerLeft)]
    );
    h.expect_nothing();
}

#[test]
fn linger_reacks_fin_and_drops_the_rest_for_two_timeouts() {
    let mut h = H::chatting();
    h.recv(peer(), Kind::Fin, 0, "bob", "");
    h.expect_sent(&[w(peer(), Kind::Ack, 0, "alice", "")]);
    h.expect_events(&[ended(EndReason::PeerLeft)]);
    h.wait(T);
    h.recv(peer(), Kind::Fin, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    h.recv(peer(), Kind::Chat, 1, "bob", "late");
    assert_eq!(h.sent(), []);
    assert_eq!(h.events(), []);
    h.wait(T);
    h.recv(peer(), Kind::Fin, 0, "bob", "");
    assert_eq!(h.sent(), [], "linger is over after 2 x timeout");
    assert_eq!(h.ep.poll_timeout(), None);
    h.expect_nothing();
}

#[test]
fn a_syn_from_the_lingering_peer_is_a_new_call() {
    let mut h = H::chatting();
    h.recv(peer(), Kind::Fin, 0, "bob", "");
    h.expect_sent(&[w(peer(), Kind::Ack, 0, "alice", "")]);
    h.expect_events(&[ended(EndReason::PeerLeft)]);
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    assert_eq!(h.events(), [Event::Request { peer: peer().to_string(), user: "bob".into() }]);
    h.expect_nothing();
}

#[test]
fn a_syn_from_the_peer_well_into_the_chat_is_a_restarted_peer_calling_again() {
    // The peer's daemon crashed and came back at the same address (SPEC 2.3): its SYN ends
    // the old chat without a FIN (a FIN would decline the new call) and rings as a new call.
    let mut h = H::chatting();
    h.chat("to the old bob", "1");
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "to the old bob")]);
    h.expect_events(&[queued("1")]);
    h.wait(T / 2);
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    assert_eq!(h.sent(), [], "within one timeout of the handshake a SYN may be a stale copy");
    assert_eq!(h.events(), []);
    assert_eq!(h.ep.state(), StateName::Chatting);
    h.wait(T / 2);
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "to the old bob")]); // the re-send of "to the old bob"
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    assert_eq!(h.sent(), [], "no FIN to the new incarnation");
    assert_eq!(
        h.events(),
        [
            Event::Undelivered { id: "1".into(), reason: EndReason::PeerLeft },
            ended(EndReason::PeerLeft),
            Event::Request { peer: peer().to_string(), user: "bob".into() },
        ]
    );
    h.cmd(C::Accept);
    assert_eq!(h.sent(), [w(peer(), Kind::SynAck, 0, "alice", "")]);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.events(), [established()]);
    h.chat("to the new bob", "2");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "to the new bob")], "a fresh session: seq 0");
    h.expect_events(&[queued("2")]);
    h.expect_nothing();
}

#[test]
fn a_restarted_peer_is_accepted_at_once_by_an_auto_accept_daemon() {
    let mut h = H::with(|c| c.auto_accept = true);
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.expect_sent(&[w(peer(), Kind::SynAck, 0, "", "")]);
    assert_eq!(h.ep.state(), StateName::Chatting);
    h.wait(T);
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::SynAck, 0, "", "")]);
    assert_eq!(h.ep.state(), StateName::Accepting);
    h.expect_nothing();
}

#[test]
fn crossing_fins_both_end() {
    let mut h = H::chatting();
    h.cmd(C::Leave);
    h.expect_sent(&[w(peer(), Kind::Fin, 0, "alice", "")]);
    h.recv(peer(), Kind::Fin, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    assert_eq!(h.events(), [ended(EndReason::YouLeft)]);
    h.expect_nothing();
}

#[test]
fn client_gone_mid_chat_counts_as_quit_and_fins_the_peer() {
    let mut h = H::chatting();
    h.ep.handle_client_gone(h.now);
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")]);
    assert!(!h.ep.has_client());
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.events(), [], "no one to tell");
    assert!(h.ep.is_idle());
    h.expect_nothing();
}

// ----- 2.4 busy, 2.5 strangers -----

#[test]
fn busy_reply_is_err_then_fin_rate_limited_per_source() {
    let mut h = H::chatting();
    for _ in 0..10 {
        h.recv(stranger(), Kind::Syn, 0, "carol", "");
    }
    let sent = h.sent();
    let pair = [w(stranger(), Kind::Err, 0, "alice", BUSY_TEXT), w(stranger(), Kind::Fin, 0, "alice", "")];
    assert_eq!(sent.len(), 10, "a burst of 5 ERR+FIN pairs");
    assert!(sent.chunks(2).all(|c| c == pair));
    h.wait(Duration::from_secs(1));
    h.recv(stranger(), Kind::Syn, 0, "carol", "");
    h.recv(stranger(), Kind::Syn, 0, "carol", "");
    assert_eq!(h.sent(), pair, "then one per second");
    assert_eq!(h.events(), [], "the session is not disturbed");
    assert_eq!(h.ep.stats().busy_replies, 6);
    assert_eq!(h.ep.stats().busy_suppressed, 6);
    // The chat carries on.
    h.chat("still here", "1");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "still here")]);
    h.expect_events(&[queued("1")]);
    h.expect_nothing();
}

#[test]
fn busy_in_every_non_idle_state() {
    /// How to get into a state, and the kinds of what that sends to the peer.
    type Enter = (fn(&mut H), &'static [Kind]);
    let states: [Enter; 4] = [
        (|h| h.cmd(C::Start { peer: "127.0.0.2".into() }), &[Kind::Syn]),
        (|h| h.recv(peer(), Kind::Syn, 0, "bob", ""), &[]),
        (
            |h| {
                h.recv(peer(), Kind::Syn, 0, "bob", "");
                h.cmd(C::Accept)
            },
            &[Kind::SynAck],
        ),
        (
            |h| {
                h.cmd(C::Start { peer: "127.0.0.2".into() });
                h.recv(peer(), Kind::SynAck, 0, "bob", "");
                h.cmd(C::Leave);
            },
            &[Kind::Syn, Kind::Ack, Kind::Fin],
        ),
    ];
    for (enter, kinds) in states {
        let mut h = H::connected();
        enter(&mut h);
        let state = h.ep.state();
        h.expect_sent(&kinds.iter().map(|&k| w(peer(), k, 0, "alice", "")).collect::<Vec<_>>());
        h.recv(stranger(), Kind::Syn, 0, "carol", "");
        assert_eq!(h.sent().iter().map(|w| w.kind).collect::<Vec<_>>(), [Kind::Err, Kind::Fin], "in {state}");
        assert_eq!(h.ep.state(), state);
    }
}

#[test]
fn strangers_cannot_end_fake_or_ack_anything() {
    let mut h = H::chatting();
    h.chat("pending", "1");
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "pending")]);
    h.expect_events(&[queued("1")]);
    h.recv(stranger(), Kind::Fin, 0, "mallory", "");
    h.recv(stranger(), Kind::Ack, 0, "mallory", "");
    h.recv(stranger(), Kind::Ack, 1, "mallory", "");
    h.recv(stranger(), Kind::Chat, 0, "mallory", "fake");
    h.recv(stranger(), Kind::SynAck, 0, "mallory", "");
    h.recv(stranger(), Kind::Err, 0, "mallory", "boom");
    // Same IP, other port: still a stranger.
    h.recv("127.0.0.2:7778".parse().unwrap(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.sent(), []);
    assert_eq!(h.events(), []);
    assert_eq!(h.ep.state(), StateName::Chatting);
    assert_eq!(h.ep.stats().strangers, 7);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.events(), [Event::Delivered { id: "1".into() }]);
    h.expect_nothing();
}

#[test]
fn err_from_the_peer_mid_chat_is_shown_and_changes_nothing() {
    let mut h = H::chatting();
    h.recv(peer(), Kind::Err, 0, "bob", "disk on fire");
    assert_eq!(h.events(), [Event::error(ErrorCode::PeerError, "disk on fire")]);
    assert_eq!(h.ep.state(), StateName::Chatting);
    h.expect_nothing();
}

#[test]
fn malformed_datagrams_are_dropped_and_counted() {
    let mut h = H::chatting();
    h.ep.handle_datagram(h.now, peer(), &[1, 8, 0]);
    let mut fin = bytes(Kind::Fin, 0, "bob", "");
    fin[2] = 2;
    h.ep.handle_datagram(h.now, peer(), &fin);
    assert_eq!(h.sent(), []);
    assert_eq!(h.ep.state(), StateName::Chatting);
    assert_eq!(h.ep.stats().malformed, 2);
    h.expect_nothing();
}

// ----- 2.6 options -----

#[test]
fn shared_seq_mode_uses_one_bit_for_both_directions() {
    let mut h = H::chatting_with(|c| c.seq_mode = SeqMode::Shared);
    h.chat("hi", "1"); // bit 0
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "hi")]);
    h.recv(peer(), Kind::Ack, 0, "bob", ""); // bit -> 1
    h.recv(peer(), Kind::Chat, 1, "bob", "hello"); // matches: delivered, bit -> 0
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 1, "alice", "")]);
    h.recv(peer(), Kind::Chat, 1, "bob", "hello"); // duplicate
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 1, "alice", "")]);
    h.chat("bye", "2");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "bye")]);
    assert_eq!(
        h.events(),
        [
            Event::Queued { id: "1".into() },
            Event::Delivered { id: "1".into() },
            message("hello"),
            Event::Queued { id: "2".into() }
        ]
    );
    h.expect_nothing();
}

#[test]
fn adaptive_rto_follows_measured_rtt_with_karns_rule() {
    let mut h = H::with(|c| c.rto = RtoMode::Adaptive);
    h.cmd(C::Connect { user: "alice".into() });
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.cmd(C::Accept);
    h.now += Duration::from_millis(40);
    h.recv(peer(), Kind::Ack, 0, "bob", ""); // sample 40 ms: RTO = 40 + 4*20 = 120 -> floor 200
    h.expect_sent(&[w(peer(), Kind::SynAck, 0, "alice", "")]);
    h.expect_events(&[connected_event(), request(), established()]);
    h.chat("x", "1");
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "x")]);
    h.wait(Duration::from_millis(199));
    assert_eq!(h.sent(), []);
    h.wait(Duration::from_millis(1));
    assert_eq!(h.sent().len(), 1, "re-sent after 200 ms");
    h.wait(Duration::from_millis(400));
    assert_eq!(h.sent().len(), 1, "then after a doubled 400 ms");
    // Karn: the ACK of a re-sent datagram gives no sample, so the backed-off RTO stays.
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.expect_events(&[queued("1"), delivered("1")]);
    assert_eq!(h.status().rto_ms, 800);
    assert_eq!(h.status().rtt_ms, Some(40.0));
    h.chat("y", "2");
    h.expect_sent(&[w(peer(), Kind::Chat, 1, "alice", "y")]);
    h.now += Duration::from_millis(40);
    h.recv(peer(), Kind::Ack, 1, "bob", "");
    h.expect_events(&[queued("2"), delivered("2")]);
    assert_eq!(h.status().rto_ms, 200, "a clean sample brings it back");
    h.expect_nothing();
}

#[test]
fn fixed_rto_is_the_timeout() {
    let mut h = H::chatting();
    h.chat("x", "1");
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "x")]);
    h.wait(T - Duration::from_millis(1));
    assert_eq!(h.sent(), []);
    h.wait(Duration::from_millis(1));
    assert_eq!(h.sent().len(), 1);
    h.expect_events(&[queued("1")]);
    h.expect_nothing();
}

// ----- commands -----

#[test]
fn commands_before_connect_are_refused() {
    let mut h = H::new();
    h.cmd(C::Start { peer: "127.0.0.2".into() });
    h.cmd(C::Status);
    assert_eq!(code(&h.events()), [ErrorCode::NotConnected, ErrorCode::NotConnected]);
    assert_eq!(h.sent(), []);
    h.expect_nothing();
}

#[test]
fn bad_commands_get_errors_and_change_nothing() {
    let mut h = H::new();
    h.cmd(C::Connect { user: "".into() });
    h.cmd(C::Connect { user: "x".repeat(33) });
    assert_eq!(code(&h.events()), [ErrorCode::BadUser, ErrorCode::BadUser]);
    let mut h = H::connected();
    h.cmd(C::Start { peer: "nowhere".into() });
    h.cmd(C::Start { peer: "127.0.0.1".into() });
    h.cmd(C::Accept);
    h.cmd(C::Decline);
    h.cmd(C::Chat { text: "hi".into(), id: None });
    h.cmd(C::Leave);
    use ErrorCode::*;
    assert_eq!(code(&h.events()), [BadPeer, BadPeer, NoRequest, NoRequest, NotInChat, NotInChat]);
    assert_eq!(h.sent(), []);
    assert_eq!(h.ep.state(), StateName::Idle);

    let mut h = H::chatting();
    h.chat("café", "1");
    h.chat("bell\u{7}", "2");
    h.cmd(C::Start { peer: "127.0.0.3".into() });
    let ev = h.events();
    assert_eq!(code(&ev), [BadText, BadText, Busy]);
    assert!(matches!(&ev[0], Event::Error { message, .. } if message.contains("'é'")));
    assert_eq!(h.sent(), [], "nothing is sent");
    assert_eq!(h.ep.state(), StateName::Chatting);
    h.expect_nothing();
}

#[test]
fn status_reports_the_session() {
    let mut h = H::chatting();
    h.cmd(C::Status);
    let ev = h.events();
    let Event::Status(s) = &ev[0] else { panic!("{ev:?}") };
    assert_eq!(s.state, "chatting");
    assert_eq!(s.peer.as_deref(), Some("127.0.0.2:7777"));
    assert_eq!(s.peer_user.as_deref(), Some("bob"));
    assert_eq!(s.user.as_deref(), Some("alice"));
    h.expect_nothing();
}

#[test]
fn reconnecting_client_sees_the_current_chat() {
    let mut h = H::chatting();
    h.cmd(C::Connect { user: "alice".into() });
    let ev = h.events();
    assert!(matches!(ev[0], Event::Connected { .. }));
    assert_eq!(ev[1..], [established()]);
    h.expect_nothing();
}

// ----- arbitrary input -----

mod arbitrary {
    use super::*;
    use proptest::prelude::*;

    fn arb_datagram() -> impl Strategy<Value = Vec<u8>> {
        let structured = (prop::sample::select(Kind::ALL.to_vec()), 0u8..2, "[a-z]{0,8}", "[ -~]{0,40}")
            .prop_map(|(k, s, u, p)| bytes(k, s, &u, &p));
        let raw = prop::collection::vec(any::<u8>(), 0..120);
        prop_oneof![3 => structured, 1 => raw]
    }

    fn arb_addr() -> impl Strategy<Value = SocketAddr> {
        (1u8..=5, prop::sample::select(vec![7777u16, 7778, 40000]))
            .prop_map(|(host, port)| SocketAddr::from(([127, 0, 0, host], port)))
    }

    fn arb_command() -> impl Strategy<Value = C> {
        prop_oneof![
            "[a-z]{0,3}".prop_map(|user| C::Connect { user }),
            prop::sample::select(vec!["127.0.0.2", "127.0.0.3:7777", "x", "127.0.0.1"])
                .prop_map(|p| C::Start { peer: p.into() }),
            Just(C::Accept),
            Just(C::Decline),
            "[ -~]{0,20}".prop_map(|text| C::Chat { text, id: None }),
            Just(C::Leave),
            Just(C::Quit),
            Just(C::Status),
        ]
    }

    #[derive(Debug, Clone)]
    enum Input {
        Datagram(SocketAddr, Vec<u8>),
        Command(C),
        Wait(u64),
        ClientGone,
    }

    fn arb_input() -> impl Strategy<Value = Input> {
        prop_oneof![
            6 => (arb_addr(), arb_datagram()).prop_map(|(a, b)| Input::Datagram(a, b)),
            2 => arb_command().prop_map(Input::Command),
            1 => (0u64..8000).prop_map(Input::Wait),
            1 => Just(Input::ClientGone),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any mix of datagrams, commands, waits and disconnections: no panic, and the
        /// endpoint's invariants hold (one timer at most, a peer exactly when not idle).
        #[test]
        fn never_panics_on_any_input(inputs in prop::collection::vec(arb_input(), 0..60), auto in any::<bool>()) {
            let mut h = H::with(|c| c.auto_accept = auto);
            for input in inputs {
                match input {
                    Input::Datagram(from, b) => h.ep.handle_datagram(h.now, from, &b),
                    Input::Command(c) => h.cmd(c),
                    Input::Wait(ms) => h.wait(Duration::from_millis(ms)),
                    Input::ClientGone => h.ep.handle_client_gone(h.now),
                }
                for t in std::iter::from_fn(|| h.ep.poll_transmit()) {
                    prop_assert!(Datagram::parse(t.bytes()).is_ok(), "we only send valid datagrams");
                }
                h.skip_events();
                prop_assert_eq!(h.ep.peer().is_none(), h.ep.state() == StateName::Idle);
            }
            // Left alone, every timer runs out: no endless re-sends, no busy loop. Only a
            // quiet chat (nothing in flight) may stay open without a timer.
            h.ep.handle_client_gone(h.now);
            h.wait(Duration::from_secs(3600));
            prop_assert_eq!(h.ep.poll_timeout(), None);
            prop_assert!(matches!(h.ep.state(), StateName::Idle | StateName::Chatting), "{}", h.ep.state());
        }

        /// Strangers' datagrams never change an established session (SPEC 2.5): no event,
        /// nothing delivered, nothing marked delivered, nothing sent to the peer.
        #[test]
        fn strangers_never_change_the_session(
            inputs in prop::collection::vec((arb_addr(), arb_datagram()), 1..80),
        ) {
            let mut h = H::chatting();
            h.chat("pending", "1");
            h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "pending")]);
            h.expect_events(&[queued("1")]);
            for (from, b) in inputs {
                let from = if from == peer() { stranger() } else { from };
                h.ep.handle_datagram(h.now, from, &b);
                for w in h.sent() {
                    prop_assert_ne!(w.to, peer());
                    prop_assert!(matches!(w.kind, Kind::Err | Kind::Fin), "only busy replies: {w:?}");
                }
                prop_assert_eq!(h.events(), []);
                prop_assert_eq!(h.ep.state(), StateName::Chatting);
                prop_assert_eq!(h.ep.peer(), Some(peer()));
            }
            h.recv(peer(), Kind::Ack, 0, "bob", "");
            prop_assert_eq!(h.events(), [Event::Delivered { id: "1".into() }]);
        }
    }
}

#[test]
fn shutdown_leaves_the_session_even_without_a_client() {
    let mut h = H::with(|c| c.auto_accept = true);
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.expect_sent(&[w(peer(), Kind::SynAck, 0, "", "")]);
    h.ep.handle_shutdown(h.now);
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "", "")]);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert!(h.ep.is_idle());
    h.expect_nothing();
}

#[test]
fn shutdown_sends_fin_at_once_and_reports_the_queue() {
    let mut h = H::chatting();
    h.chat("one", "1");
    h.chat("two", "2");
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "one")]);
    h.expect_events(&[queued("1"), queued("2")]);
    h.ep.handle_shutdown(h.now);
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")]);
    assert_eq!(
        h.events(),
        [
            Event::Undelivered { id: "1".into(), reason: EndReason::YouLeft },
            Event::Undelivered { id: "2".into(), reason: EndReason::YouLeft },
        ]
    );
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.events(), [ended(EndReason::YouLeft)]);
    h.expect_nothing();
}

// ----- late handshake ACKs (crate docs, "A limit of the one-bit sequence") -----

/// bob called alice (us); our SYN+ACK was re-sent once before bob's first ACK arrived.
fn callee_after_a_resent_syn_ack() -> H {
    let mut h = H::connected();
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.cmd(C::Accept);
    h.wait(T); // re-sent SYN+ACK: bob will answer both
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.expect_sent(&[w(peer(), Kind::SynAck, 0, "alice", ""), w(peer(), Kind::SynAck, 0, "alice", "")]);
    h.expect_events(&[request(), established()]);
    assert_eq!(h.ep.state(), StateName::Chatting);
    h
}

#[test]
fn the_answer_to_a_resent_syn_ack_is_not_taken_for_our_first_chat_ack() {
    let mut h = callee_after_a_resent_syn_ack();
    h.chat("first", "1");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "first")]);
    h.recv(peer(), Kind::Ack, 0, "bob", ""); // bob's ACK to our second SYN+ACK, late
    assert_eq!(h.events(), [Event::Queued { id: "1".into() }], "not delivered by a handshake ACK");
    h.recv(peer(), Kind::Ack, 0, "bob", ""); // the real one
    assert_eq!(h.events(), [Event::Delivered { id: "1".into() }]);
    h.expect_nothing();
}

#[test]
fn a_late_handshake_ack_before_we_send_is_absorbed() {
    let mut h = callee_after_a_resent_syn_ack();
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.chat("first", "1");
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "first")]);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.events(), [Event::Queued { id: "1".into() }, Event::Delivered { id: "1".into() }]);
    h.expect_nothing();
}

#[test]
fn when_the_late_ack_never_comes_the_first_message_costs_one_resend() {
    let mut h = callee_after_a_resent_syn_ack();
    h.chat("first", "1");
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "first")]);
    h.expect_events(&[queued("1")]);
    h.recv(peer(), Kind::Ack, 0, "bob", ""); // the real ACK, taken as the late one
    assert_eq!(h.events(), []);
    h.wait(T);
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "first")], "re-sent on its timeout");
    h.recv(peer(), Kind::Ack, 0, "bob", ""); // bob re-acknowledges the duplicate
    assert_eq!(h.events(), [Event::Delivered { id: "1".into() }]);
    h.expect_nothing();
}

#[test]
fn one_syn_ack_one_ack_changes_nothing() {
    let mut h = H::connected();
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.cmd(C::Accept);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.expect_sent(&[w(peer(), Kind::SynAck, 0, "alice", "")]);
    h.expect_events(&[request(), established()]);
    h.chat("first", "1");
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "first")]);
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.events(), [Event::Queued { id: "1".into() }, Event::Delivered { id: "1".into() }]);
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
    use super::STORE_MAX_BYTES;
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

#[test]
fn chunks_never_cut_an_escape() {
    // Internal: a unit test of the engine's splitting of long messages into events.
    use super::{chunks, MESSAGE_JSON_BUDGET};
    for lead in 0..4 {
        let text = format!("{}{}", "a".repeat(lead), "\\xff".repeat(40_000));
        let pieces: Vec<&str> = chunks(&text).collect();
        assert_eq!(pieces.concat(), text);
        for p in &pieces {
            assert!(p.len() <= MESSAGE_JSON_BUDGET);
            let tail = p.trim_start_matches('a');
            assert!(tail.len() % 4 == 0 && (tail.is_empty() || tail.starts_with("\\x")), "lead {lead}: a cut escape");
        }
    }
}
