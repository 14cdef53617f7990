//! Sequence bits (SPEC 2.6): one alternating bit per direction, or one shared by both, and
//! `auto`, which starts per direction and switches when the peer proves it shares one bit.

use crate::wire::Seq;

/// How sequence bits are assigned (SPEC 2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeqMode {
    /// Per direction, until the peer's seqs prove it shares one bit; then shared (the default).
    #[default]
    Auto,
    /// One alternating bit per direction.
    PerDirection,
    /// One bit per session for both directions, for turn-taking peers.
    Shared,
}

/// One chat's sequence bits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeqBits {
    /// One bit for both directions now (`shared`, or `auto` once proven).
    shared: bool,
    /// Per direction: the bit of our next chat datagram.
    tx_next: Seq,
    /// Shared: the session's bit.
    bit: Seq,
    /// Whether a message from the peer was taken yet: the first one sets the shared bit
    /// (SPEC 2.6, "follows the peer's first bit").
    heard: bool,
    /// Our messages acknowledged since the peer's last one was taken.
    ours_since: u32,
    /// The seq of the peer's last message taken.
    last_rx: Option<Seq>,
    /// `auto`, until it switches: what the peer's seqs have shown so far.
    evidence: Option<Evidence>,
}

/// What tells a shared bit from per-direction bits (SPEC 2.6, `auto`). Between two messages
/// of the peer, a shared bit moves once for each of ours: the peer's seq repeats after an odd
/// number of ours and alternates after an even number. A per-direction peer alternates always
/// (or, with the quirk, never): it cannot show both.
#[derive(Debug, Clone, Copy, Default)]
struct Evidence {
    /// The seq repeated after an odd number of our messages.
    repeated_after_odd: bool,
    /// The seq alternated after an even number of ours.
    alternated_after_even: bool,
    /// Something no shared peer does: never switch.
    refuted: bool,
}

impl SeqBits {
    /// The bits of a new chat: both directions start at 0.
    pub(crate) fn new(mode: SeqMode) -> SeqBits {
        SeqBits {
            shared: mode == SeqMode::Shared,
            tx_next: Seq::Zero,
            bit: Seq::Zero,
            heard: false,
            ours_since: 0,
            last_rx: None,
            evidence: (mode == SeqMode::Auto).then(Evidence::default),
        }
    }

    /// Whether one bit serves both directions now.
    pub(crate) fn is_shared(self) -> bool {
        self.shared
    }

    /// The bit of our next chat datagram.
    pub(crate) fn tx(self) -> Seq {
        if self.shared {
            self.bit
        } else {
            self.tx_next
        }
    }

    /// Our messages acknowledged since the peer's last one was taken.
    pub(crate) fn ours_since(self) -> u32 {
        self.ours_since
    }

    /// A new chat datagram with `seq` was taken. True when `auto` has just switched to one
    /// shared bit.
    pub(crate) fn received(&mut self, seq: Seq) -> bool {
        let switched = self.weigh(seq);
        if switched {
            self.shared = true;
        }
        if self.shared {
            // The peer's first message, before anything went either way, says where its bit
            // stands; after that the bit moves once per message either way (a message that
            // crossed ours was stamped before it counted ours).
            let first = !self.heard && self.ours_since == 0;
            self.bit = if first || switched { seq.flip() } else { self.bit.flip() };
        }
        self.heard = true;
        self.last_rx = Some(seq);
        self.ours_since = 0;
        switched
    }

    /// Our chat datagram was acknowledged.
    pub(crate) fn acknowledged(&mut self) {
        if self.shared {
            self.bit = self.bit.flip();
        } else {
            self.tx_next = self.tx_next.flip();
        }
        self.ours_since = self.ours_since.saturating_add(1);
    }

    /// `auto`: adds the peer's message with `seq` to the evidence; true once it proves a
    /// shared bit.
    fn weigh(&mut self, seq: Seq) -> bool {
        let (Some(e), Some(last)) = (self.evidence.as_mut(), self.last_rx) else { return false };
        let odd = self.ours_since % 2 == 1;
        match (seq == last, odd) {
            (true, true) => e.repeated_after_odd = true,
            (false, false) => e.alternated_after_even = true,
            _ => e.refuted = true,
        }
        if e.refuted || !(e.repeated_after_odd && e.alternated_after_even) {
            return false;
        }
        self.evidence = None;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replays a chat: `o` = one of ours acknowledged, `0`/`1` = a peer message with that seq.
    fn replay(mode: SeqMode, script: &str) -> (SeqBits, bool) {
        let mut bits = SeqBits::new(mode);
        let mut switched = false;
        for c in script.chars() {
            match c {
                'o' => bits.acknowledged(),
                '0' => switched |= bits.received(Seq::Zero),
                '1' => switched |= bits.received(Seq::One),
                _ => unreachable!(),
            }
        }
        (bits, switched)
    }

    #[test]
    fn auto_switches_only_on_proof_of_a_shared_bit() {
        // A shared peer taking turns one message each repeats its seq, like a peer whose seq
        // never moves: not yet a proof.
        let (bits, switched) = replay(SeqMode::Auto, "0o0o0o0");
        assert!(!switched && !bits.is_shared());
        // Then two of its messages in a row alternate: proven.
        let (bits, switched) = replay(SeqMode::Auto, "0o01");
        assert!(switched && bits.is_shared());
        assert_eq!(bits.tx(), Seq::Zero, "after the peer's 1, the shared bit is 0");
        // Per-direction peers never prove it, whatever they do.
        for script in ["0o1o0o1", "01010101", "0o0o0o0", "00000", "1o0o1", "0oo1oo0o1"] {
            let (bits, switched) = replay(SeqMode::Auto, script);
            assert!(!switched && !bits.is_shared(), "{script}");
        }
    }

    #[test]
    fn shared_follows_the_peers_first_bit() {
        let (bits, _) = replay(SeqMode::Shared, "1");
        assert_eq!(bits.tx(), Seq::Zero);
        let (bits, _) = replay(SeqMode::Shared, "o1");
        assert_eq!(bits.tx(), Seq::Zero);
        // After the first, the bit moves once per message either way.
        let (bits, _) = replay(SeqMode::Shared, "0o0");
        assert_eq!(bits.tx(), Seq::One);
        let (bits, _) = replay(SeqMode::Shared, "o");
        assert_eq!(bits.tx(), Seq::One);
    }
}
