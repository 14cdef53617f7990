//! The stored history a chat shows (issue 13 "History"): which `history` commands the client
//! sends and when, and what it does with the answers until they are complete. Turning the
//! answers into log lines is the [`App`](crate::app::App)'s.
//!
//! When a chat opens (placed, answered, or found open on connecting) the client asks the
//! daemon's store for the last [`PAGE`] messages with that peer, once per peer and session:
//! from then on everything with that peer is in the log already. Asking again later (PgUp at
//! the top of the scrollback) pages back from the oldest id shown (IPC.md `history` with
//! `before`). While the first answer is on its way, `message` events are held back, so that a
//! message the daemon delivers again on connect lands after the older history, not above it,
//! and is shown once.

use std::collections::HashMap;
use std::net::SocketAddr;

use simp_proto::ipc::{Command, ErrorCode, Event, HistoryEntry};

/// Messages asked for at a time.
pub const PAGE: usize = 50;

/// What the client knows of the stored history with each peer. See the module docs.
#[derive(Debug, Default)]
pub struct History {
    enabled: bool,
    views: HashMap<SocketAddr, View>,
    current: Option<SocketAddr>,
    pending: Option<Pending>,
    /// A chat that opened while another peer's answer was on its way: asked for once that
    /// answer is complete ([`History::resume`]).
    deferred: Option<SocketAddr>,
}

/// A `history` answer, complete.
#[derive(Debug)]
pub struct Answer {
    /// The peer it is about.
    pub peer: SocketAddr,
    /// A page further back (`true`), or the history shown as the chat opened.
    pub older: bool,
    /// For a page further back: the store id of the oldest message shown before it, above
    /// which it goes.
    pub above: Option<u64>,
    /// The messages, oldest first.
    pub entries: Vec<HistoryEntry>,
    /// Whether nothing older is stored.
    pub exhausted: bool,
    /// `message` events held back while it came, in order.
    pub held: Vec<Event>,
}

#[derive(Debug, Default)]
struct View {
    /// The smallest store id shown, once any is.
    oldest: Option<u64>,
    exhausted: bool,
}

#[derive(Debug)]
struct Pending {
    peer: SocketAddr,
    older: bool,
    entries: Vec<HistoryEntry>,
    held: Vec<Event>,
}

impl History {
    /// History that is asked for only when `enabled` (the full-screen interface; plain mode
    /// prints the conversation as it happens, and `simp history` prints the store).
    pub fn new(enabled: bool) -> History {
        History { enabled, ..History::default() }
    }

    /// A chat with `peer` opened: the command asking for its history, the first time.
    pub fn open(&mut self, peer: SocketAddr) -> Option<Command> {
        self.current = Some(peer);
        if !self.enabled || self.views.contains_key(&peer) {
            return None;
        }
        if self.pending.is_some() {
            self.deferred = Some(peer);
            return None;
        }
        self.views.insert(peer, View::default());
        self.pending = Some(Pending { peer, older: false, entries: Vec::new(), held: Vec::new() });
        Some(command(peer, None))
    }

    /// After an answer (or its failure): the command asking for the history of a chat that
    /// opened meanwhile, if that chat is still the current one.
    pub fn resume(&mut self) -> Option<Command> {
        let peer = self.deferred.take()?;
        if self.current != Some(peer) {
            return None;
        }
        self.open(peer)
    }

    /// The command asking for the page before the oldest message shown with the current
    /// peer, unless there is none or an answer is still on its way.
    pub fn older(&mut self) -> Option<Command> {
        let peer = self.current?;
        let view = self.views.get(&peer)?;
        if !self.enabled || self.pending.is_some() || view.exhausted {
            return None;
        }
        let before = view.oldest?;
        self.pending = Some(Pending { peer, older: true, entries: Vec::new(), held: Vec::new() });
        Some(command(peer, Some(before)))
    }

    /// Whether history is shown at all.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Whether a `history` answer is on its way.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Takes `event` into the answer being collected, or holds it back until the answer is
    /// complete; gives it back when it is for the caller to handle now.
    pub fn take(&mut self, event: Event) -> Option<Event> {
        let Some(pending) = &mut self.pending else { return Some(event) };
        match event {
            Event::History(entry) => pending.entries.push(entry),
            Event::Message { .. } if !pending.older => pending.held.push(event),
            other => return Some(other),
        }
        None
    }

    /// `history-end` came: the complete answer (`None` if none was asked for).
    pub fn finish(&mut self) -> Option<Answer> {
        let Pending { peer, older, entries, held } = self.pending.take()?;
        let view = self.views.entry(peer).or_default();
        let above = view.oldest;
        let exhausted = entries.len() < PAGE;
        let oldest = entries.iter().map(|e| e.id).min();
        view.oldest = match (view.oldest, oldest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        view.exhausted = exhausted;
        Some(Answer { peer, older, above: above.filter(|_| older), entries, exhausted, held })
    }

    /// The connection to the daemon is gone, and with it any answer on its way: the
    /// `message` events held back for it, to be handled now. A first page that did not come
    /// is asked for again when a chat with its peer next opens.
    pub fn connection_lost(&mut self) -> Vec<Event> {
        self.current = None;
        self.deferred = None;
        let Some(pending) = self.pending.take() else { return Vec::new() };
        if !pending.older {
            self.views.remove(&pending.peer);
        }
        pending.held
    }

    /// An error came while an answer was awaited: if it is the answer (the store failed, the
    /// daemon knows no `history`), the events held back for it, to be handled now.
    pub fn fail(&mut self, code: ErrorCode) -> Option<Vec<Event>> {
        let is_ours = matches!(code, ErrorCode::StoreFailed | ErrorCode::UnknownCmd | ErrorCode::BadPeer);
        if !is_ours {
            return None;
        }
        let pending = self.pending.take()?;
        // Nothing more will come: do not ask again in this session.
        self.views.entry(pending.peer).or_default().exhausted = true;
        Some(pending.held)
    }
}

fn command(peer: SocketAddr, before: Option<u64>) -> Command {
    Command::History { peer: Some(peer.to_string()), limit: Some(PAGE), before }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simp_proto::ipc::Direction;

    fn peer() -> SocketAddr {
        "127.0.0.2:7777".parse().unwrap()
    }

    fn entry(id: u64) -> Event {
        Event::History(HistoryEntry {
            id,
            peer: peer().to_string(),
            peer_user: "bob".into(),
            user: "bob".into(),
            direction: Direction::In,
            at: 0,
            text: format!("m{id}"),
            outcome: "seen".into(),
        })
    }

    #[test]
    fn asked_once_per_peer_then_paged_back_until_exhausted() {
        let mut h = History::new(true);
        assert_eq!(h.open(peer()), Some(command(peer(), None)));
        assert_eq!(h.older(), None, "not while an answer is on its way");
        for id in 100..100 + PAGE as u64 {
            assert!(h.take(entry(id)).is_none());
        }
        let answer = h.finish().unwrap();
        assert_eq!((answer.entries.len(), answer.older, answer.exhausted), (PAGE, false, false));
        assert_eq!(h.open(peer()), None, "the second chat with the same peer asks nothing");
        assert_eq!(h.older(), Some(command(peer(), Some(100))));
        h.take(entry(99));
        let answer = h.finish().unwrap();
        assert_eq!((answer.above, answer.exhausted), (Some(100), true));
        assert_eq!(h.older(), None, "nothing older is stored");
    }

    #[test]
    fn messages_are_held_while_the_first_answer_comes_and_errors_release_them() {
        let mut h = History::new(true);
        h.open(peer());
        let message = Event::Message { id: 7, at: 0, user: "bob".into(), text: "hi".into() };
        assert!(h.take(message.clone()).is_none());
        let status = Event::Ended { reason: simp_proto::ipc::EndReason::PeerLeft, detail: None };
        assert_eq!(h.take(status.clone()), Some(status), "other events pass");
        assert_eq!(h.fail(ErrorCode::Busy), None, "not an answer to history");
        assert_eq!(h.fail(ErrorCode::StoreFailed), Some(vec![message]));
        assert!(!h.is_pending());
        assert_eq!(h.older(), None);
    }

    #[test]
    fn a_chat_that_opens_while_another_answer_comes_is_asked_for_after_it() {
        let other: SocketAddr = "127.0.0.3:7777".parse().unwrap();
        let mut h = History::new(true);
        assert_eq!(h.open(peer()), Some(command(peer(), None)));
        assert_eq!(h.open(other), None, "one answer at a time");
        assert_eq!(h.resume(), None, "not while the first answer comes");
        h.finish().unwrap();
        assert_eq!(h.resume(), Some(command(other, None)));
        assert_eq!(h.resume(), None, "asked once");
        // A chat that opened and was left for another before the answer came is not asked for.
        let third: SocketAddr = "127.0.0.4:7777".parse().unwrap();
        h.finish().unwrap();
        assert_eq!(h.open(third), Some(command(third, None)));
        h.open(peer());
        let fourth: SocketAddr = "127.0.0.5:7777".parse().unwrap();
        assert_eq!(h.open(fourth), None);
        h.fail(ErrorCode::StoreFailed).unwrap();
        assert_eq!(h.resume(), Some(command(fourth, None)), "after a failed answer too");
    }

    #[test]
    fn disabled_asks_nothing() {
        let mut h = History::new(false);
        assert_eq!(h.open(peer()), None);
        assert_eq!(h.older(), None);
    }
}
