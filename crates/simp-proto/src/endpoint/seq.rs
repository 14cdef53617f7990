//! Sequence bits (SPEC 2.6): one alternating bit per direction, or one shared by both.

use crate::wire::Seq;

/// How sequence bits are assigned (SPEC 2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeqMode {
    /// One alternating bit per direction (the default).
    #[default]
    PerDirection,
    /// One bit per session for both directions, for turn-taking peers.
    Shared,
}

/// One chat's sequence bits.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SeqBits {
    PerDirection { tx_next: Seq, rx_last: Option<Seq> },
    Shared { bit: Seq },
}

impl SeqBits {
    /// The bits of a new chat: both directions start at 0.
    pub(crate) fn new(mode: SeqMode) -> SeqBits {
        match mode {
            SeqMode::PerDirection => SeqBits::PerDirection { tx_next: Seq::Zero, rx_last: None },
            SeqMode::Shared => SeqBits::Shared { bit: Seq::Zero },
        }
    }

    /// The bit of our next chat datagram.
    pub(crate) fn tx(self) -> Seq {
        match self {
            SeqBits::PerDirection { tx_next, .. } => tx_next,
            SeqBits::Shared { bit } => bit,
        }
    }

    /// Whether a chat datagram with `seq` is new rather than a re-send of the last one.
    pub(crate) fn is_fresh(self, seq: Seq) -> bool {
        match self {
            SeqBits::PerDirection { rx_last, .. } => rx_last != Some(seq),
            SeqBits::Shared { bit } => seq == bit,
        }
    }

    /// A new chat datagram with `seq` was taken.
    pub(crate) fn received(&mut self, seq: Seq) {
        match self {
            SeqBits::PerDirection { rx_last, .. } => *rx_last = Some(seq),
            SeqBits::Shared { bit } => *bit = bit.flip(),
        }
    }

    /// Our chat datagram was acknowledged.
    pub(crate) fn acknowledged(&mut self) {
        match self {
            SeqBits::PerDirection { tx_next, .. } => *tx_next = tx_next.flip(),
            SeqBits::Shared { bit } => *bit = bit.flip(),
        }
    }
}
