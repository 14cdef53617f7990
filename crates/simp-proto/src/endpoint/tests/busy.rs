//! SPEC 2.4 and 2.5: the busy reply to other callers, and strangers who cannot change the
//! session.

use std::time::Duration;

use super::harness::*;
use crate::ipc::{Command as C, ErrorCode, Event};
use crate::wire::{Kind, BUSY_TEXT};
use crate::StateName;

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
    let missed = Event::Missed { peer: stranger(), user: "carol".into() };
    assert_eq!(h.events(), vec![missed; 6], "the user hears of each call turned away, nothing else");
    assert_eq!(h.ep.stats().busy_replies, 6);
    assert_eq!(h.ep.stats().busy_suppressed, 6);
    // The chat carries on.
    h.chat("still here", "1");
    assert_eq!(h.sent(), [w(peer(), Kind::Chat, 0, "alice", "still here")]);
    h.expect_events(&[queued("1")]);
    h.expect_nothing();
}

#[test]
fn calls_missed_while_no_client_was_attached_are_listed_when_one_connects() {
    let mut h = H::with(|c| c.auto_accept = true);
    h.recv(peer(), Kind::Syn, 0, "bob", "");
    h.ep.handle_datagram(h.now, stranger(), &[b"\x01\x02\x00carol\x1b".as_slice(), &[0; 26], &[0; 4]].concat());
    let sent = h.sent();
    assert_eq!(
        sent[sent.len() - 2..],
        [w(stranger(), Kind::Err, 0, "", BUSY_TEXT), w(stranger(), Kind::Fin, 0, "", "")]
    );
    assert_eq!(h.events(), []);
    h.cmd(C::Connect { user: "alice".into() });
    let events = h.events();
    let missed = Event::Missed { peer: stranger(), user: "carol\\x1b".into() };
    assert!(events.contains(&missed), "{events:?}");
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
