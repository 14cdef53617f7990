//! The store's schema, its version (`PRAGMA user_version`) and the migration of a database an
//! older simpd made, so that a state directory keeps its messages across an upgrade.
//!
//! Every index is a page more in the WAL for each message written, and a received message is
//! committed before its ACK leaves (SPEC 2.2), so the schema keeps only what a query needs:
//! - `message.id` is the row id (the table's own B-tree), assigned by [`super::Store`] from
//!   memory. Version 1 used `AUTOINCREMENT`, whose `sqlite_sequence` row was a fourth page
//!   written per message; what it guaranteed — an id is never given twice, even after the
//!   newest rows are deleted — is now the `id_high` mark, written only when rows are deleted.
//! - No index by peer: `history` walks the row ids backwards from `before` (it never used
//!   version 1's `message_peer`: the planner read the table backwards anyway), and `forget`,
//!   which is rare, reads the table once.
//! - No index of the rows still owed to someone, received (`unseen`) or sent (`pending`):
//!   version 1's two partial indexes were a page each per message. No row below the
//!   `owed_from` mark is owed, so the unconfirmed ones are found by walking the row ids from
//!   there (their number is not bounded: a client may never confirm, so they are not kept in
//!   memory); the pending ones, which the endpoint's queue bounds, are kept in memory
//!   (`pending.rs`).
//! - One partial index, over `held` rows (sent messages from before a restart, found by
//!   peer when a chat opens): a message is never written as `held` on its way, so it costs
//!   nothing per message.

use rusqlite::{Connection, OptionalExtension, Transaction};

/// The version this simpd writes and reads (`PRAGMA user_version`). Version 1, the first
/// store, left `user_version` at 0.
pub(super) const VERSION: i64 = 2;

/// The table and indexes of [`VERSION`].
const CREATE: &str = "
    CREATE TABLE message (
        id INTEGER PRIMARY KEY,
        peer TEXT NOT NULL,
        peer_user TEXT NOT NULL,
        author TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        at INTEGER NOT NULL,
        text TEXT NOT NULL,
        outcome TEXT NOT NULL,
        client_id TEXT
    );
    CREATE TABLE mark (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    CREATE INDEX message_held ON message (peer, id) WHERE outcome = 'held';";

/// The mark that keeps deleted ids from being given again: every id given out whose row is
/// gone is at most this (see [`super::Store`]).
pub(super) const ID_HIGH: &str = "id_high";

/// The mark below which no row is owed to anyone (`unseen`, `pending` or `held`), so that
/// the store finds them at open without an index (see [`super::Store`]).
pub(super) const OWED_FROM: &str = "owed_from";

/// Why the schema cannot be used.
#[derive(Debug)]
pub(super) enum SchemaError {
    /// A newer simpd made the database.
    Newer(i64),
    /// SQLite refused.
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for SchemaError {
    fn from(e: rusqlite::Error) -> SchemaError {
        SchemaError::Sqlite(e)
    }
}

/// Creates the schema in an empty database, or migrates an older one, in one transaction: a
/// crash in the middle leaves the database as it was.
pub(super) fn prepare(conn: &mut Connection) -> Result<(), SchemaError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    match version {
        VERSION => Ok(()),
        0 => {
            let tx = conn.transaction()?;
            if table_exists(&tx, "message")? {
                from_v1(&tx)?;
            } else {
                tx.execute_batch(CREATE)?;
            }
            tx.pragma_update(None, "user_version", VERSION)?;
            tx.commit()?;
            Ok(())
        }
        newer => Err(SchemaError::Newer(newer)),
    }
}

/// The value of a mark, 0 if it was never written.
pub(super) fn mark(conn: &Connection, name: &str) -> rusqlite::Result<u64> {
    let value: Option<i64> =
        conn.query_row("SELECT value FROM mark WHERE name = ?1", [name], |r| r.get(0)).optional()?;
    Ok(value.map_or(0, |v| u64::try_from(v).unwrap_or(0)))
}

/// Writes a mark, in the caller's transaction.
pub(super) fn set_mark(conn: &Connection, name: &str, value: u64) -> rusqlite::Result<()> {
    let value = i64::try_from(value).unwrap_or(i64::MAX);
    conn.prepare_cached("INSERT OR REPLACE INTO mark (name, value) VALUES (?1, ?2)")?
        .execute(rusqlite::params![name, value])?;
    Ok(())
}

/// Version 1 (`user_version` 0, the first store): the same columns under an `AUTOINCREMENT`
/// id. SQLite cannot drop `AUTOINCREMENT` from a table, so the rows are copied into a new one
/// with their ids; the sequence's value (the highest id ever given, deleted rows included)
/// becomes `id_high`.
fn from_v1(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let sequence: Option<i64> = if table_exists(tx, "sqlite_sequence")? {
        tx.query_row("SELECT seq FROM sqlite_sequence WHERE name = 'message'", [], |r| r.get(0)).optional()?
    } else {
        None
    };
    tx.execute_batch(
        "DROP INDEX IF EXISTS message_unseen;
         DROP INDEX IF EXISTS message_pending;
         DROP INDEX IF EXISTS message_held;
         DROP INDEX IF EXISTS message_peer;
         ALTER TABLE message RENAME TO message_v1;",
    )?;
    tx.execute_batch(CREATE)?;
    tx.execute_batch(
        "INSERT INTO message (id, peer, peer_user, author, direction, at, text, outcome, client_id)
         SELECT id, peer, peer_user, author, direction, at, text, outcome, client_id FROM message_v1 ORDER BY id;
         DROP TABLE message_v1;",
    )?;
    set_mark(tx, ID_HIGH, sequence.map_or(0, |s| u64::try_from(s).unwrap_or(0)))
}

fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n > 0)
}
