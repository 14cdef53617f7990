//! The receiving half of a chat (SPEC 2.2): who the peer says it is, what it sent, and what
//! tells a re-send from a new message.

use std::sync::Arc;

use crate::wire::{self, Datagram};

/// The peer's side of a chat as we see it.
#[derive(Debug)]
pub(super) struct Receiver {
    /// The peer's name as last seen on the wire, and escaped for events: a peer may rename
    /// itself mid-chat, and messages carry the name they came with.
    raw: Vec<u8>,
    user: Arc<str>,
    /// The last chat datagram taken, as seq byte, name, NUL, payload (a name holds no NUL):
    /// a re-send is byte-identical to it (SPEC 2.2). The buffer is reused, so keeping it
    /// costs no allocation per message.
    last: Vec<u8>,
    /// Messages taken in this session.
    pub(super) received: u64,
}

impl Receiver {
    pub(super) fn new(user: &[u8]) -> Receiver {
        Receiver { raw: user.to_vec(), user: wire::escape_name(user).into(), last: Vec::new(), received: 0 }
    }

    /// The peer's name, escaped.
    pub(super) fn user(&self) -> &Arc<str> {
        &self.user
    }

    /// The name `user` escaped, sharing the current one when it has not changed.
    pub(super) fn name_for(&self, user: &[u8]) -> Arc<str> {
        if self.raw == user {
            Arc::clone(&self.user)
        } else {
            wire::escape_name(user).into()
        }
    }

    /// Whether `d` is a re-send of the last chat datagram taken: the same seq, name and
    /// text. The same seq with another text is a new message from a peer that reuses seqs.
    pub(super) fn is_resend(&self, d: &Datagram<'_>) -> bool {
        self.received > 0
            && self.last.split_first().is_some_and(|(&seq, rest)| {
                seq == d.seq_byte() && {
                    let (user, payload) = rest.split_at(d.user().len().min(rest.len()));
                    user == d.user() && payload.split_first().is_some_and(|(&nul, p)| nul == 0 && p == d.payload())
                }
            })
    }

    /// The seq byte of the last chat datagram taken.
    pub(super) fn last_seq_byte(&self) -> Option<u8> {
        self.last.first().copied().filter(|_| self.received > 0)
    }

    /// A new message: count it, remember it, and follow a rename.
    pub(super) fn take(&mut self, d: &Datagram<'_>) {
        if self.raw != d.user() {
            self.raw = d.user().to_vec();
            self.user = wire::escape_name(d.user()).into();
        }
        self.last.clear();
        self.last.push(d.seq_byte());
        self.last.extend_from_slice(d.user());
        self.last.push(0);
        self.last.extend_from_slice(d.payload());
        self.received += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Kind, Seq, UserName};

    #[test]
    fn only_a_byte_identical_datagram_is_a_resend() {
        let bob = UserName::new("bob").unwrap();
        let bo = UserName::new("bo").unwrap();
        let hi = Datagram::new(Kind::Chat, Seq::Zero, Some(&bob), b"hi");
        let mut rx = Receiver::new(b"bob");
        assert!(!rx.is_resend(&hi), "nothing taken yet");
        rx.take(&hi);
        assert!(rx.is_resend(&hi));
        assert!(!rx.is_resend(&Datagram::new(Kind::Chat, Seq::Zero, Some(&bob), b"ho")), "new text");
        assert!(!rx.is_resend(&Datagram::new(Kind::Chat, Seq::One, Some(&bob), b"hi")), "other seq");
        assert!(!rx.is_resend(&Datagram::new(Kind::Chat, Seq::Zero, Some(&bo), b"bhi")), "name and text shifted");
        assert!(!rx.is_resend(&hi.with_seq_byte(2)), "counting seq");
        assert_eq!(rx.last_seq_byte(), Some(0));
    }
}
