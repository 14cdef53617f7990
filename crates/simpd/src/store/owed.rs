//! What the store still owes someone, kept in memory: the received messages the client has not
//! confirmed, and the sent messages of this run without an outcome. Version 1 found them
//! through two partial indexes, each a WAL page more for every message written (`schema.rs`);
//! here they are read once at open, from the rows at or above the `owed_from` mark (every
//! owed row is; see [`super::Store`]), and then follow the writes.
//!
//! The database stays the truth: these sets change only after the statement that changes a
//! row succeeded, and are read again from the database when a transaction fails (it may have
//! been rolled back).

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;

/// The rows owed to someone, by id.
#[derive(Debug, Default)]
pub(super) struct Owed {
    /// Received messages not yet confirmed (`unseen`).
    pub(super) unseen: BTreeSet<u64>,
    /// Sent messages without an outcome (`pending`), with the id their client gave them.
    pub(super) pending: BTreeMap<u64, String>,
}

impl Owed {
    /// The owed rows at or above `from`: a walk along the row ids, short when `from` is recent.
    pub(super) fn load(conn: &Connection, from: u64) -> rusqlite::Result<Owed> {
        let mut q = conn.prepare(
            "SELECT id, outcome, client_id FROM message WHERE id >= ?1 AND outcome IN ('unseen', 'pending')",
        )?;
        let mut rows = q.query([i64::try_from(from).unwrap_or(i64::MAX)])?;
        let mut owed = Owed::default();
        while let Some(row) = rows.next()? {
            let id = u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
            if row.get_ref(1)?.as_str()? == super::UNSEEN {
                owed.unseen.insert(id);
            } else {
                owed.pending.insert(id, row.get::<_, Option<String>>(2)?.unwrap_or_default());
            }
        }
        Ok(owed)
    }

    /// The oldest sent message without an outcome that its client called `client_id`.
    pub(super) fn oldest_pending(&self, client_id: &str) -> Option<u64> {
        // The endpoint settles its messages in the order it queued them, so this is nearly
        // always the first entry.
        self.pending.iter().find(|(_, id)| *id == client_id).map(|(row, _)| *row)
    }

    /// Forgets a row (deleted, or settled).
    pub(super) fn remove(&mut self, row: u64) {
        self.unseen.remove(&row);
        self.pending.remove(&row);
    }
}
