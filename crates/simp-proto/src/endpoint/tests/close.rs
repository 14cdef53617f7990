//! SPEC 2.3, closing: leaving, the peer's FIN, linger, a restarted peer, and shutdown.

use super::harness::*;
use crate::ipc::{Command as C, EndReason, Event};
use crate::wire::Kind;
use crate::StateName;

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
    assert_eq!(h.events(), [Event::Request { peer: peer(), user: "bob".into() }]);
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
            Event::Request { peer: peer(), user: "bob".into() },
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

// ----- the daemon shutting down -----

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
fn shutdown_finishes_the_message_in_flight_and_keeps_the_rest_without_an_outcome() {
    let mut h = H::chatting();
    h.chat("one", "1");
    h.chat("two", "2");
    h.chat("three", "3");
    h.expect_sent(&[w(peer(), Kind::Chat, 0, "alice", "one")]);
    h.expect_events(&[queued("1"), queued("2"), queued("3")]);
    h.ep.handle_shutdown(h.now);
    // "one" may have arrived: FIN now would leave its outcome unknown, and a re-send after the
    // restart might deliver it twice. Its ACK is waited for, with the usual re-sends.
    h.expect_nothing();
    assert_eq!(h.status().state, StateName::Leaving);
    h.wait(h.ep.config().timeout);
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "one")], "re-sent as usual");
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")], "then FIN; two and three are not sent");
    assert_eq!(h.events(), [delivered("1")], "no undelivered for two and three: the shell keeps them");
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.events(), [ended(EndReason::YouLeft)]);
    assert!(h.ep.is_idle());
    h.expect_nothing();
}

#[test]
fn shutdown_with_nothing_in_flight_sends_fin_at_once() {
    let mut h = H::chatting();
    h.chat("one", "1");
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    h.skip_events();
    h.sent();
    h.ep.handle_shutdown(h.now);
    assert_eq!(h.sent(), [w(peer(), Kind::Fin, 0, "alice", "")]);
    h.expect_nothing();
}

#[test]
fn outcomes_of_messages_sent_after_the_client_quit_still_reach_the_shell() {
    let mut h = H::chatting();
    h.chat("one", "1");
    h.chat("two", "2");
    h.skip_events();
    h.cmd(C::Quit);
    h.skip_events();
    h.recv(peer(), Kind::Ack, 0, "bob", "");
    assert_eq!(h.events(), [], "no client to tell");
    assert_eq!(h.ep.poll_unheard(), Some(delivered("1")), "but the shell's store is told");
    h.wait(h.ep.config().timeout * (h.ep.config().retries + 1));
    let unheard: Vec<Event> = std::iter::from_fn(|| h.ep.poll_unheard()).collect();
    assert_eq!(unheard, [Event::Undelivered { id: "2".into(), reason: EndReason::PeerUnreachable }]);
    assert_eq!(h.events(), []);
}
