//! The shell's side of the store (SPEC 2.2, IPC.md "Messages and their store"): committing
//! what the endpoint asks to persist before its ACK leaves, replaying unconfirmed messages to
//! a client that connects, recording sent messages and their outcomes, and the store's own
//! commands (`seen`, `history`, `forget`), which never reach the endpoint. `history` is
//! read-only: it is answered before `connect` too, and to a connection that finds the client
//! slot taken (IPC.md "Access"); `seen` and `forget` change the store and need the client.

use std::collections::VecDeque;
use std::net::SocketAddr;

use simp_proto::ipc::{self, Command, ErrorCode, Event, HISTORY_MAX};
use simp_proto::{StateName, Stored};
use tracing::{info, warn};

use super::Shell;
use crate::store::{now_ms, Outgoing};

/// The store's writes of one pass over the endpoint's events (see [`Shell::record_in`]).
#[derive(Default)]
pub(super) struct Batch {
    /// A transaction is open.
    open: bool,
}

/// What the shell remembers to record sent messages: the `chat` commands the endpoint
/// accepted, until their `queued` event names their id, and the chat's peer.
#[derive(Default)]
pub(super) struct Outbox {
    accepted: VecDeque<Accepted>,
    /// The peer of the open chat and its name, from `established`.
    chat: Option<(SocketAddr, String)>,
    /// A chat opened, or a delivery made room in its queue: the messages held for its peer
    /// from before a restart may be queued now.
    requeue: bool,
    /// The last requeue filled the queue: more may be held.
    more_held: bool,
}

/// A `chat` the endpoint accepted, waiting for its `queued` event.
enum Accepted {
    /// From the client: its text, for a new row.
    New(String),
    /// A held message queued again: its row.
    Held(u64),
}

impl Shell {
    /// A client's command: the store's own are answered here; `chat` is noted for the store;
    /// a successful `connect` is followed by every message not yet confirmed, in order.
    pub(super) fn command(&mut self, now: simp_proto::Instant, cmd: Command) {
        match cmd {
            Command::Seen { .. } | Command::Forget { .. } if !self.ep.has_client() => {
                self.send_to_client(&Event::error(
                    ErrorCode::NotConnected,
                    "send {\"cmd\":\"connect\",\"user\":\"NAME\"} first",
                ));
            }
            Command::Seen { ids } => {
                if let Err(error) = self.store.seen(&ids) {
                    warn!(%error, "could not record messages as seen");
                    self.send_to_client(&Event::error(ErrorCode::StoreFailed, error.to_string()));
                }
            }
            Command::History { peer, limit, before } => {
                for event in self.history(peer.as_deref(), limit, before) {
                    self.send_to_client(&event);
                }
            }
            Command::Forget { peer } => self.forget(&peer),
            Command::Chat { text, id, utf8 } => {
                let before = self.ep.outgoing();
                let stash = text.clone();
                self.ep.handle_command(now, Command::Chat { text, id, utf8 });
                if self.ep.outgoing() > before {
                    self.outbox.accepted.push_back(Accepted::New(stash));
                }
            }
            Command::Connect { user } => {
                self.ep.handle_command(now, Command::Connect { user });
                if self.ep.has_client() {
                    self.replay();
                }
            }
            cmd => self.ep.handle_command(now, cmd),
        }
    }

    /// Commits the message the endpoint wants stored, and tells it how that went; true if
    /// there was one.
    pub(super) fn persist(&mut self, now: simp_proto::Instant) -> bool {
        let Some(incoming) = self.ep.poll_persist() else { return false };
        let at = now_ms();
        let stored = match self.store.received(incoming, at) {
            Ok(first_id) => Some(Stored { first_id, at }),
            Err(error) => {
                warn!(%error, peer = %incoming.peer, "could not store a message; not acknowledging it (the peer re-sends)");
                None
            }
        };
        self.ep.handle_persisted(now, stored);
        true
    }

    /// [`Shell::record`] within `batch`: the first event that writes to the store opens the
    /// batch's transaction. A burst of `chat` lines read in one turn is then one commit: on
    /// the sending daemon about 7 fewer `pwrite`s per message (README, "where the cost goes").
    pub(super) fn record_in(&mut self, batch: &mut Batch, event: &Event) {
        let writes = matches!(event, Event::Queued { .. } | Event::Delivered { .. } | Event::Undelivered { .. });
        if writes && !batch.open {
            match self.store.begin() {
                Ok(()) => batch.open = true,
                // Each write then commits on its own, as it would without a batch.
                Err(error) => warn!(%error, "could not open a transaction in the store"),
            }
        }
        self.record(event);
    }

    /// Commits what a batch recorded. Called before the client's lines are written and the
    /// datagrams sent, so that a `queued` the client sees is on disk, and before a received
    /// message's own transaction.
    pub(super) fn end_batch(&mut self, batch: Batch) {
        if batch.open {
            if let Err(error) = self.store.commit() {
                warn!(%error, "could not record sent messages in the store");
            }
        }
    }

    /// Notes what an event means for the store, before it goes to the client.
    pub(super) fn record(&mut self, event: &Event) {
        let result = match event {
            Event::Established { peer, user } => {
                self.outbox.chat = Some((*peer, user.clone()));
                self.outbox.requeue = true;
                Ok(())
            }
            Event::Queued { id } => match (self.outbox.accepted.pop_front(), &self.outbox.chat) {
                (Some(Accepted::New(text)), Some((peer, peer_user))) => {
                    let author = self.user.as_deref().unwrap_or_default();
                    let out = Outgoing { peer: *peer, peer_user, author, text: &text, client_id: id };
                    self.store.sent(&out, now_ms())
                }
                (Some(Accepted::Held(row)), _) => self.store.requeued(row),
                _ => Ok(()),
            },
            Event::Delivered { id } => {
                self.outbox.requeue |= self.outbox.more_held;
                self.store.settled(id, None)
            }
            Event::Undelivered { id, reason } => self.store.settled(id, Some(*reason)),
            Event::Connected { user, .. } => {
                self.user = Some(user.clone());
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(error) = result {
            warn!(%error, "could not record a sent message in the store");
        }
    }

    /// After a chat opened (or a delivery made room): the messages held from before a restart
    /// for its peer are queued, oldest first, before anything the client sends next (SPEC 2.2,
    /// "Across a restart"), as many as the queue takes. Only for an attached client, whose
    /// chat it is; true if any was queued.
    pub(super) fn requeue_held(&mut self) -> bool {
        if !std::mem::take(&mut self.outbox.requeue) {
            return false;
        }
        let Some((peer, _)) = self.outbox.chat else { return false };
        if !self.ep.has_client() || self.ep.state() != StateName::Chatting || self.ep.peer() != Some(peer) {
            return false;
        }
        let room = self.ep.config().queue_limit.saturating_sub(self.ep.outgoing());
        let held = match self.store.held(Some(peer), room) {
            Ok(held) => held,
            Err(error) => {
                warn!(%error, "could not read the messages held for the peer");
                return false;
            }
        };
        self.outbox.more_held = held.len() == room;
        let now = self.now();
        let mut queued = false;
        for m in held {
            let before = self.ep.outgoing();
            let utf8 = (!m.text.is_ascii()).then_some(true);
            self.ep.handle_command(now, Command::Chat { text: m.text, id: Some(m.client_id), utf8 });
            if self.ep.outgoing() == before {
                break;
            }
            self.outbox.accepted.push_back(Accepted::Held(m.row));
            queued = true;
        }
        if queued {
            info!(%peer, "sending the messages held for this peer from before the restart");
        }
        queued
    }

    /// Every message not yet confirmed, for the client that just connected: first the
    /// endpoint's answer (`connected` and the current state), then these, then the sent
    /// messages held from before a restart.
    fn replay(&mut self) {
        while let Some(event) = self.ep.poll_event() {
            self.record(&event);
            self.send_to_client(&event);
        }
        match self.store.unseen() {
            Ok(messages) => {
                if !messages.is_empty() {
                    info!(count = messages.len(), "delivering the messages the client has not confirmed");
                }
                for m in &messages {
                    self.send_to_client(m);
                }
            }
            Err(error) => {
                warn!(%error, "could not read the unconfirmed messages");
                self.send_to_client(&Event::error(ErrorCode::StoreFailed, error.to_string()));
            }
        }
        match self.store.held(None, usize::MAX) {
            Ok(held) => {
                for m in &held {
                    self.send_to_client(&m.event());
                }
            }
            Err(error) => {
                warn!(%error, "could not read the messages held from before the restart");
                self.send_to_client(&Event::error(ErrorCode::StoreFailed, error.to_string()));
            }
        }
    }

    /// The answer to a `history` command: `history` events, oldest first, then `history-end`;
    /// or one `error`. Reads the store and nothing else, so any local connection may ask.
    pub(super) fn history(&self, peer: Option<&str>, limit: Option<usize>, before: Option<u64>) -> Vec<Event> {
        let peer = match peer.map(ipc::parse_peer).transpose() {
            Ok(peer) => peer,
            Err(error) => return vec![Event::error(ErrorCode::BadPeer, error.to_string())],
        };
        let limit = limit.unwrap_or(HISTORY_MAX).min(HISTORY_MAX);
        match self.store.history(peer, limit, before) {
            Ok(entries) => {
                let count = entries.len();
                let mut events: Vec<Event> = entries.into_iter().map(Event::History).collect();
                events.push(Event::HistoryEnd { count });
                events
            }
            Err(error) => vec![Event::error(ErrorCode::StoreFailed, error.to_string())],
        }
    }

    fn forget(&mut self, peer: &str) {
        let peer = match ipc::parse_peer(peer) {
            Ok(peer) => peer,
            Err(error) => return self.send_to_client(&Event::error(ErrorCode::BadPeer, error.to_string())),
        };
        match self.store.forget(peer) {
            Ok(count) => {
                info!(%peer, count, "forgot the messages with a peer");
                self.send_to_client(&Event::Forgotten { peer: peer.to_string(), count });
            }
            Err(error) => self.send_to_client(&Event::error(ErrorCode::StoreFailed, error.to_string())),
        }
    }

    /// The shutdown log line: what the store keeps for later (IPC.md).
    pub(super) fn log_kept(&self) {
        match self.store.kept() {
            Ok((unseen, unsent)) => info!(
                unconfirmed = unseen,
                unsent,
                "stopping: the store keeps {unseen} received messages the client has not confirmed and {unsent} sent messages not yet delivered"
            ),
            Err(error) => warn!(%error, "stopping: cannot count what the store keeps"),
        }
    }
}
