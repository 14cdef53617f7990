//! The receiving half of a chat (SPEC 2.2): who the peer says it is, and what it sent.

use std::sync::Arc;

use crate::wire;

/// The peer's side of a chat as we see it.
#[derive(Debug)]
pub(super) struct Receiver {
    /// The peer's name as last seen on the wire, and escaped for events: a peer may rename
    /// itself mid-chat, and messages carry the name they came with.
    raw: Vec<u8>,
    user: Arc<str>,
    /// Messages taken in this session.
    pub(super) received: u64,
}

impl Receiver {
    pub(super) fn new(user: &[u8]) -> Receiver {
        Receiver { raw: user.to_vec(), user: wire::escape_name(user).into(), received: 0 }
    }

    /// The peer's name, escaped.
    pub(super) fn user(&self) -> &Arc<str> {
        &self.user
    }

    /// A new message came with the name `user`: count it, and follow a rename.
    pub(super) fn take(&mut self, user: &[u8]) {
        if self.raw != user {
            self.raw = user.to_vec();
            self.user = wire::escape_name(user).into();
        }
        self.received += 1;
    }
}
