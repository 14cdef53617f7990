//! Sent messages the daemon kept across its restart (IPC.md `held`, "Across a restart"): what
//! the user is told of them, and of their fate once the chat with their peer is open again.
//!
//! The daemon names each with a `held` event after `connected`, possibly hundreds: a run of
//! them for one peer is one log line that counts them, rewritten while no front has shown it
//! yet (the event loop hands a burst of events to the [`App`](crate::app::App) before it
//! shows anything, and waits a moment for more while such a run is open, so a burst is one
//! line). When such a message is later `delivered` or
//! `undelivered` (same id as its `held`), the line showing it gets its mark — in the
//! full-screen interface the chat's stored history shows it, still pending — and where no
//! line shows it (plain mode, or the history did not reach it) one line says what became of
//! it, with its text.

use std::collections::HashMap;
use std::net::SocketAddr;

use chrono::NaiveDateTime;

use crate::escape;
use crate::log::{Delivery, EntryKind, Log};
use crate::texts;

/// What the client knows of the held messages. See the module docs.
#[derive(Debug, Default)]
pub struct Restart {
    /// Held messages without an outcome yet, by the id their `chat` had.
    waiting: HashMap<String, Waiting>,
    /// The line counting the last run of `held` events.
    run: Option<Run>,
}

/// A `held` event, as the client takes it.
#[derive(Debug)]
pub struct HeldMessage<'a> {
    /// The id its `chat` had.
    pub id: String,
    /// The peer it is for.
    pub peer: SocketAddr,
    /// The peer as shown.
    pub label: &'a str,
    /// Its text, as sent.
    pub text: &'a str,
    /// When `chat` accepted it, local time (the time its history line shows).
    pub sent: Option<NaiveDateTime>,
}

/// A held message without an outcome yet.
#[derive(Debug)]
struct Waiting {
    /// Its peer as shown (escaped).
    peer: String,
    /// Its text as display lines (escaped).
    lines: Vec<String>,
    /// When `chat` accepted it: with the text, what finds its line in the history.
    sent: Option<NaiveDateTime>,
}

/// A run of `held` events for one peer, counted on one log line.
#[derive(Debug)]
struct Run {
    peer: SocketAddr,
    count: usize,
    /// The line's [`crate::log::Entry::seq`].
    seq: u64,
}

impl Restart {
    /// No held message known.
    pub fn new() -> Restart {
        Restart::default()
    }

    /// A `held` event: remembered, and counted on the run's line if that is still the last
    /// line and unshown, else on a new one. `label` is the peer as shown.
    pub fn held(&mut self, log: &mut Log, held: HeldMessage<'_>, now: NaiveDateTime) {
        let HeldMessage { id, peer, label, text, sent } = held;
        self.waiting.insert(id, Waiting { peer: label.to_owned(), lines: escape::message_lines(text), sent });
        if let Some(run) = self.run.as_mut().filter(|run| run.peer == peer) {
            if let Some(entry) = log.unshown_last().filter(|entry| entry.seq == run.seq) {
                run.count += 1;
                entry.kind = EntryKind::Info(texts::held(run.count, label));
                return;
            }
        }
        log.push(now, EntryKind::Info(texts::held(1, label)));
        let seq = log.entries().last().map_or(0, |entry| entry.seq);
        self.run = Some(Run { peer, count: 1, seq });
    }

    /// Whether the last line counts a run of `held` events that no front has shown yet: more
    /// of the run may be on its way, to be counted on it.
    pub fn run_open(&self, log: &Log) -> bool {
        let last = log.entries().last().map(|entry| entry.seq);
        self.run.as_ref().is_some_and(|run| Some(run.seq) == last) && log.last_unshown()
    }

    /// Whether `id` is a held message without an outcome: the client gives its own messages
    /// other ids, so that their outcomes are not mixed up.
    pub fn is_waiting(&self, id: &str) -> bool {
        self.waiting.contains_key(id)
    }

    /// Forgets the held message `id`: its outcome marks a line of its own (the message was
    /// sent by this very client before the daemon went away and came back).
    pub fn forget(&mut self, id: &str) {
        self.waiting.remove(id);
    }

    /// `delivered` or `undelivered` for `id`; false if it is not a held message. Marks the
    /// line showing it, or adds one saying what became of it.
    pub fn settled(&mut self, log: &mut Log, id: &str, delivery: Delivery, now: NaiveDateTime) -> bool {
        let Some(held) = self.waiting.remove(id) else { return false };
        if !log.mark_stored_pending(&held.lines, held.sent, delivery.clone(), now) {
            let (peer, text) = (&held.peer, escape::one_line(&held.lines));
            let kind = match &delivery {
                Delivery::Undelivered(reason) => EntryKind::Error(texts::held_undelivered(peer, reason, &text)),
                _ => EntryKind::Info(texts::held_delivered(peer, &text)),
            };
            log.push(now, kind);
        }
        true
    }
}
