//! SPEC 2.1, the handshake: the caller's and the callee's side, simultaneous open, and the
//! late handshake ACKs of the crate docs ("A limit of the one-bit sequence").

use std::time::Duration;

use super::harness::*;
use crate::ipc::{Command as C, EndReason, Event};
use crate::wire::{Kind, BUSY_TEXT};
use crate::{Config, StateName};

// ----- the caller's side -----

#[test]
fn caller_sends_syn_and_completes_the_handshake_with_ack() {
    let mut h = H::connected();
    h.cmd(C::Start { peer: "127.0.0.2".into() });
    assert_eq!(h.sent(), [w(peer(), Kind::Syn, 0, "alice", "")]);
    assert_eq!(h.events(), [Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }]);
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

// ----- the callee's side -----

#[test]
fn callee_is_asked_once_and_accepts() {
    let mut h = H::connected();
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    assert_eq!(h.events(), [Event::Request { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }]);
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
    assert_eq!(ev[1..], [Event::Request { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }]);
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
    // The messages went to the shell's store, which keeps them for the client.
    assert_eq!(h.stored, ["one", "two"]);
    h.cmd(C::Connect { user: "alice".into() });
    h.expect_events(&[connected_event()]);
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
fn ring_timeout_declines_saying_no_answer() {
    let mut h = H::with(|c| c.ring_timeout = Duration::from_secs(20));
    h.cmd(C::Connect { user: "alice".into() });
    h.expect_events(&[connected_event()]);
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.expect_events(&[request()]);
    h.wait(Duration::from_secs(19));
    assert_eq!(h.sent(), []);
    h.wait(Duration::from_secs(1));
    assert_eq!(h.sent(), [w(peer(), Kind::Err, 0, "alice", "No answer"), w(peer(), Kind::Fin, 0, "alice", "")]);
    assert_eq!(h.events(), [ended(EndReason::RequestExpired)]);
    h.expect_nothing();
}

#[test]
fn err_no_answer_then_fin_is_no_answer_not_a_decline() {
    let mut h = H::connected();
    h.cmd(C::Start { peer: "127.0.0.2".into() });
    h.expect_sent(&[w(peer(), Kind::Syn, 0, "alice", "")]);
    h.expect_events(&[calling()]);
    h.recv(peer(), Kind::Err, 0, "bob", "No answer");
    h.recv(peer(), Kind::Fin, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Ack, 0, "alice", "")]);
    assert_eq!(h.events(), [ended(EndReason::NoAnswer)]);
    h.expect_nothing();
}

#[test]
fn a_caller_that_acknowledged_our_decline_and_calls_back_is_asked_again() {
    let mut h = H::connected();
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.expect_events(&[request()]);
    h.cmd(C::Decline);
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")]);
    assert_eq!(h.events(), [ended(EndReason::Declined)]);
    // The caller got our FIN (its ACK says so): a SYN now is its user calling back.
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.wait(Duration::from_secs(1));
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    assert_eq!(h.sent(), []);
    h.expect_events(&[request()]);
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
    assert_eq!(h.events(), [established(), message(1, "hi")]);
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
            daemon: "127.0.0.3:7777".parse().unwrap(),
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
    assert!(sim.a.events.contains(&Event::Established { peer: peer(), user: "bob".into() }));
    assert!(sim.b.events.contains(&Event::Established { peer: me(), user: "alice".into() }));
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
