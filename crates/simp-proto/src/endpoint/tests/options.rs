//! SPEC 2.6, options beyond the course text: shared sequence bit, adaptive RTO.

use std::time::Duration;

use super::harness::*;
use crate::ipc::{Command as C, Event};
use crate::wire::Kind;
use crate::{RtoMode, SeqMode};

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
            message(1, "hello"),
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
