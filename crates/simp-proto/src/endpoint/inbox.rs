//! A received message on its way to the store (SPEC 2.2): the endpoint asks its shell to make
//! it durable and acknowledges it only once told that it is. The protocol core does no I/O:
//! the shell's store decides what "durable" means (simpd: a committed SQLite transaction).

use std::net::SocketAddr;
use std::sync::Arc;

use crate::ipc::jsonl::{chunks, MESSAGE_JSON_BUDGET};
use crate::ipc::Event;
use crate::wire::Datagram;

/// A message the endpoint asks its shell to store before it is acknowledged (see
/// [`Endpoint::poll_persist`](super::Endpoint::poll_persist)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The peer that sent it.
    pub peer: SocketAddr,
    /// The name it came with, escaped.
    pub user: Arc<str>,
    /// The text, escaped (SPEC 1). Store it as [`Incoming::parts`].
    pub text: String,
}

impl Incoming {
    /// The text cut into parts that each fit one `message` event (IPC.md's line limit);
    /// almost always one. Each part is stored, delivered and confirmed on its own.
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        let whole = self.text.len() <= MESSAGE_JSON_BUDGET / 2;
        let (one, many) = if whole { (Some(self.text.as_str()), None) } else { (None, Some(chunks(&self.text))) };
        one.into_iter().chain(many.into_iter().flatten())
    }

    /// Its `message` events, once stored.
    pub(super) fn into_events(self, stored: Stored) -> impl Iterator<Item = Event> {
        let Incoming { user, text, .. } = self;
        let Stored { first_id, at } = stored;
        let message = move |(id, text): (u64, String)| Event::Message { id, at, user: Arc::clone(&user), text };
        let whole = text.len() <= MESSAGE_JSON_BUDGET / 2;
        let parts: Vec<String> = if whole { Vec::new() } else { chunks(&text).map(str::to_owned).collect() };
        let one = whole.then_some((first_id, text));
        one.into_iter().chain((first_id..).zip(parts)).map(message)
    }
}

/// What the shell reports once an [`Incoming`] is durable: the ids its parts were stored
/// under and the time of arrival it recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// The id of the first part of [`Incoming::parts`]; part `i` has `first_id + i`. Ids
    /// increase over the daemon's life.
    pub first_id: u64,
    /// Time of arrival, milliseconds since the Unix epoch (the shell's wall clock).
    pub at: u64,
}

/// The one message waiting for the store: a stop-and-wait peer sends no next one before
/// this one is acknowledged, so there is never more than one.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) incoming: Incoming,
    /// The datagram as it came, to be taken (sequence, name, re-send detection) once stored.
    /// The buffer is the endpoint's spare one, handed back after: receiving a message
    /// allocates nothing but its text.
    pub(super) datagram: Vec<u8>,
    /// Handed to the shell by `poll_persist`: it is not handed out twice.
    pub(super) handed_out: bool,
}

impl Pending {
    pub(super) fn new(incoming: Incoming, d: &Datagram<'_>, spare: &mut Vec<u8>) -> Pending {
        let mut datagram = std::mem::take(spare);
        datagram.clear();
        d.emit_into(&mut datagram);
        Pending { incoming, datagram, handed_out: false }
    }
}
