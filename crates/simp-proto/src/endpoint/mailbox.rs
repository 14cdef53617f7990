//! What the endpoint holds for its client: events for the attached client, and the calls
//! missed while none is attached. Messages received while none is attached are the shell's
//! store's (SPEC 2.2): the endpoint keeps none.

use std::collections::VecDeque;

use crate::ipc::Event;

/// Missed calls kept for an absent client at most (the oldest go first).
pub(super) const MISSED_MAX: usize = 100;

/// The client's side of the endpoint.
#[derive(Debug)]
pub(super) struct Mailbox {
    /// A client has sent `connect` and not gone.
    attached: bool,
    /// Events for the attached client.
    events: VecDeque<Event>,
    /// Calls missed while no client was attached, told when one connects.
    missed: VecDeque<Event>,
    /// Outcomes of sent messages while no client was attached: for the shell's store only.
    unheard: VecDeque<Event>,
    /// The shell says the client is not taking its events: new messages are not taken until
    /// it does (the peer re-sends them), so what waits for the client stays bounded.
    backlogged: bool,
}

impl Mailbox {
    pub(super) fn new() -> Mailbox {
        Mailbox {
            attached: false,
            events: VecDeque::new(),
            missed: VecDeque::new(),
            unheard: VecDeque::new(),
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

    /// Hands the calls missed while no client was attached to the one now attached.
    pub(super) fn release_missed(&mut self) {
        self.events.extend(self.missed.drain(..));
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

    /// The outcome of a sent message (`delivered`, `undelivered`): for the attached client, or,
    /// when none is (a client that quit with messages queued leaves them to be sent, SPEC 2.3),
    /// for the shell's store alone, so that no stored message stays without an outcome.
    pub(super) fn record(&mut self, event: Event) {
        if self.attached {
            self.events.push_back(event);
        } else {
            self.unheard.push_back(event);
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

    pub(super) fn poll_unheard(&mut self) -> Option<Event> {
        self.unheard.pop_front()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.events.is_empty() && self.unheard.is_empty()
    }

    /// Whether a new message may be taken now: not while an attached client is behind.
    /// Without a client it is taken: the shell's store keeps it until one connects.
    pub(super) fn can_take(&self) -> bool {
        !(self.attached && self.backlogged)
    }
}
