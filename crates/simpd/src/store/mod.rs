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
//!
//! The schema, and why it has so few indexes, is in `schema.rs`: each page a message touches
//! is a WAL frame (two `pwrite`s) before its ACK can leave.

mod location;
mod pending;
mod schema;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};
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
    /// A newer simpd made the database: this one cannot know its schema.
    #[error(
        "the message store {path} was made by a newer simpd (schema version {version}, this one knows {known}); run that simpd, or give this one another --state-dir"
    )]
    Newer {
        /// The database file.
        path: String,
        /// The database's `user_version`.
        version: i64,
        /// The version this simpd writes.
        known: i64,
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

/// A sent message's outcome once its ACK came, as stored and as `history` reports it.
const DELIVERED: &str = "delivered";

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
    /// The id the next row gets: ids are given here, not by SQLite, so that no page besides
    /// the row's own records them (`schema.rs`). Above every id ever given, deleted rows'
    /// included: at open it starts above both the highest row and the `id_high` mark.
    next_id: u64,
    /// The `id_high` mark as committed, when known: a transaction that deletes rows first
    /// raises it above every id given so far, so that a deleted id is never given again after
    /// a restart (IPC.md: ids increase over the daemon's life). `None` after a failed write,
    /// which may have rolled it back: the next deletion writes it again.
    id_high: Option<u64>,
    /// This run's sent messages without an outcome (`pending.rs`).
    pending: pending::Pending,
    /// The `owed_from` mark as committed: no row below it is owed. Raised, every
    /// [`OWED_STEP`] ids, by a transaction that settles or confirms messages, to the oldest
    /// owed row that transaction still finds in the database; never from memory alone.
    owed_from: u64,
    /// `next_id` when the mark was last looked at.
    owed_checked: u64,
    /// The last peer written, as stored.
    peer_text: PeerText,
}

/// How many ids apart the `owed_from` mark is looked at: once per this many messages a
/// transaction reads the rows from the mark to the oldest owed one and writes the mark, so the
/// rows read at open are about this many plus those after the oldest owed message.
const OWED_STEP: u64 = 1024;

/// How far beyond the highest id given a deletion raises the `id_high` mark: with
/// `--no-history` every confirmation deletes the newest rows, and the mark is then written
/// once per this many ids rather than with each one. The ids given after a restart may skip
/// as many; they only need to increase.
const ID_RESERVE: u64 = 1024;

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
        // Room for every statement the store runs (about 20; the default keeps 16), so that none
        // is parsed again because another pushed it out.
        conn.set_prepared_statement_cache_capacity(32);
        let mut store = Store {
            conn,
            path,
            history,
            held_left: 0,
            next_id: 1,
            id_high: None,
            pending: pending::Pending::default(),
            owed_from: 0,
            owed_checked: 0,
            peer_text: PeerText::default(),
        };
        store.init().map_err(|e| match e {
            schema::SchemaError::Sqlite(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
                StoreError::InUse { path: store.path.clone() }
            }
            schema::SchemaError::Sqlite(e) => store.error(e),
            schema::SchemaError::Newer(version) => {
                StoreError::Newer { path: store.path.clone(), version, known: schema::VERSION }
            }
        })?;
        Ok(store)
    }

    /// WAL: a commit appends to the log. synchronous=NORMAL: a commit is not fsynced, so it
    /// survives the daemon's crash (kill -9) but not a power loss within the last checkpoint
    /// interval (RELIABILITY.md). locking_mode=EXCLUSIVE, set before WAL: the daemon holds the
    /// file's lock from open to exit and keeps the WAL index in its own memory, so a commit
    /// takes no file locks (about 12 `fcntl` calls per sent message, 6 per received one) and
    /// a second daemon on the same state directory is refused at start.
    fn init(&mut self) -> Result<(), schema::SchemaError> {
        // No one else may hold the lock, so waiting for it would only delay the refusal.
        self.conn.busy_timeout(std::time::Duration::ZERO)?;
        self.conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        schema::prepare(&mut self.conn)?;
        let id_high = schema::mark(&self.conn, schema::ID_HIGH)?;
        let newest: Option<i64> = self.conn.query_row("SELECT MAX(id) FROM message", [], |r| r.get(0))?;
        self.next_id = newest.map_or(0, from_sql).max(id_high) + 1;
        self.id_high = Some(id_high);
        self.load_owed()?;
        // What was just read is the database's truth: a mark far behind (a migrated store,
        // one that was stopped before any check) moves up now, not after OWED_STEP messages.
        self.owed_checked = 0;
        self.conn.execute_batch("BEGIN")?;
        self.advance_owed_from()?;
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// Reads the `owed_from` mark and the pending rows from there on.
    fn load_owed(&mut self) -> rusqlite::Result<()> {
        self.owed_from = schema::mark(&self.conn, schema::OWED_FROM)?;
        self.pending = pending::Pending::load(&self.conn, self.owed_from)?;
        self.owed_checked = self.next_id;
        Ok(())
    }

    /// In a transaction that settles or confirms messages, once per [`OWED_STEP`] ids: raises
    /// the `owed_from` mark to the oldest row the database (not memory) still has owed, so
    /// that the mark is right whatever memory says.
    fn advance_owed_from(&mut self) -> rusqlite::Result<()> {
        if self.next_id < self.owed_checked + OWED_STEP {
            return Ok(());
        }
        self.owed_checked = self.next_id;
        let oldest: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM message WHERE id >= ?1 AND outcome IN ('unseen', 'pending', 'held') ORDER BY id LIMIT 1",
            )?
            .query_row([to_sql(self.owed_from)], |r| r.get(0))
            .optional()?;
        let from = oldest.map_or(self.next_id, from_sql);
        if from > self.owed_from {
            schema::set_mark(&self.conn, schema::OWED_FROM, from)?;
            self.owed_from = from;
        }
        Ok(())
    }

    /// `count` fresh ids, consecutive; the first is returned. Not given back if the write
    /// fails: ids only need to increase.
    fn take_ids(&mut self, count: u64) -> u64 {
        let first = self.next_id;
        self.next_id += count;
        first
    }

    /// Before rows are deleted, in the deleting transaction: raises the `id_high` mark above
    /// every id given so far, unless it is already (see [`ID_RESERVE`]).
    fn cover_ids(&mut self) -> rusqlite::Result<()> {
        let given = self.next_id - 1;
        if self.id_high.is_some_and(|mark| mark >= given) {
            return Ok(());
        }
        let mark = given + ID_RESERVE;
        self.id_high = None;
        schema::set_mark(&self.conn, schema::ID_HIGH, mark)?;
        self.id_high = Some(mark);
        Ok(())
    }

    /// Runs `f` in the transaction a batch holds open ([`Store::begin`]), or else in one of its
    /// own, committed here, so that a change and the marks it raises go together.
    fn write<T>(&mut self, f: impl FnOnce(&mut Store) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let own = self.conn.is_autocommit();
        let run = || -> rusqlite::Result<T> {
            if own {
                run_cached(&self.conn, "BEGIN")?;
            }
            let value = f(self)?;
            if own {
                run_cached(&self.conn, "COMMIT")?;
            }
            Ok(value)
        };
        let result = run();
        if result.is_err() && own && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        result.map_err(|e| self.failed(e))
    }

    /// A write failed, and its transaction may be rolled back with the marks it raised and the
    /// rows it settled: forget what is known of `id_high`, so that the next deletion writes it,
    /// and read `owed_from` and the pending rows again. If even that fails, the walks for
    /// unconfirmed rows start from the first row, which is slow but right.
    fn failed(&mut self, source: rusqlite::Error) -> StoreError {
        self.id_high = None;
        if self.load_owed().is_err() {
            self.owed_from = 0;
        }
        self.error(source)
    }

    /// Commits a received message, one row per part, in one transaction; returns the first
    /// part's id (the parts have consecutive ids).
    pub(crate) fn received(&mut self, m: &Incoming, at: u64) -> Result<u64, StoreError> {
        let first = self.take_ids(m.parts().count() as u64);
        let peer = self.peer_text.of(m.peer);
        let conn = &self.conn;
        let rows = || -> rusqlite::Result<()> {
            let mut insert = conn.prepare_cached(
                "INSERT INTO message (id, peer, peer_user, author, direction, at, text, outcome)
                 VALUES (?1, ?2, ?3, ?3, 'in', ?4, ?5, 'unseen')",
            )?;
            for (id, part) in (first..).zip(m.parts()) {
                insert.execute(params![to_sql(id), peer, &*m.user, to_sql(at), part])?;
            }
            Ok(())
        };
        // Its own transaction, never a batch's: BEGIN fails inside one, and nothing is stored.
        // A message of one part is one INSERT, which SQLite commits on its own (no BEGIN and
        // COMMIT statements to run: about a tenth of the receiver's instructions per message).
        let stored = if m.parts().count() == 1 {
            if conn.is_autocommit() {
                rows()
            } else {
                Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISUSE),
                    Some("a received message inside another transaction".into()),
                ))
            }
        } else {
            run_cached(conn, "BEGIN").and_then(|()| {
                let committed = rows().and_then(|()| run_cached(conn, "COMMIT"));
                if committed.is_err() && !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                committed
            })
        };
        match stored {
            Ok(()) => Ok(first),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// Opens one transaction for the writes that follow, until [`Store::commit`]: the shell
    /// records what one turn of its loop says about sent messages (a burst of `chat`s queued,
    /// an outcome) together, so each page they touch goes to the WAL once, not once per message.
    pub(crate) fn begin(&mut self) -> Result<(), StoreError> {
        run_cached(&self.conn, "BEGIN").map_err(|e| self.error(e))
    }

    /// Commits what [`Store::begin`] opened; if that fails, rolls it back, so that no later
    /// write (a received message's own transaction) finds a transaction left open.
    pub(crate) fn commit(&mut self) -> Result<(), StoreError> {
        let committed = run_cached(&self.conn, "COMMIT");
        if committed.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        committed.map_err(|e| self.failed(e))
    }

    /// Every received message not yet confirmed, oldest first, as `message` events.
    pub(crate) fn unseen(&self) -> Result<Vec<Event>, StoreError> {
        self.unseen_between(0, u64::MAX, usize::MAX)
    }

    /// At most `limit` received messages not yet confirmed with ids above `after` and up to
    /// `up_to`, oldest first: the next ones a paced course client is sent. A walk along the
    /// row ids (there is no index of unconfirmed rows: `schema.rs`), from `after` or the
    /// `owed_from` mark, whichever is later.
    pub(crate) fn unseen_between(&self, after: u64, up_to: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let rows = || -> rusqlite::Result<Vec<Event>> {
            let mut q = self.conn.prepare_cached(
                "SELECT id, at, author, text FROM message
                 WHERE id >= ?1 AND id <= ?2 AND outcome = 'unseen' ORDER BY id LIMIT ?3",
            )?;
            let from = after.saturating_add(1).max(self.owed_from);
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = q.query_map(params![to_sql(from), to_sql(up_to), limit], |r| {
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
        self.write(|store| {
            let sql = if store.history {
                "UPDATE message SET outcome = 'seen' WHERE id = ?1 AND outcome = 'unseen'"
            } else {
                store.cover_ids()?;
                "DELETE FROM message WHERE id = ?1 AND outcome = 'unseen'"
            };
            let mut n = 0;
            {
                let mut q = store.conn.prepare_cached(sql)?;
                for &id in ids {
                    n += q.execute([to_sql(id)])?;
                }
            }
            store.advance_owed_from()?;
            Ok(n)
        })
    }

    /// A message the endpoint queued for `peer`.
    pub(crate) fn sent(&mut self, out: &Outgoing<'_>, at: u64) -> Result<(), StoreError> {
        let id = self.take_ids(1);
        let peer = self.peer_text.of(out.peer);
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO message (id, peer, peer_user, author, direction, at, text, outcome, client_id)
                 VALUES (?1, ?2, ?3, ?4, 'out', ?5, ?6, 'pending', ?7)",
            )
            .and_then(|mut q| {
                q.execute(params![to_sql(id), peer, out.peer_user, out.author, to_sql(at), out.text, out.client_id])
            });
        match inserted {
            Ok(_) => {
                self.pending.insert(id, out.client_id.to_string());
                Ok(())
            }
            Err(e) => Err(self.failed(e)),
        }
    }

    /// The outcome of the oldest pending message with the client's id `client_id`:
    /// `None` delivered, `Some(reason)` undelivered.
    pub(crate) fn settled(&mut self, client_id: &str, undelivered: Option<EndReason>) -> Result<(), StoreError> {
        let outcome = match undelivered {
            None => DELIVERED.to_string(),
            Some(reason) => format!("undelivered: {reason}"),
        };
        let Some(row) = self.pending.oldest(client_id) else { return Ok(()) };
        self.write(|store| {
            if store.history {
                let sql = "UPDATE message SET outcome = ?2 WHERE id = ?1 AND outcome = 'pending'";
                store.conn.prepare_cached(sql)?.execute(params![to_sql(row), outcome])?;
            } else {
                store.cover_ids()?;
                let sql = "DELETE FROM message WHERE id = ?1 AND outcome = 'pending'";
                store.conn.prepare_cached(sql)?.execute([to_sql(row)])?;
            }
            store.pending.remove(row);
            store.advance_owed_from()
        })
    }

    /// At start: the sent messages the last run of the daemon left without an outcome (it was
    /// stopped before they were sent, or crashed) are `held` from now on, to be sent in the next
    /// chat with their peer; returns how many are held in all.
    pub(crate) fn hold_unsent(&mut self) -> Result<u64, StoreError> {
        let held = self.write(|store| {
            let mut q = store
                .conn
                .prepare_cached("UPDATE message SET outcome = 'held' WHERE id = ?1 AND outcome = 'pending'")?;
            for row in store.pending.take_rows() {
                q.execute([to_sql(row)])?;
            }
            drop(q);
            store.conn.query_row("SELECT COUNT(*) FROM message WHERE outcome = 'held'", [], |r| r.get::<_, i64>(0))
        })?;
        self.held_left = from_sql(held);
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
        let client_id = self
            .conn
            .prepare_cached(
                "UPDATE message SET outcome = 'pending' WHERE id = ?1 AND outcome = 'held' RETURNING client_id",
            )
            .and_then(|mut q| q.query_row([to_sql(row)], |r| r.get::<_, Option<String>>(0)).optional());
        match client_id {
            Ok(Some(client_id)) => {
                self.held_left = self.held_left.saturating_sub(1);
                self.pending.insert(row, client_id.unwrap_or_default());
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// The last `limit` messages (with `peer`, or with anyone), with ids below `before`,
    /// oldest first. Read backwards along the row ids from `before` (there is no index by peer:
    /// `schema.rs`), so the statement names only the conditions asked for: a `?2 IS NULL OR`
    /// would keep SQLite from starting the walk at `before`.
    pub(crate) fn history(
        &self,
        peer: Option<SocketAddr>,
        limit: usize,
        before: Option<u64>,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = || -> rusqlite::Result<Vec<HistoryEntry>> {
            let mut q = self.conn.prepare_cached(match (peer.is_some(), before.is_some()) {
                (false, false) => HISTORY_ALL,
                (true, false) => HISTORY_PEER,
                (false, true) => HISTORY_ALL_BEFORE,
                (true, true) => HISTORY_PEER_BEFORE,
            })?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut args: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(limit)];
            args.extend(peer.map(|p| Box::new(p.to_string()) as Box<dyn rusqlite::ToSql>));
            args.extend(before.map(|b| Box::new(to_sql(b)) as Box<dyn rusqlite::ToSql>));
            let rows = q.query_map(rusqlite::params_from_iter(args), |r| {
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

    /// Deletes every message with `peer`; returns how many. Reads the whole table (there is no
    /// index by peer: `schema.rs`).
    pub(crate) fn forget(&mut self, peer: SocketAddr) -> Result<u64, StoreError> {
        let (deleted, held) = self.write(|store| {
            store.cover_ids()?;
            let mut deleted = 0;
            {
                let mut q = store.conn.prepare_cached("DELETE FROM message WHERE peer = ?1 RETURNING id")?;
                let mut rows = q.query([peer.to_string()])?;
                while let Some(row) = rows.next()? {
                    store.pending.remove(from_sql(row.get(0)?));
                    deleted += 1;
                }
            }
            store.advance_owed_from()?;
            let held = store
                .conn
                .query_row("SELECT COUNT(*) FROM message WHERE outcome = 'held'", [], |r| r.get::<_, i64>(0))?;
            Ok((deleted, from_sql(held)))
        })?;
        self.held_left = held;
        Ok(deleted)
    }

    /// What the store keeps for later: received messages not confirmed, and sent ones
    /// without an outcome, pending or held (for the shutdown log line).
    pub(crate) fn kept(&self) -> Result<(u64, u64), StoreError> {
        let unseen = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM message WHERE id >= ?1 AND outcome = 'unseen'")
            .and_then(|mut q| q.query_row([to_sql(self.owed_from)], |r| r.get::<_, i64>(0)))
            .map_err(|e| self.error(e))?;
        Ok((from_sql(unseen), self.pending.len() as u64 + self.held_left))
    }

    fn error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }
}

/// `history`'s statements, by the conditions given; `?1` is the limit, then the peer, then
/// `before`.
const HISTORY_ALL: &str = "SELECT id, peer, peer_user, author, direction, at, text, outcome FROM message
     ORDER BY id DESC LIMIT ?1";
const HISTORY_PEER: &str = "SELECT id, peer, peer_user, author, direction, at, text, outcome FROM message
     WHERE peer = ?2 ORDER BY id DESC LIMIT ?1";
const HISTORY_ALL_BEFORE: &str = "SELECT id, peer, peer_user, author, direction, at, text, outcome FROM message
     WHERE id < ?2 ORDER BY id DESC LIMIT ?1";
const HISTORY_PEER_BEFORE: &str = "SELECT id, peer, peer_user, author, direction, at, text, outcome FROM message
     WHERE peer = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?1";

/// A peer's address as the store writes it, kept for the next message: a chat's messages all
/// have one peer, and writing a `SocketAddr` as text costs about 2,000 instructions
/// (callgrind), a tenth of what storing a received message costs.
#[derive(Debug, Default)]
struct PeerText {
    addr: Option<SocketAddr>,
    text: String,
}

impl PeerText {
    fn of(&mut self, peer: SocketAddr) -> &str {
        if self.addr != Some(peer) {
            self.text = peer.to_string();
            self.addr = Some(peer);
        }
        &self.text
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

/// Runs a statement without parameters or rows from the connection's cache: `BEGIN` and
/// `COMMIT` come with every message, and `execute_batch` parses them each time (about 2,100
/// instructions each, callgrind: a seventh of a received message's cost).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
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
