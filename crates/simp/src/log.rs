//! The conversation log the front ends show: entries with their local time, the changes since a
//! front last looked, and a bound of [`LOG_LIMIT`] entries so a long chat costs neither
//! unbounded memory nor ever-slower redraws.
//!
//! Every string stored here was escaped by the [`App`](crate::app::App) as it entered.
//!
//! Entries carry the local date and time, so the full-screen interface can draw a date line
//! where the day changes, and an identity ([`Entry::seq`]) that stays with them when older
//! history is inserted above them, so a scrolled-back view can stay on the same lines.

use chrono::NaiveDateTime;

/// Log entries kept: the scrollback of the full-screen interface.
pub const LOG_LIMIT: usize = 5_000;

/// One line of the conversation log, with the local time it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Local date and time: when it happened, or when a stored message arrived or was sent.
    pub time: NaiveDateTime,
    /// What happened.
    pub kind: EntryKind,
    /// Unique in this log, never reused: what a view anchors to.
    pub seq: u64,
    /// The daemon's store id of the message shown, if it is one the store told us about
    /// (IPC.md `message` and `history` ids): older history is inserted above the oldest.
    pub stored: Option<u64>,
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
    /// The line before the first message the user had not seen yet.
    Unread,
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
    Delivery(usize, NaiveDateTime),
}

/// The entries and the changes not yet taken by a front end.
#[derive(Debug, Default)]
pub struct Log {
    entries: Vec<Entry>,
    changes: Vec<Change>,
    next_seq: u64,
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
    pub fn push(&mut self, time: NaiveDateTime, kind: EntryKind) {
        self.push_stored(time, kind, None);
    }

    /// Appends an entry showing the stored message `stored`.
    pub fn push_stored(&mut self, time: NaiveDateTime, kind: EntryKind, stored: Option<u64>) {
        let entry = self.entry(time, kind, stored);
        self.entries.push(entry);
        self.changes.push(Change::Appended(self.entries.len() - 1));
    }

    /// Inserts entries (oldest first) before `log[index]` (at the end when `index` is past
    /// it): older history goes above what is shown. The changes not yet taken keep pointing
    /// at their entries.
    pub fn insert(&mut self, index: usize, new: Vec<(NaiveDateTime, EntryKind, Option<u64>)>) {
        let index = index.min(self.entries.len());
        let count = new.len();
        for change in &mut self.changes {
            match change {
                Change::Appended(i) | Change::Delivery(i, _) if *i >= index => *i += count,
                _ => {}
            }
        }
        let entries: Vec<Entry> = new.into_iter().map(|(time, kind, stored)| self.entry(time, kind, stored)).collect();
        self.entries.splice(index..index, entries);
    }

    /// The last entry, if no front has taken the change that appended it: nobody has shown
    /// it, so it may still be rewritten (a line counting held messages, `restart.rs`).
    pub fn unshown_last(&mut self) -> Option<&mut Entry> {
        if self.last_unshown() {
            self.entries.last_mut()
        } else {
            None
        }
    }

    /// Whether no front has taken the change that appended the last entry yet.
    pub fn last_unshown(&self) -> bool {
        self.entries.len().checked_sub(1).is_some_and(|i| self.changes.contains(&Change::Appended(i)))
    }

    /// Where the entry showing stored message `id` is, if it is still in the log.
    pub fn position_of_stored(&self, id: u64) -> Option<usize> {
        self.entries.iter().position(|e| e.stored == Some(id))
    }

    fn entry(&mut self, time: NaiveDateTime, kind: EntryKind, stored: Option<u64>) -> Entry {
        let seq = self.next_seq;
        self.next_seq += 1;
        Entry { time, kind, seq, stored }
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
    pub fn mark(&mut self, id: &str, delivery: Delivery, now: NaiveDateTime) {
        if let Some(i) = self.outgoing(id) {
            self.set_delivery(i, delivery, now);
        }
    }

    /// Sets the delivery mark of the oldest message from the stored history still pending
    /// with these lines and sent at `sent` (when known): a held message sent after a restart
    /// (`restart.rs`), which the history shows without the id its outcome names, so the same
    /// text to another peer is told apart by its time. False if there is none.
    pub fn mark_stored_pending(
        &mut self,
        text: &[String],
        sent: Option<NaiveDateTime>,
        delivery: Delivery,
        now: NaiveDateTime,
    ) -> bool {
        let found = self.entries.iter().position(|e| {
            e.stored.is_some()
                && sent.is_none_or(|sent| e.time == sent)
                && matches!(&e.kind, EntryKind::Outgoing { lines, delivery: Delivery::Pending, .. } if lines == text)
        });
        if let Some(i) = found {
            self.set_delivery(i, delivery, now);
        }
        found.is_some()
    }

    /// Sets the delivery mark of the oldest message the daemon has neither queued nor settled.
    pub fn mark_oldest_unqueued(&mut self, delivery: Delivery, now: NaiveDateTime) {
        let oldest = self
            .entries
            .iter()
            .position(|e| matches!(e.kind, EntryKind::Outgoing { queued: false, delivery: Delivery::Pending, .. }));
        if let Some(i) = oldest {
            self.set_delivery(i, delivery, now);
        }
    }

    /// Sets the delivery mark of every message the daemon has neither queued nor settled: when
    /// the daemon went away, those it never said it took may be gone with it.
    pub fn mark_unqueued(&mut self, delivery: &Delivery, now: NaiveDateTime) {
        let unqueued: Vec<usize> = (0..self.entries.len())
            .filter(|&i| {
                matches!(self.entries[i].kind, EntryKind::Outgoing { queued: false, delivery: Delivery::Pending, .. })
            })
            .collect();
        for i in unqueued {
            self.set_delivery(i, delivery.clone(), now);
        }
    }

    /// The id of the oldest message the daemon queued that still waits for its delivery mark:
    /// the one being sent (SPEC 2.2: one at a time, in order).
    pub fn oldest_queued_pending(&self) -> Option<&str> {
        self.entries.iter().find_map(|e| match &e.kind {
            EntryKind::Outgoing { id, queued: true, delivery: Delivery::Pending, .. } if !id.is_empty() => {
                Some(id.as_str())
            }
            _ => None,
        })
    }

    /// Whether our message `id` is in the log and still waits for its delivery mark.
    pub fn is_pending(&self, id: &str) -> bool {
        self.outgoing(id)
            .is_some_and(|i| matches!(self.entries[i].kind, EntryKind::Outgoing { delivery: Delivery::Pending, .. }))
    }

    /// Whether a message we sent still waits for its delivery mark.
    pub fn has_pending(&self) -> bool {
        self.entries.iter().any(|e| matches!(e.kind, EntryKind::Outgoing { delivery: Delivery::Pending, .. }))
    }

    fn outgoing(&self, id: &str) -> Option<usize> {
        self.entries.iter().rposition(|e| matches!(&e.kind, EntryKind::Outgoing { id: i, .. } if i == id))
    }

    fn set_delivery(&mut self, i: usize, new: Delivery, now: NaiveDateTime) {
        if let EntryKind::Outgoing { delivery, .. } = &mut self.entries[i].kind {
            if *delivery != new {
                *delivery = new;
                self.changes.push(Change::Delivery(i, now));
            }
        }
    }
}
