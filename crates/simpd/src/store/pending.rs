//! The sent messages of this run without an outcome (`pending`), kept in memory with the ids
//! their client gave them: an outcome names the client's id, and version 1 found the row
//! through a partial index on it, a WAL page more for every message sent and settled
//! (`schema.rs`). They are few — the endpoint's queue bounds them — and all from this run:
//! at start, those the last run left are read once (from the `owed_from` mark on) and held.
//!
//! The database stays the truth: an entry changes only after the statement that changes its
//! row succeeded, and all are read again when a transaction fails (it may have been rolled
//! back).

use std::collections::BTreeMap;

use rusqlite::Connection;

/// Row id → the client's id, oldest first.
#[derive(Debug, Default)]
pub(super) struct Pending(BTreeMap<u64, String>);

impl Pending {
    /// The pending rows at or above `from`: a walk along the row ids, short when `from` is
    /// recent.
    pub(super) fn load(conn: &Connection, from: u64) -> rusqlite::Result<Pending> {
        let mut q = conn.prepare("SELECT id, client_id FROM message WHERE id >= ?1 AND outcome = 'pending'")?;
        let rows = q.query_map([i64::try_from(from).unwrap_or(i64::MAX)], |r| {
            Ok((u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0), r.get::<_, Option<String>>(1)?.unwrap_or_default()))
        })?;
        rows.collect::<rusqlite::Result<_>>().map(Pending)
    }

    /// The oldest pending row that its client called `client_id`.
    pub(super) fn oldest(&self, client_id: &str) -> Option<u64> {
        // The endpoint settles its messages in the order it queued them, so this is nearly
        // always the first entry.
        self.0.iter().find(|(_, id)| *id == client_id).map(|(row, _)| *row)
    }

    pub(super) fn insert(&mut self, row: u64, client_id: String) {
        self.0.insert(row, client_id);
    }

    pub(super) fn remove(&mut self, row: u64) {
        self.0.remove(&row);
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// Empties the set, returning the rows it held.
    pub(super) fn take_rows(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.0).into_keys().collect()
    }
}
