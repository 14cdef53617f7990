//! The store against a real database file in a temporary directory.

use std::path::PathBuf;
use std::sync::Arc;

use simp_proto::ipc::{Direction, EndReason, Event};
use simp_proto::Incoming;

use super::{Outgoing, Store, StoreError, DB_FILE};

/// A fresh directory, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        Dir(std::env::temp_dir().join(format!("simpd-store-{tag}-{}-{nanos}", std::process::id())).join("a/b"))
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap().parent().unwrap());
    }
}

fn bob() -> std::net::SocketAddr {
    "127.0.0.2:7777".parse().unwrap()
}

fn incoming(text: &str) -> Incoming {
    Incoming { peer: bob(), user: Arc::from("bob"), text: text.into() }
}

fn texts(events: &[Event]) -> Vec<(u64, String)> {
    events
        .iter()
        .map(|e| if let Event::Message { id, text, .. } = e { (*id, text.clone()) } else { panic!("{e:?}") })
        .collect()
}

#[test]
fn a_second_store_on_the_same_directory_is_refused_while_the_first_is_open() {
    let dir = Dir::new("exclusive");
    let mut first = Store::open(Some(&dir.0), true).unwrap();
    match Store::open(Some(&dir.0), true) {
        Err(error @ StoreError::InUse { .. }) => assert!(error.to_string().contains("--state-dir"), "{error}"),
        other => panic!("a second store opened beside the first: {other:?}"),
    }
    // The first keeps working, and the directory is free again once it is closed.
    first.received(&incoming("still here"), 1).unwrap();
    drop(first);
    let store = Store::open(Some(&dir.0), true).unwrap();
    assert_eq!(texts(&store.unseen().unwrap()), [(1, "still here".to_string())]);
}

#[test]
fn the_database_is_private_in_wal_mode_and_survives_reopening() {
    let dir = Dir::new("open");
    let mut store = Store::open(Some(&dir.0), true).unwrap();
    let id = store.received(&incoming("hi"), 1234).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.0.join(DB_FILE)), 0o600);
        assert_eq!(mode(dir.0.join(format!("{DB_FILE}-wal"))), 0o600, "SQLite's log takes the file's mode");
        assert_eq!(mode(dir.0.clone()), 0o700);
    }
    let mode: String = store.conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = store.conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
    assert_eq!(sync, 1, "NORMAL");
    drop(store);
    let store = Store::open(Some(&dir.0), true).unwrap();
    let unseen = store.unseen().unwrap();
    assert_eq!(unseen, [Event::Message { id, at: 1234, user: "bob".into(), text: "hi".into() }]);
}

#[test]
fn unseen_messages_come_back_in_order_until_confirmed_and_ids_keep_increasing() {
    let mut store = Store::open(None, true).unwrap();
    let a = store.received(&incoming("a"), 1).unwrap();
    let b = store.received(&incoming("b"), 2).unwrap();
    let c = store.received(&incoming("c"), 3).unwrap();
    assert!(a < b && b < c);
    assert_eq!(texts(&store.unseen().unwrap()), [(a, "a".into()), (b, "b".into()), (c, "c".into())]);
    assert_eq!(store.seen(&[a, c, 999]).unwrap(), 2, "unknown ids are ignored");
    assert_eq!(texts(&store.unseen().unwrap()), [(b, "b".into())]);
    assert_eq!(store.forget(bob()).unwrap(), 3);
    let d = store.received(&incoming("d"), 4).unwrap();
    assert!(d > c, "an id is never given twice, even after forget");
}

#[test]
fn a_long_message_is_stored_as_parts_under_consecutive_ids() {
    let mut store = Store::open(None, true).unwrap();
    let text = "\\xff".repeat(40_000);
    let m = incoming(&text);
    let parts = m.parts().count();
    assert!(parts > 1);
    let first = store.received(&m, 5).unwrap();
    let unseen = texts(&store.unseen().unwrap());
    assert_eq!(unseen.iter().map(|(id, _)| *id).collect::<Vec<_>>(), (first..first + parts as u64).collect::<Vec<_>>());
    assert_eq!(unseen.into_iter().map(|(_, t)| t).collect::<String>(), text);
}

#[test]
fn history_pages_back_by_peer_and_forget_deletes_one_peer() {
    let mut store = Store::open(None, true).unwrap();
    let carol: std::net::SocketAddr = "127.0.0.3:7777".parse().unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(store.received(&incoming(&format!("in {i}")), 10 + i).unwrap());
        let out = Outgoing { peer: bob(), peer_user: "bob", author: "alice", text: "out", client_id: "7" };
        store.sent(&out, 20 + i).unwrap();
    }
    store.received(&Incoming { peer: carol, user: Arc::from("carol"), text: "c".into() }, 30).unwrap();
    store.settled("7", None).unwrap();
    store.settled("7", Some(EndReason::PeerUnreachable)).unwrap();
    let all = store.history(None, 3, None).unwrap();
    assert_eq!(
        all.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
        ["in 4", "out", "c"],
        "the last 3, oldest first"
    );
    let page = store.history(Some(bob()), 2, Some(ids[1])).unwrap();
    assert_eq!(page.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), ["in 0", "out"]);
    assert_eq!((page[0].direction, page[1].direction), (Direction::In, Direction::Out));
    assert_eq!(page[1].outcome, "delivered", "the oldest pending one took the first outcome");
    let outcomes: Vec<String> = store.history(Some(bob()), 10, None).unwrap().into_iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes.iter().filter(|o| *o == "undelivered: peer unreachable").count(), 1);
    assert_eq!(outcomes.iter().filter(|o| *o == "pending").count(), 3);
    assert_eq!(store.forget(bob()).unwrap(), 10);
    assert_eq!(store.history(None, 10, None).unwrap().len(), 1, "carol's stays");
}

#[test]
fn without_history_only_the_unconfirmed_and_the_unsent_are_kept() {
    let mut store = Store::open(None, false).unwrap();
    let a = store.received(&incoming("a"), 1).unwrap();
    store.received(&incoming("b"), 2).unwrap();
    let out = Outgoing { peer: bob(), peer_user: "bob", author: "alice", text: "out", client_id: "1" };
    store.sent(&out, 3).unwrap();
    store.sent(&Outgoing { client_id: "2", ..out }, 4).unwrap();
    store.seen(&[a]).unwrap();
    store.settled("1", None).unwrap();
    let kept: Vec<String> = store.history(None, 10, None).unwrap().into_iter().map(|e| e.text).collect();
    assert_eq!(kept, ["b", "out"]);
    assert_eq!(store.kept().unwrap(), (1, 1));
}

#[test]
fn an_unwritable_state_directory_is_an_error_naming_it() {
    let dir = Dir::new("unwritable");
    std::fs::create_dir_all(dir.0.parent().unwrap()).unwrap();
    std::fs::write(&dir.0, b"a file, not a directory").unwrap();
    let error = Store::open(Some(&dir.0), true).unwrap_err().to_string();
    assert!(error.contains(&dir.0.display().to_string()) && error.contains("--state-dir"), "{error}");
}

#[test]
fn sent_messages_without_an_outcome_are_held_after_reopening_until_queued_again() {
    let dir = Dir::new("held");
    let mut store = Store::open(Some(&dir.0), true).unwrap();
    for (text, id) in [("one", "1"), ("two", "2"), ("three", "3")] {
        let out = Outgoing { peer: bob(), peer_user: "bob", author: "alice", text, client_id: id };
        store.sent(&out, 100).unwrap();
    }
    store.settled("1", None).unwrap();
    assert_eq!(store.hold_unsent().unwrap(), 2, "pending ones from this run are held too");
    drop(store);
    // The daemon stopped with two and three pending: held from the next start.
    let mut store = Store::open(Some(&dir.0), true).unwrap();
    assert_eq!(store.hold_unsent().unwrap(), 2);
    assert_eq!(store.kept().unwrap(), (0, 2));
    let held = store.held(None, usize::MAX).unwrap();
    let events: Vec<Event> = held.iter().map(super::Held::event).collect();
    assert_eq!(
        events,
        [
            Event::Held { id: "2".into(), peer: bob(), text: "two".into(), at: 100 },
            Event::Held { id: "3".into(), peer: bob(), text: "three".into(), at: 100 },
        ]
    );
    assert!(store.held(Some("127.0.0.3:7777".parse().unwrap()), 10).unwrap().is_empty(), "only for their peer");
    assert_eq!(store.held(Some(bob()), 1).unwrap().len(), 1, "limited");
    store.requeued(held[0].row).unwrap();
    let left: Vec<u64> = store.held(None, 10).unwrap().iter().map(|m| m.row).collect();
    assert_eq!(left, [held[1].row], "the other one is still held");
    store.settled("2", Some(EndReason::PeerUnreachable)).unwrap();
    let outcomes: Vec<String> = store.history(None, 10, None).unwrap().into_iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, ["delivered", "undelivered: peer unreachable", "held"]);
    assert_eq!(store.kept().unwrap(), (0, 1));
    // Forgetting the peer forgets its held message; one held again at the next start is found.
    store.forget(bob()).unwrap();
    assert!(store.held(None, 10).unwrap().is_empty());
    assert_eq!(store.kept().unwrap(), (0, 0));
}

#[test]
fn an_id_is_never_given_again_after_the_newest_rows_are_deleted_and_the_store_reopened() {
    let carol: std::net::SocketAddr = "127.0.0.3:7777".parse().unwrap();
    let from_carol = |text: &str| Incoming { peer: carol, user: Arc::from("carol"), text: text.into() };
    let dir = Dir::new("never-reused");
    let mut store = Store::open(Some(&dir.0), true).unwrap();
    let a = store.received(&incoming("a"), 1).unwrap();
    store.received(&from_carol("b"), 2).unwrap();
    let c = store.received(&from_carol("c"), 3).unwrap();
    assert_eq!(store.forget(carol).unwrap(), 2, "the two newest rows");
    drop(store);
    let mut store = Store::open(Some(&dir.0), true).unwrap();
    let d = store.received(&incoming("d"), 4).unwrap();
    assert!(d > c, "id {d} given again after forget and a restart (newest left: {a}, deleted up to {c})");
    drop(store);

    // With --no-history a confirmed message is deleted: the same holds across every restart.
    let dir = Dir::new("never-reused-no-history");
    let mut last = 0;
    for round in 0..3 {
        let mut store = Store::open(Some(&dir.0), false).unwrap();
        let id = store.received(&incoming("e"), 5).unwrap();
        assert!(id > last, "round {round}: id {id} after {last}");
        assert_eq!(store.seen(&[id]).unwrap(), 1);
        assert!(store.history(None, 10, None).unwrap().is_empty(), "deleted once confirmed");
        last = id;
    }
}

/// The first store's schema (`user_version` 0), as simpd created it before `schema.rs`.
const SCHEMA_V1: &str = "
    CREATE TABLE IF NOT EXISTS message (
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
    CREATE INDEX IF NOT EXISTS message_peer ON message (peer, id);";

#[test]
fn a_store_made_by_the_first_schema_opens_with_its_messages_and_its_ids() {
    let dir = Dir::new("migrate");
    std::fs::create_dir_all(&dir.0).unwrap();
    {
        let old = rusqlite::Connection::open(dir.0.join(DB_FILE)).unwrap();
        old.pragma_update(None, "journal_mode", "WAL").unwrap();
        old.execute_batch(SCHEMA_V1).unwrap();
        old.execute_batch(
            "INSERT INTO message (peer, peer_user, author, direction, at, text, outcome, client_id) VALUES
                ('127.0.0.2:7777', 'bob', 'bob', 'in', 10, 'seen before', 'seen', NULL),
                ('127.0.0.2:7777', 'bob', 'alice', 'out', 11, 'sent before', 'delivered', '1'),
                ('127.0.0.2:7777', 'bob', 'bob', 'in', 12, 'not yet shown', 'unseen', NULL),
                ('127.0.0.2:7777', 'bob', 'alice', 'out', 13, 'left pending', 'pending', '2'),
                ('127.0.0.3:7777', 'carol', 'carol', 'in', 14, 'forgotten', 'seen', NULL);
             DELETE FROM message WHERE id = 5;",
        )
        .unwrap();
        let version: i64 = old.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, 0);
    }
    let mut store = Store::open(Some(&dir.0), true).unwrap();
    let kept: Vec<(u64, String, String)> =
        store.history(None, 10, None).unwrap().into_iter().map(|e| (e.id, e.text, e.outcome)).collect();
    assert_eq!(
        kept,
        [
            (1, "seen before".into(), "seen".into()),
            (2, "sent before".into(), "delivered".into()),
            (3, "not yet shown".into(), "unseen".into()),
            (4, "left pending".into(), "pending".into()),
        ]
    );
    assert_eq!(texts(&store.unseen().unwrap()), [(3, "not yet shown".to_string())]);
    assert_eq!(store.hold_unsent().unwrap(), 1);
    assert_eq!(store.held(None, 10).unwrap().iter().map(|m| m.row).collect::<Vec<_>>(), [4]);
    let next = store.received(&incoming("new"), 15).unwrap();
    assert!(next > 5, "id {next}: 5 was given by the old store (then deleted)");
    let version: i64 = store.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, super::schema::VERSION);
    let sql: String =
        store.conn.query_row("SELECT sql FROM sqlite_master WHERE name = 'message'", [], |r| r.get(0)).unwrap();
    assert!(!sql.contains("AUTOINCREMENT"), "{sql}");
    drop(store);
    // Open again: already migrated, nothing changes.
    let store = Store::open(Some(&dir.0), true).unwrap();
    assert_eq!(store.history(None, 10, None).unwrap().len(), 5);
}

#[test]
fn a_store_from_a_newer_simpd_is_refused_and_left_alone() {
    let dir = Dir::new("newer");
    drop(Store::open(Some(&dir.0), true).unwrap());
    let file = dir.0.join(DB_FILE);
    rusqlite::Connection::open(&file).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let error = Store::open(Some(&dir.0), true).unwrap_err();
    assert!(matches!(error, StoreError::Newer { version: 99, .. }), "{error}");
    assert!(error.to_string().contains("--state-dir"), "{error}");
    let version: i64 =
        rusqlite::Connection::open(&file).unwrap().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, 99);
}

/// Without an index of unconfirmed or unsent rows, the store finds them at open from the
/// `owed_from` mark on: the mark moves past long confirmed stretches, never past an owed row.
#[test]
fn owed_messages_are_found_at_open_however_far_the_owed_from_mark_moved() {
    let dir = Dir::new("owed-from");
    let mut store = Store::open(Some(&dir.0), true).unwrap();
    let confirmed = |store: &mut Store, n: usize| {
        for _ in 0..n {
            let id = store.received(&incoming("chatter"), 1).unwrap();
            store.seen(&[id]).unwrap();
        }
    };
    let old = store.received(&incoming("old, unconfirmed"), 1).unwrap();
    let out = Outgoing { peer: bob(), peer_user: "bob", author: "alice", text: "unsent", client_id: "x" };
    store.sent(&out, 2).unwrap();
    confirmed(&mut store, 2500);
    let mark = |store: &Store| super::schema::mark(&store.conn, super::schema::OWED_FROM).unwrap();
    assert!(mark(&store) <= old, "the mark passed an unconfirmed message");
    drop(store); // as a kill -9 would: nothing more is written

    let mut store = Store::open(Some(&dir.0), true).unwrap();
    assert_eq!(texts(&store.unseen().unwrap()), [(old, "old, unconfirmed".to_string())]);
    assert_eq!(store.kept().unwrap(), (1, 1));
    store.seen(&[old]).unwrap();
    confirmed(&mut store, 2500);
    let recent: Vec<u64> = (0..3).map(|_| store.received(&incoming("recent"), 3).unwrap()).collect();
    let moved = mark(&store);
    assert!(moved > old && moved <= old + 1, "the mark stops at the unsent message: {moved}");
    assert_eq!(store.hold_unsent().unwrap(), 1);
    let held = store.held(None, 10).unwrap();
    store.requeued(held[0].row).unwrap();
    store.settled("x", None).unwrap();
    confirmed(&mut store, 2500);
    drop(store);

    let store = Store::open(Some(&dir.0), true).unwrap();
    let moved = mark(&store);
    assert!(moved > held[0].row && moved <= recent[0], "the mark moved on, up to the recent ones: {moved}");
    let unseen: Vec<u64> = texts(&store.unseen().unwrap()).into_iter().map(|(id, _)| id).collect();
    assert_eq!(unseen, recent);
    assert_eq!(store.kept().unwrap(), (3, 0));
    assert_eq!(store.history(None, 1, Some(recent[0])).unwrap()[0].outcome, "seen");
}

/// A received message of one part is committed by its own INSERT (no BEGIN/COMMIT): it is on
/// disk when `received` returns. Inside a transaction another write holds open it is refused
/// and nothing is stored, as the explicit BEGIN refused it before.
#[test]
fn a_received_message_is_committed_alone_and_never_inside_a_batch() {
    let dir = Dir::new("alone");
    let mut store = Store::open(Some(&dir.0), true).unwrap();
    let id = store.received(&incoming("one part"), 1).unwrap();
    assert!(store.conn.is_autocommit(), "a transaction was left open");
    store.begin().unwrap();
    assert!(store.received(&incoming("inside a batch"), 2).is_err());
    store.commit().unwrap();
    drop(store);
    let store = Store::open(Some(&dir.0), true).unwrap();
    assert_eq!(texts(&store.unseen().unwrap()), [(id, "one part".to_string())]);
}
