//! What the endpoint holds for its client (SPEC 2.2): events for the attached client, and the
//! messages received while none is attached, kept until one connects.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::ipc::jsonl::{chunks, MESSAGE_JSON_BUDGET};
use crate::ipc::Event;

/// Text kept for an absent client at most, besides the count limit of `store_limit`.
pub(super) const STORE_MAX_BYTES: usize = 4 * 1024 * 1024;

/// Missed calls kept for an absent client at most (the oldest go first).
pub(super) const MISSED_MAX: usize = 100;

/// The client's side of the endpoint.
#[derive(Debug)]
pub(super) struct Mailbox {
    /// A client has sent `connect` and not gone.
    attached: bool,
    /// Events for the attached client.
    events: VecDeque<Event>,
    /// Messages received while no client was attached (SPEC 2.2).
    stored: VecDeque<Event>,
    /// Calls missed while no client was attached, told when one connects.
    missed: VecDeque<Event>,
    /// Bytes of text in `stored`, bounded by [`STORE_MAX_BYTES`].
    stored_bytes: usize,
    /// Messages kept for an absent client at most.
    store_limit: usize,
    /// The shell says the client is not taking its events: new messages are not acknowledged
    /// until it does (SPEC 2.2, acknowledged only once handed over), so memory stays bounded.
    backlogged: bool,
}

impl Mailbox {
    pub(super) fn new(store_limit: usize) -> Mailbox {
        Mailbox {
            attached: false,
            events: VecDeque::new(),
            stored: VecDeque::new(),
            missed: VecDeque::new(),
            stored_bytes: 0,
            store_limit,
            backlogged: false,
        }
    }

    pub(super) fn is_attached(&self) -> bool {
        self.attached
    }

    /// A client connected: what follows goes to it.
    pub(super) fn attach(&mut self) {
        self.attached = true;
    }

    /// The client quit: events from now on have no one to go to.
    pub(super) fn detach(&mut self) {
        self.attached = false;
    }

    pub(super) fn set_backlogged(&mut self, backlogged: bool) {
        self.backlogged = backlogged;
    }

    /// Hands what was stored for an absent client to the one now attached.
    pub(super) fn release_stored(&mut self) {
        self.events.extend(self.missed.drain(..));
        self.events.extend(self.stored.drain(..));
        self.stored_bytes = 0;
    }

    /// An event for the client, whether or not one is attached (answers to its commands).
    pub(super) fn push(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// An event for the attached client, dropped when none is.
    pub(super) fn emit(&mut self, event: Event) {
        if self.attached {
            self.events.push_back(event);
        }
    }

    /// A call turned away as busy: to the client, or kept for the next one.
    pub(super) fn missed(&mut self, event: Event) {
        if self.attached {
            self.events.push_back(event);
        } else {
            if self.missed.len() == MISSED_MAX {
                self.missed.pop_front();
            }
            self.missed.push_back(event);
        }
    }

    pub(super) fn poll(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Whether a message of `len` bytes can be taken now: only then may it be acknowledged
    /// (SPEC 2.2, acknowledged only once handed over or stored).
    pub(super) fn can_take(&self, len: usize) -> bool {
        let store_full =
            self.stored.len() >= self.store_limit || self.stored_bytes.saturating_add(len) > STORE_MAX_BYTES;
        !((self.attached && self.backlogged) || (!self.attached && store_full))
    }

    /// A message from the peer (`text` escaped, `len` bytes on the wire): to the client, or
    /// stored for the next one.
    pub(super) fn deliver(&mut self, user: &Arc<str>, text: String, len: usize) {
        let events = if self.attached { &mut self.events } else { &mut self.stored };
        if text.len() <= MESSAGE_JSON_BUDGET / 2 {
            events.push_back(Event::Message { user: Arc::clone(user), text });
        } else {
            events.extend(chunks(&text).map(|t| Event::Message { user: Arc::clone(user), text: t.to_owned() }));
        }
        if !self.attached {
            self.stored_bytes += len;
        }
    }
}
