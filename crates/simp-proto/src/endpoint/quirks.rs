//! Peers as they are (SPEC 3): telling ACKs that carry a fixed seq from stray duplicates,
//! and which quirks a chat has already reported.

use std::time::Duration;

use tracing::info;

use super::sender::InFlight;
use super::Context;
use crate::ipc::{Event, Quirk};
use crate::wire::Seq;
use crate::Instant;

/// The quirks a chat has reported: each one once (IPC.md `peer-quirk`).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Reported(u8);

impl Reported {
    /// Logs `quirk` at info level and tells the client, the first time it is seen in this chat.
    pub(super) fn report(&mut self, quirk: Quirk, detail: impl FnOnce() -> String, cx: &mut Context) {
        let bit = 1u8 << Quirk::ALL.iter().position(|&q| q == quirk).unwrap_or(0);
        if self.0 & bit != 0 {
            return;
        }
        self.0 |= bit;
        let detail = detail();
        info!(%quirk, "peer quirk: {detail}");
        cx.mailbox.emit(Event::PeerQuirk { quirk, detail });
    }
}

/// What the ACKs of the peer have shown: whether they echo our seq (SPEC 2.2) or always carry
/// the same one.
///
/// With a conforming peer on an in-order network, an ACK with the other seq than the datagram
/// in flight answers a copy of the datagram before it: at most one per copy sent less the one
/// that acknowledged it, and none later than a round trip after the last copy. An ACK past
/// that count, arriving after our re-send and at least one timeout after the last copy of the
/// datagram before (SPEC 3: a timeout is longer than a round trip), answers the datagram in
/// flight: the peer's ACKs carry a fixed seq. From then on any ACK acknowledges the datagram
/// in flight, and after a datagram sent more than once the next one waits until a timeout
/// after its last copy, so that no late answer to a copy can be taken for the next one's.
#[derive(Debug, Default)]
pub(super) struct Acks {
    /// The seq every ACK of the peer carries, once proven.
    fixed: Option<Seq>,
    /// The datagram acknowledged before the one in flight.
    previous: Option<Copies>,
    /// ACKs with the other seq since the datagram in flight was first sent.
    wrong: u32,
}

/// How often, and until when, a datagram was sent.
#[derive(Debug, Clone, Copy)]
struct Copies {
    copies: u32,
    last_sent: Instant,
}

impl Acks {
    /// The seq of every ACK, once the peer proved it fixed.
    pub(super) fn fixed(&self) -> Option<Seq> {
        self.fixed
    }

    /// An ACK with `seq`, not the seq of `f` in flight, arrived at `now`. True when it proves
    /// the peer's ACKs fixed; it then acknowledges `f`.
    pub(super) fn wrong_ack(&mut self, now: Instant, seq: Seq, f: &InFlight, rto: Duration) -> bool {
        self.wrong = self.wrong.saturating_add(1);
        let stray = self.previous.map_or(0, |p| p.copies.saturating_sub(1));
        let drained = self.previous.is_none_or(|p| now >= p.last_sent + rto);
        if f.resends > 0 && self.wrong > stray && drained {
            self.fixed = Some(seq);
            return true;
        }
        false
    }

    /// `f` was acknowledged. Returns until when the next datagram must wait, if it must.
    pub(super) fn acknowledged(&mut self, f: &InFlight, rto: Duration) -> Option<Instant> {
        self.previous = Some(Copies { copies: f.resends.saturating_add(1), last_sent: f.last_sent });
        self.wrong = 0;
        (self.fixed.is_some() && f.resends > 0).then(|| f.last_sent + rto)
    }
}
