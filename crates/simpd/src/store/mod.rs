//! The daemon's store: one SQLite database (WAL, `synchronous=NORMAL`), the only file I/O of
//! simpd. It holds every message received and sent, with the peer (address and name), the
//! direction, the time of arrival, the outcome and a per-daemon increasing id (SPEC 2.2,
//! IPC.md "Messages and their store"):
//! - received messages are committed before they are acknowledged (the endpoint asks, see
//!   `simp_proto::Endpoint::poll_persist`), and are `unseen` until the client confirms them
//!   with `seen`; every `unseen` one is delivered again when a client connects;
//! - sent messages are recorded when the endpoint queues them, with their outcome; those the
//!   daemon stopped (or crashed) before settling are `held` when it starts again, and sent
//!   in the next chat with their peer (SPEC 2.2, "Across a restart").
//!
//! With `--no-history` a message is deleted once it is confirmed (received) or has its
//! outcome (sent): only the unconfirmed inbox is kept.

mod location;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection};
use simp_proto::ipc::{Direction, EndReason, Event, HistoryEntry};
use simp_proto::Incoming;

pub use location::default_state_dir;

/// The database's file name inside the state directory.
pub const DB_FILE: &str = "simpd.sqlite3";

/// Why the store cannot be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory cannot be created or the database file cannot be created.
    #[error("cannot create {path}: {source}; pick a writable directory with --state-dir")]
    Create {
        /// What could not be created.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// Another process holds the database (see [`Store::init`]).
    #[error(
        "the message store {path} is in use by another process (a second simpd?); give each daemon its own --state-dir"
    )]
    InUse {
        /// The database file.
        path: String,
    },
    /// SQLite refused.
    #[error("the message store {path}: {source}")]
    Sqlite {
        /// The database file (`:memory:` for an in-memory store).
        path: String,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
}

/// Where outgoing messages stand, as stored and as `history` reports them.
const PENDING: &str = "pending";
const DELIVERED: &str = "delivered";
const UNSEEN: &str = "unseen";
const HELD: &str = "held";

/// The open store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    /// Where it is, for error messages.
    path: String,
    /// Keep messages once confirmed or settled (`--no-history` turns it off).
    history: bool,
    /// How many `held` messages there are: they appear only at start ([`Store::hold_unsent`]),
    /// so a daemon that has none (nearly always) asks nothing of SQLite when a chat opens. The
    /// query costs about 86,000 instructions a handshake (callgrind), as much as the rest of
    /// the handshake.
    held_left: u64,
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, or in memory when `dir` is `None`
    /// (tests, `simp --demo`: nothing survives the process).
    pub fn open(dir: Option<&Path>, history: bool) -> Result<Store, StoreError> {
        let (conn, path) = match dir {
            Some(dir) => {
                let file = location::prepare(dir)?;
                let path = file.display().to_string();
                let conn =
                    Connection::open(&file).map_err(|source| StoreError::Sqlite { path: path.clone(), source })?;
                (conn, path)
            }
            None => {
                let path = ":memory:".to_string();
                let conn =
                    Connection::open_in_memory().map_err(|source| StoreError::Sqlite { path: path.clone(), source })?;
                (conn, path)
            }
        };
        let store = Store { conn, path, history, held_left: 0 };
        store.init().map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy) => StoreError::InUse { path: store.path.clone() },
            _ => store.error(e),
        })?;
        Ok(store)
    }

    /// WAL: a commit appends to the log. synchronous=NORMAL: a commit is not fsynced, so it
    /// survives the daemon's crash (kill -9) but not a power loss within the last checkpoint
    /// interval (RELIABILITY.md). locking_mode=EXCLUSIVE, set before WAL: the daemon holds the
    /// file's lock from open to exit and keeps the WAL index in its own memory, so a commit
    /// takes no file locks (about 12 `fcntl` calls per sent message, 6 per received one) and
    /// a second daemon on the same state directory is refused at start.
    fn init(&self) -> rusqlite::Result<()> {
        // No one else may hold the lock, so waiting for it would only delay the refusal.
        self.conn.busy_timeout(std::time::Duration::ZERO)?;
        self.conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS message (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                peer TEXT NOT NULL,
                peer_user TEXT NOT NULL,
                author TEXT NOT NULL,
                direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
                at INTEGER NOT NULL,
                text TEXT NOT NULL,
                outcome TEXT NOT NULL,
                client_id TEXT
            );
            CREATE INDEX IF NOT EXISTS message_unseen ON message (id) WHERE outcome = 'unseen';
            CREATE INDEX IF NOT EXISTS message_pending ON message (client_id) WHERE outcome = 'pending';
            CREATE INDEX IF NOT EXISTS message_held ON message (peer, id) WHERE outcome = 'held';
            CREATE INDEX IF NOT EXISTS message_peer ON message (peer, id);",
        )
    }

    /// Commits a received message, one row per part; returns the first part's id (the parts
    /// have consecutive ids: one writer, one transaction, AUTOINCREMENT).
    pub(crate) fn received(&mut self, m: &Incoming, at: u64) -> Result<u64, StoreError> {
        self.received_rows(m, at).map_err(|e| self.error(e))
    }

    fn received_rows(&mut self, m: &Incoming, at: u64) -> rusqlite::Result<u64> {
        let tx = self.conn.transaction()?;
        let mut first = None;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO message (peer, peer_user, author, direction, at, text, outcome)
                 VALUES (?1, ?2, ?2, 'in', ?3, ?4, 'unseen')",
            )?;
            for (i, part) in m.parts().enumerate() {
                insert.execute(params![m.peer.to_string(), &*m.user, to_sql(at), part])?;
                let id = from_sql(tx.last_insert_rowid());
                let first = *first.get_or_insert(id);
                if id != first + i as u64 {
                    // Cannot happen with one writer; refusing keeps the ids the endpoint
                    // reports right, and the peer simply re-sends.
                    return Err(rusqlite::Error::StatementChangedRows(0));
                }
            }
        }
        tx.commit()?;
        Ok(first.unwrap_or(0))
    }

    /// Opens one transaction for the writes that follow, until [`Store::commit`]: the shell
    /// records what one turn of its loop says about sent messages (a burst of `chat`s queued,
    /// an outcome) together, so each page they touch goes to the WAL once, not once per message.
    pub(crate) fn begin(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN").map_err(|e| self.error(e))
    }

    /// Commits what [`Store::begin`] opened; if that fails, rolls it back, so that no later
    /// write (a received message's own transaction) finds a transaction left open.
    pub(crate) fn commit(&mut self) -> Result<(), StoreError> {
        let committed = self.conn.execute_batch("COMMIT");
        if committed.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        committed.map_err(|e| self.error(e))
    }

    /// Every received message not yet confirmed, oldest first, as `message` events.
    pub(crate) fn unseen(&self) -> Result<Vec<Event>, StoreError> {
        self.unseen_between(0, u64::MAX, usize::MAX)
    }

    /// At most `limit` received messages not yet confirmed with ids above `after` and up to
    /// `up_to`, oldest first: the next ones a paced course client is sent.
    pub(crate) fn unseen_between(&self, after: u64, up_to: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let rows = || -> rusqlite::Result<Vec<Event>> {
            let mut q = self.conn.prepare_cached(
                "SELECT id, at, author, text FROM message
                 WHERE outcome = 'unseen' AND id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3",
            )?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = q.query_map(params![to_sql(after), to_sql(up_to), limit], |r| {
                Ok(Event::Message {
                    id: from_sql(r.get(0)?),
                    at: from_sql(r.get(1)?),
                    user: r.get::<_, String>(2)?.into(),
                    text: r.get(3)?,
                })
            })?;
            rows.collect()
        };
        rows().map_err(|e| self.error(e))
    }

    /// The client has shown these messages: they are no longer delivered again (and with
    /// `--no-history`, no longer kept). Unknown ids and sent messages are left alone.
    pub(crate) fn seen(&mut self, ids: &[u64]) -> Result<usize, StoreError> {
        let history = self.history;
        let run = |conn: &mut Connection| -> rusqlite::Result<usize> {
            let tx = conn.transaction()?;
            let mut n = 0;
            {
                let sql = if history {
                    "UPDATE message SET outcome = 'seen' WHERE id = ?1 AND outcome = 'unseen'"
                } else {
                    "DELETE FROM message WHERE id = ?1 AND outcome = 'unseen'"
                };
                let mut q = tx.prepare_cached(sql)?;
                for &id in ids {
                    n += q.execute([to_sql(id)])?;
                }
            }
            tx.commit()?;
            Ok(n)
        };
        let result = run(&mut self.conn);
        result.map_err(|e| self.error(e))
    }

    /// A message the endpoint queued for `peer`.
    pub(crate) fn sent(&mut self, out: &Outgoing<'_>, at: u64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO message (peer, peer_user, author, direction, at, text, outcome, client_id)
                 VALUES (?1, ?2, ?3, 'out', ?4, ?5, 'pending', ?6)",
            )
            .and_then(|mut q| {
                q.execute(params![out.peer.to_string(), out.peer_user, out.author, to_sql(at), out.text, out.client_id])
            })
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// The outcome of the oldest pending message with the client's id `client_id`:
    /// `None` delivered, `Some(reason)` undelivered.
    pub(crate) fn settled(&mut self, client_id: &str, undelivered: Option<EndReason>) -> Result<(), StoreError> {
        let outcome = match undelivered {
            None => DELIVERED.to_string(),
            Some(reason) => format!("undelivered: {reason}"),
        };
        let oldest = "(SELECT MIN(id) FROM message WHERE client_id = ?1 AND outcome = 'pending')";
        let result = if self.history {
            let sql = format!("UPDATE message SET outcome = ?2 WHERE id = {oldest}");
            self.conn.prepare_cached(&sql).and_then(|mut q| q.execute(params![client_id, outcome]))
        } else {
            let sql = format!("DELETE FROM message WHERE id = {oldest}");
            self.conn.prepare_cached(&sql).and_then(|mut q| q.execute(params![client_id]))
        };
        result.map(drop).map_err(|e| self.error(e))
    }

    /// At start: the sent messages the last run of the daemon left without an outcome (it was
    /// stopped before they were sent, or crashed) are `held` from now on, to be sent in the next
    /// chat with their peer; returns how many are held in all.
    pub(crate) fn hold_unsent(&mut self) -> Result<u64, StoreError> {
        let run = |conn: &Connection| -> rusqlite::Result<u64> {
            conn.execute("UPDATE message SET outcome = 'held' WHERE direction = 'out' AND outcome = 'pending'", [])?;
            conn.query_row("SELECT COUNT(*) FROM message WHERE outcome = 'held'", [], |r| r.get::<_, i64>(0))
                .map(from_sql)
        };
        self.held_left = run(&self.conn).map_err(|e| self.error(e))?;
        Ok(self.held_left)
    }

    /// The oldest `limit` held messages (for `peer`, or for anyone), oldest first.
    pub(crate) fn held(&self, peer: Option<SocketAddr>, limit: usize) -> Result<Vec<Held>, StoreError> {
        if self.held_left == 0 {
            return Ok(Vec::new());
        }
        let rows = || -> rusqlite::Result<Vec<Held>> {
            let mut q = self.conn.prepare_cached(
                "SELECT id, client_id, peer, text, at FROM message
                 WHERE outcome = 'held' AND (?1 IS NULL OR peer = ?1) ORDER BY id LIMIT ?2",
            )?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = q.query_map(params![peer.map(|p| p.to_string()), limit], |r| {
                Ok((from_sql(r.get(0)?), r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get(4)?))
            })?;
            let mut held = Vec::new();
            for row in rows {
                let (row, client_id, peer, text, at) = row?;
                // Written by `sent` from a `SocketAddr`: always parses.
                if let Ok(peer) = peer.parse() {
                    held.push(Held { row, client_id: client_id.unwrap_or_default(), peer, text, at: from_sql(at) });
                }
            }
            Ok(held)
        };
        rows().map_err(|e| self.error(e))
    }

    /// A held message is queued again: pending, until its outcome is [`Store::settled`].
    pub(crate) fn requeued(&mut self, row: u64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE message SET outcome = 'pending' WHERE id = ?1 AND outcome = 'held'")
            .and_then(|mut q| q.execute([to_sql(row)]))
            .map(|changed| self.held_left = self.held_left.saturating_sub(changed as u64))
            .map_err(|e| self.error(e))
    }

    /// The last `limit` messages (with `peer`, or with anyone), with ids below `before`,
    /// oldest first.
    pub(crate) fn history(
        &self,
        peer: Option<SocketAddr>,
        limit: usize,
        before: Option<u64>,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = || -> rusqlite::Result<Vec<HistoryEntry>> {
            let mut q = self.conn.prepare_cached(
                "SELECT id, peer, peer_user, author, direction, at, text, outcome FROM message
                 WHERE (?1 IS NULL OR peer = ?1) AND (?2 IS NULL OR id < ?2)
                 ORDER BY id DESC LIMIT ?3",
            )?;
            let peer = peer.map(|p| p.to_string());
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = q.query_map(params![peer, before.map(to_sql), limit], |r| {
                Ok(HistoryEntry {
                    id: from_sql(r.get(0)?),
                    peer: r.get(1)?,
                    peer_user: r.get(2)?,
                    user: r.get(3)?,
                    direction: if r.get::<_, String>(4)? == "in" { Direction::In } else { Direction::Out },
                    at: from_sql(r.get(5)?),
                    text: r.get(6)?,
                    outcome: r.get(7)?,
                })
            })?;
            let mut entries = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            entries.reverse();
            Ok(entries)
        };
        rows().map_err(|e| self.error(e))
    }

    /// Deletes every message with `peer`; returns how many.
    pub(crate) fn forget(&mut self, peer: SocketAddr) -> Result<u64, StoreError> {
        let run = |conn: &Connection| -> rusqlite::Result<(u64, u64)> {
            let deleted = conn.execute("DELETE FROM message WHERE peer = ?1", [peer.to_string()])?;
            let held =
                conn.query_row("SELECT COUNT(*) FROM message WHERE outcome = 'held'", [], |r| r.get::<_, i64>(0))?;
            Ok((deleted as u64, from_sql(held)))
        };
        let (deleted, held) = run(&self.conn).map_err(|e| self.error(e))?;
        self.held_left = held;
        Ok(deleted)
    }

    /// What the store keeps for later: received messages not confirmed, and sent ones
    /// without an outcome, pending or held (for the shutdown log line).
    pub(crate) fn kept(&self) -> Result<(u64, u64), StoreError> {
        let count = |outcome: &str| -> rusqlite::Result<u64> {
            self.conn
                .query_row("SELECT COUNT(*) FROM message WHERE outcome = ?1", [outcome], |r| r.get::<_, i64>(0))
                .map(from_sql)
        };
        let run = || Ok((count(UNSEEN)?, count(PENDING)? + count(HELD)?));
        run().map_err(|e: rusqlite::Error| self.error(e))
    }

    fn error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }
}

/// A sent message kept from before a restart, waiting for the chat with its peer.
pub(crate) struct Held {
    /// The store's id of its row.
    pub(crate) row: u64,
    /// The id the client gave it.
    pub(crate) client_id: String,
    pub(crate) peer: SocketAddr,
    pub(crate) text: String,
    /// When `chat` accepted it (ms since the Unix epoch).
    pub(crate) at: u64,
}

impl Held {
    /// The `held` event that tells a client about it (IPC.md).
    pub(crate) fn event(&self) -> Event {
        Event::Held { id: self.client_id.clone(), peer: self.peer, text: self.text.clone(), at: self.at }
    }
}

/// A message queued for sending, as the store records it.
pub(crate) struct Outgoing<'a> {
    pub(crate) peer: SocketAddr,
    pub(crate) peer_user: &'a str,
    pub(crate) author: &'a str,
    pub(crate) text: &'a str,
    pub(crate) client_id: &'a str,
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// SQLite integers are signed; ids and times stay far below 2^63.
fn to_sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn from_sql(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests;
