//! `simp history [PEER]`: prints the daemon's stored messages (IPC.md `history`), one line
//! each, for a person or (`--json`) for a program.
//!
//! `history` is a read-only query (IPC.md "Access"): sent as the first line, it is answered
//! whether or not another client is attached, without attaching, so reading the history
//! disturbs nothing — not the user's own client, not a call ringing or a chat running, not
//! the messages and missed calls waiting for the next client. It confirms nothing: unread
//! messages stay unread.

use std::net::SocketAddr;
use std::time::Duration;

use simp_proto::ipc::{parse_peer, Command, Direction, Event, HistoryEntry};

use crate::config::{self, Contacts};
use crate::conn::{self, Incoming};
use crate::escape;

/// Messages printed when `-n` is not given.
pub const DEFAULT_LIMIT: u16 = 50;

/// How long each answer may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// What `simp history` asks for.
#[derive(Debug, Clone)]
pub struct Query {
    /// The daemon's client address.
    pub addr: SocketAddr,
    /// The peer as typed (IP, IP:port, `localhost` or a contact's name); all peers when `None`.
    pub peer: Option<String>,
    /// At most this many, the most recent.
    pub limit: u16,
}

/// Why `simp history` printed nothing.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// No daemon answers where the query went.
    #[error("{source}; {hint}")]
    NoDaemon {
        /// Why.
        source: conn::ConnError,
        /// What to type to read another daemon's store.
        hint: String,
    },
    /// The connection failed.
    #[error(transparent)]
    Conn(#[from] conn::ConnError),
    /// The peer is not an address, `localhost` or a contact's name.
    #[error("{peer:?} is neither an address nor a contact's name: {reason}")]
    BadPeer {
        /// As typed, escaped.
        peer: String,
        /// Why it is not an address.
        reason: String,
    },
    /// The daemon answered something else (the store failed, say).
    #[error("simpd at {addr}: {answer}")]
    Answer {
        /// The daemon's client address.
        addr: SocketAddr,
        /// What it said (or did), escaped.
        answer: String,
    },
}

/// Asks the daemon for its stored messages, oldest first: one read-only `history`, its
/// answer, then the connection is closed.
pub async fn fetch(query: &Query, contacts: &Contacts) -> Result<Vec<HistoryEntry>, HistoryError> {
    let peer = query
        .peer
        .as_deref()
        .map(|typed| {
            let resolved = config::resolve_peer(typed, contacts);
            parse_peer(&resolved).map(|addr| addr.to_string()).map_err(|e| HistoryError::BadPeer {
                peer: escape::field(typed),
                reason: escape::field(&e.to_string()),
            })
        })
        .transpose()?;
    let addr = query.addr;
    let (mut reader, mut writer) = match conn::connect(addr).await {
        Ok(conn) => conn,
        Err(source) => return Err(HistoryError::NoDaemon { source, hint: another_daemon(query) }),
    };
    writer.send(&Command::History { peer, limit: Some(usize::from(query.limit)), before: None }).await?;
    let mut entries = Vec::new();
    loop {
        match next(&mut reader, addr).await? {
            Some(Event::History(entry)) => entries.push(entry),
            Some(Event::HistoryEnd { .. }) => return Ok(entries),
            other => return Err(unexpected(addr, other)),
        }
    }
}

/// The next event; `None` when the daemon closed the connection. An `error` event, a line
/// that does not decode, or silence for [`ANSWER_TIMEOUT`] is an error.
async fn next(reader: &mut conn::EventReader, addr: SocketAddr) -> Result<Option<Event>, HistoryError> {
    let answer = match tokio::time::timeout(ANSWER_TIMEOUT, reader.next()).await {
        Ok(Ok(Some(Incoming::Event(Event::Error { message, .. })))) => escape::field(&message),
        Ok(Ok(Some(Incoming::Event(event)))) => return Ok(Some(event)),
        Ok(Ok(Some(Incoming::Garbled(what)))) => what,
        Ok(Ok(None)) => return Ok(None),
        Ok(Err(err)) => return Err(err.into()),
        Err(_) => format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()),
    };
    Err(HistoryError::Answer { addr, answer })
}

/// An answer that is not the one awaited.
fn unexpected(addr: SocketAddr, event: Option<Event>) -> HistoryError {
    let answer = match event {
        Some(event) => escape::field(&format!("unexpected answer {event:?}")),
        None => "it closed the connection".into(),
    };
    HistoryError::Answer { addr, answer }
}

/// What to type to read another daemon's store: said when no daemon answers, and when the
/// one that does stores nothing with PEER (the user may have named the daemon as PEER).
fn another_daemon(query: &Query) -> String {
    let peer = query.peer.as_deref().map(|p| format!(" {}", escape::field(p))).unwrap_or_default();
    match query.peer.as_deref().and_then(|p| parse_peer(p).ok()) {
        Some(named) if named.ip() == query.addr.ip() => format!(
            "PEER is the other side of the chats, not this daemon: `simp history --daemon-ip {}` lists them all",
            query.addr.ip()
        ),
        Some(named) => format!(
            "PEER is the other side of the chats; to read the store of the daemon on {ip}, type `simp history --daemon-ip {ip}`",
            ip = named.ip()
        ),
        None => format!("the daemon is named with --daemon-ip: `simp history --daemon-ip IP{peer}`"),
    }
}

/// The note for an empty answer, on stderr.
pub fn nothing_stored(query: &Query) -> String {
    let with = query.peer.as_deref().map(|p| format!(" with {}", escape::field(p))).unwrap_or_default();
    format!("simpd at {} stores no messages{with}; {}", query.addr, another_daemon(query))
}

/// One entry per message: local date and time, `from` or `to`, the peer (by contact name when
/// it is one), who wrote it, the text escaped as in plain mode; a sent message ends with its
/// delivery mark, a received one not yet shown to a user with `(unread)`. A multi-line
/// message's further lines follow on lines of their own, indented to the column where its
/// text starts, so every line of the listing that starts with a date starts a message.
pub fn line(entry: &HistoryEntry, contacts: &Contacts) -> String {
    let time = crate::app::arrival_time(entry.at)
        .map_or_else(|| "????-??-?? ??:??:??".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
    let peer = label(&entry.peer, contacts);
    let user = escape::field(&entry.user);
    let (prefix, mark) = match entry.direction {
        Direction::In => {
            let unread = if entry.outcome == "unseen" { " (unread)" } else { "" };
            (format!("{time} from {peer} {user}: "), unread.to_owned())
        }
        Direction::Out => {
            let mark = match entry.outcome.as_str() {
                "delivered" => " ✓".to_owned(),
                "pending" => " …".to_owned(),
                "held" => " … held".to_owned(),
                other => format!(" ✗ {}", escape::field(other)),
            };
            (format!("{time} to {peer} {user}: "), mark)
        }
    };
    let indent = format!("\n{}", " ".repeat(escape::width(&prefix)));
    format!("{prefix}{}{mark}", escape::message_lines(&entry.text).join(&indent))
}

/// A stored peer address (`IP:port`) as shown: `NAME (IP:port)` for a contact.
fn label(peer: &str, contacts: &Contacts) -> String {
    match peer.parse::<SocketAddr>().ok().and_then(|addr| contacts.name_of(addr)) {
        Some(name) => format!("{} ({peer})", escape::field(name)),
        None => escape::field(peer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(direction: Direction, text: &str, outcome: &str) -> HistoryEntry {
        let at = crate::app::epoch_millis(crate::app::test_time(9, 5, 7));
        let user = if direction == Direction::In { "bob\x1b" } else { "alice" };
        let (peer, peer_user) = ("127.0.0.2:7777".into(), "bob".into());
        HistoryEntry {
            id: 1,
            peer,
            peer_user,
            user: user.into(),
            direction,
            at,
            text: text.into(),
            outcome: outcome.into(),
        }
    }

    #[test]
    fn a_daemon_named_as_peer_gets_a_note_saying_what_to_type() {
        let query = |peer: Option<&str>| Query {
            addr: "127.0.0.1:7778".parse().unwrap(),
            peer: peer.map(str::to_owned),
            limit: DEFAULT_LIMIT,
        };
        assert_eq!(
            nothing_stored(&query(Some("127.0.90.2:7777"))),
            "simpd at 127.0.0.1:7778 stores no messages with 127.0.90.2:7777; PEER is the other side of the \
             chats; to read the store of the daemon on 127.0.90.2, type `simp history --daemon-ip 127.0.90.2`"
        );
        assert!(nothing_stored(&query(None)).ends_with("`simp history --daemon-ip IP`"));
        assert!(
            nothing_stored(&query(Some("127.0.0.1:7777"))).ends_with(
                "PEER is the other side of the chats, not this daemon: `simp history --daemon-ip 127.0.0.1` lists them all"
            ),
            "the daemon's own address as PEER"
        );
    }

    #[test]
    fn one_line_per_message_with_date_direction_contact_and_escaped_text() {
        let mut contacts = Contacts::default();
        assert_eq!(
            line(&entry(Direction::In, "hi\nthere\x07", "unseen"), &contacts),
            format!(
                "2026-12-02 09:05:07 from 127.0.0.2:7777 bob\\x1b: hi\n{}there\\x07 (unread)",
                " ".repeat("2026-12-02 09:05:07 from 127.0.0.2:7777 bob\\x1b: ".len())
            ),
            "a line break starts an indented line; other controls stay escaped"
        );
        contacts.insert("bobby", "127.0.0.2:7777".parse().unwrap()).unwrap();
        assert_eq!(
            line(&entry(Direction::Out, "hello", "delivered"), &contacts),
            "2026-12-02 09:05:07 to bobby (127.0.0.2:7777) alice: hello ✓"
        );
        assert_eq!(
            line(&entry(Direction::Out, "gone", "undelivered: peer unreachable"), &contacts),
            "2026-12-02 09:05:07 to bobby (127.0.0.2:7777) alice: gone ✗ undelivered: peer unreachable"
        );
        assert_eq!(
            line(&entry(Direction::In, "seen", "seen"), &contacts),
            "2026-12-02 09:05:07 from bobby (127.0.0.2:7777) bob\\x1b: seen"
        );
    }
}
