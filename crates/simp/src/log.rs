//! The conversation log the front ends show: entries with their local time, the changes since a
//! front last looked, and a bound of [`LOG_LIMIT`] entries so a long chat costs neither
//! unbounded memory nor ever-slower redraws.
//!
//! Every string stored here was escaped by the [`App`](crate::app::App) as it entered.

use chrono::NaiveTime;

/// Log entries kept: the scrollback of the full-screen interface.
pub const LOG_LIMIT: usize = 5_000;

/// One line of the conversation log, with the local time it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Local time of day.
    pub time: NaiveTime,
    /// What happened.
    pub kind: EntryKind,
}

/// The kinds of log line; all strings are escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// Something that happened (`* ...`).
    Info(String),
    /// Something that went wrong or was refused (`! ...`).
    Error(String),
    /// A message from the peer, split into display lines.
    Incoming {
        /// Sender.
        user: String,
        /// Text lines.
        lines: Vec<String>,
    },
    /// A message we sent, with its delivery mark.
    Outgoing {
        /// Our name.
        user: String,
        /// The id this client gave it.
        id: String,
        /// Text lines.
        lines: Vec<String>,
        /// Where it stands.
        delivery: Delivery,
        /// Whether the daemon has confirmed it with `queued`.
        queued: bool,
    },
}

/// A sent message's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Not acknowledged yet.
    Pending,
    /// The peer acknowledged every datagram.
    Delivered,
    /// It will not arrive; the reason is escaped.
    Undelivered(String),
}

/// What changed in the log since the front end last looked; plain mode prints one line per
/// change, the full-screen interface just redraws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `log[index]` is new.
    Appended(usize),
    /// `log[index]`'s delivery mark changed at this time.
    Delivery(usize, NaiveTime),
}

/// The entries and the changes not yet taken by a front end.
#[derive(Debug, Default)]
pub struct Log {
    entries: Vec<Entry>,
    changes: Vec<Change>,
}

impl Log {
    /// An empty log.
    pub fn new() -> Log {
        Log::default()
    }

    /// The entries still kept, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Appends an entry.
    pub fn push(&mut self, time: NaiveTime, kind: EntryKind) {
        self.entries.push(Entry { time, kind });
        self.changes.push(Change::Appended(self.entries.len() - 1));
    }

    /// Forgets every entry (`/clear`); the changes not yet shown go too.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.changes.clear();
    }

    /// Takes the changes since the last call.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// Forgets the oldest entries beyond [`LOG_LIMIT`]. Does nothing while changes are pending,
    /// since their indexes are into the untrimmed log; trims a tenth at a time, so the entries
    /// are not shifted on every push.
    pub fn trim(&mut self) {
        if self.changes.is_empty() && self.entries.len() > LOG_LIMIT + LOG_LIMIT / 10 {
            let excess = self.entries.len() - LOG_LIMIT;
            self.entries.drain(..excess);
        }
    }

    /// Notes that the daemon accepted our message `id` (`queued`).
    pub fn mark_queued(&mut self, id: &str) {
        if let Some(i) = self.outgoing(id) {
            if let EntryKind::Outgoing { queued, .. } = &mut self.entries[i].kind {
                *queued = true;
            }
        }
    }

    /// Sets the delivery mark of our message `id`, if it is still in the log.
    pub fn mark(&mut self, id: &str, delivery: Delivery, now: NaiveTime) {
        if let Some(i) = self.outgoing(id) {
            self.set_delivery(i, delivery, now);
        }
    }

    /// Sets the delivery mark of the oldest message the daemon has neither queued nor settled.
    pub fn mark_oldest_unqueued(&mut self, delivery: Delivery, now: NaiveTime) {
        let oldest = self
            .entries
            .iter()
            .position(|e| matches!(e.kind, EntryKind::Outgoing { queued: false, delivery: Delivery::Pending, .. }));
        if let Some(i) = oldest {
            self.set_delivery(i, delivery, now);
        }
    }

    /// Whether a message we sent still waits for its delivery mark.
    pub fn has_pending(&self) -> bool {
        self.entries.iter().any(|e| matches!(e.kind, EntryKind::Outgoing { delivery: Delivery::Pending, .. }))
    }

    fn outgoing(&self, id: &str) -> Option<usize> {
        self.entries.iter().rposition(|e| matches!(&e.kind, EntryKind::Outgoing { id: i, .. } if i == id))
    }

    fn set_delivery(&mut self, i: usize, new: Delivery, now: NaiveTime) {
        if let EntryKind::Outgoing { delivery, .. } = &mut self.entries[i].kind {
            if *delivery != new {
                *delivery = new;
                self.changes.push(Change::Delivery(i, now));
            }
        }
    }
}
