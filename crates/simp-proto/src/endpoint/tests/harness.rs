//! One [`Endpoint`] on virtual time, driven only through its public API, and assertions that
//! name exactly what it sends and reports at each step: a scenario test never discards output
//! it has not looked at.

use std::net::SocketAddr;
use std::sync::Once;
use std::time::Duration;

use tracing_subscriber::EnvFilter;

use crate::ipc::{Command as C, EndReason, ErrorCode, Event, Status};
use crate::wire::{Datagram, Kind, Seq, UserName};
use crate::{Config, Endpoint, Instant, StateName, Stored};

/// The default `timeout` (SPEC 2), the unit of every re-send in the scenarios.
pub(super) const T: Duration = Duration::from_secs(5);

/// Our address.
pub(super) fn me() -> SocketAddr {
    "127.0.0.1:7777".parse().unwrap()
}

/// bob's address: the peer of every scenario.
pub(super) fn peer() -> SocketAddr {
    "127.0.0.2:7777".parse().unwrap()
}

/// Anyone else (SPEC 2.4, 2.5).
pub(super) fn stranger() -> SocketAddr {
    "127.0.0.3:40000".parse().unwrap()
}

/// A datagram as seen on the wire, for compact assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct W {
    pub(super) to: SocketAddr,
    pub(super) kind: Kind,
    pub(super) seq: u8,
    pub(super) user: String,
    pub(super) payload: String,
}

/// A datagram we expect to send.
pub(super) fn w(to: SocketAddr, kind: Kind, seq: u8, user: &str, payload: &str) -> W {
    W { to, kind, seq, user: user.into(), payload: payload.into() }
}

/// The wire form of a datagram the peer (or a stranger) sends us.
pub(super) fn bytes(kind: Kind, seq: u8, user: &str, payload: &str) -> Vec<u8> {
    let name = (!user.is_empty()).then(|| UserName::new(user).unwrap());
    let seq = if seq == 0 { Seq::Zero } else { Seq::One };
    Datagram::new(kind, seq, name.as_ref(), payload.as_bytes()).to_vec()
}

/// The endpoint under test and the virtual clock.
pub(super) struct H {
    pub(super) ep: Endpoint,
    pub(super) now: Instant,
    /// The id the harness's store gives the next message part.
    next_id: u64,
    /// The texts the harness's store holds, in order.
    pub(super) stored: Vec<String>,
}

impl H {
    /// A fresh endpoint at [`me`], with a configuration of the test's own.
    pub(super) fn with(f: impl FnOnce(&mut Config)) -> H {
        init_tracing();
        let mut config = Config::new(me());
        f(&mut config);
        H { ep: Endpoint::new(config), now: Instant::ZERO, next_id: 1, stored: Vec::new() }
    }

    /// A fresh endpoint with the default configuration.
    pub(super) fn new() -> H {
        H::with(|_| {})
    }

    /// Connected as alice, with the `connected` event consumed.
    pub(super) fn connected() -> H {
        let mut h = H::new();
        h.cmd(C::Connect { user: "alice".into() });
        h.expect_events(&[connected_event()]);
        h
    }

    /// alice called bob and the handshake completed; outputs consumed.
    pub(super) fn chatting() -> H {
        H::chatting_with(|_| {})
    }

    /// Like [`H::chatting`], with a configuration of the test's own.
    pub(super) fn chatting_with(f: impl FnOnce(&mut Config)) -> H {
        let mut h = H::with(f);
        h.cmd(C::Connect { user: "alice".into() });
        h.cmd(C::Start { peer: "127.0.0.2".into() });
        h.recv(peer(), Kind::SynAck, 0, "bob", "");
        h.expect_sent(&[w(peer(), Kind::Syn, 0, "alice", ""), w(peer(), Kind::Ack, 0, "alice", "")]);
        h.expect_events(&[connected_event(), calling(), established()]);
        assert_eq!(h.ep.state(), StateName::Chatting);
        h
    }

    /// A command from the client.
    pub(super) fn cmd(&mut self, cmd: C) {
        self.ep.handle_command(self.now, cmd);
        self.store();
    }

    /// Plays a shell whose store never fails: the message waiting to be stored, if any, is
    /// stored at once, its parts under the next ids, arriving at [`stored_at`] (as simpd does
    /// within the same input).
    pub(super) fn store(&mut self) {
        if let Some(incoming) = self.ep.poll_persist() {
            let first_id = self.next_id;
            self.next_id += incoming.parts().count() as u64;
            self.stored.push(incoming.text.clone());
            self.ep.handle_persisted(self.now, Some(Stored { first_id, at: stored_at(first_id) }));
        }
    }

    /// A chat command with the client's own id.
    pub(super) fn chat(&mut self, text: &str, id: &str) {
        self.cmd(C::Chat { text: text.into(), id: Some(id.into()), utf8: None });
    }

    /// A datagram arriving from `from`.
    pub(super) fn recv(&mut self, from: SocketAddr, kind: Kind, seq: u8, user: &str, payload: &str) {
        self.ep.handle_datagram(self.now, from, &bytes(kind, seq, user, payload));
        self.store();
    }

    /// Moves time forward by `d`, firing every timer due on the way.
    pub(super) fn wait(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.ep.poll_timeout().filter(|&t| t <= end) {
            self.now = self.now.max(t);
            self.ep.handle_timeout(self.now);
            self.store();
        }
        self.now = end;
    }

    /// Drains what the endpoint wants sent.
    pub(super) fn sent(&mut self) -> Vec<W> {
        std::iter::from_fn(|| self.ep.poll_transmit())
            .map(|t| {
                let d = Datagram::parse(t.bytes()).expect("we only send valid datagrams");
                W {
                    to: t.to,
                    kind: d.kind(),
                    seq: d.seq().byte(),
                    user: String::from_utf8(d.user().to_vec()).unwrap(),
                    payload: String::from_utf8(d.payload().to_vec()).unwrap(),
                }
            })
            .collect()
    }

    /// Drains what the endpoint wants sent, as bytes (SPEC 2.2: re-sends are byte for byte).
    pub(super) fn raw_sent(&mut self) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| self.ep.poll_transmit()).map(|t| t.bytes().to_vec()).collect()
    }

    /// Drains what the endpoint reports to its client.
    pub(super) fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }

    /// Asserts that exactly these datagrams are waiting to be sent, in this order.
    #[track_caller]
    pub(super) fn expect_sent(&mut self, expected: &[W]) {
        assert_eq!(self.sent(), expected, "sent");
    }

    /// Asserts that exactly these events are waiting for the client, in this order.
    #[track_caller]
    pub(super) fn expect_events(&mut self, expected: &[Event]) {
        assert_eq!(self.events(), expected, "events");
    }

    /// Drops the pending events unseen: only for property tests, whose random inputs make
    /// the events unpredictable (they assert invariants instead).
    pub(super) fn skip_events(&mut self) {
        self.events();
    }

    /// Asserts that the endpoint wants nothing sent and has nothing to report.
    #[track_caller]
    pub(super) fn expect_nothing(&mut self) {
        self.expect_sent(&[]);
        self.expect_events(&[]);
    }

    /// The `status` event, asked for as a client would (IPC `status`).
    #[track_caller]
    pub(super) fn status(&mut self) -> Status {
        self.cmd(C::Status);
        match self.events().as_slice() {
            [Event::Status(s)] => s.clone(),
            other => panic!("expected one status event, got {other:?}"),
        }
    }
}

/// Sends the engine's log to the test's captured output, so that a failing test shows the
/// state transitions that led to it (DESIGN.md: every state change is logged). `RUST_LOG`
/// overrides the default, which is the engine's info lines.
fn init_tracing() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("simp_proto=info"));
        // Without timestamps: the wall clock says nothing about a test on virtual time.
        // Fails only if something else in this test process installed a subscriber first;
        // its output then serves as well.
        let _ = tracing_subscriber::fmt().with_test_writer().without_time().with_env_filter(filter).try_init();
    });
}

/// The answer to alice's `connect`.
pub(super) fn connected_event() -> Event {
    Event::Connected { user: "alice".into(), daemon: me(), version: env!("CARGO_PKG_VERSION").into() }
}

/// Our SYN to bob is out.
pub(super) fn calling() -> Event {
    Event::Calling { peer: peer() }
}

/// bob calls us.
pub(super) fn request() -> Event {
    Event::Request { peer: peer(), user: "bob".into() }
}

/// The chat with bob is open.
pub(super) fn established() -> Event {
    Event::Established { peer: peer(), user: "bob".into() }
}

/// A message from bob, stored by the harness under `id`.
pub(super) fn message(id: u64, text: &str) -> Event {
    Event::Message { id, at: stored_at(id), user: "bob".into(), text: text.into() }
}

/// The time of arrival the harness's store records for the message stored under `id`.
pub(super) fn stored_at(id: u64) -> u64 {
    1_000_000 + id
}

/// The call or chat is over.
pub(super) fn ended(reason: EndReason) -> Event {
    Event::Ended { reason, detail: None }
}

/// Our message `id` was accepted for sending.
pub(super) fn queued(id: &str) -> Event {
    Event::Queued { id: id.into() }
}

/// bob acknowledged our message `id`.
pub(super) fn delivered(id: &str) -> Event {
    Event::Delivered { id: id.into() }
}

/// The codes of the error events among `events`.
pub(super) fn code(events: &[Event]) -> Vec<ErrorCode> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Error { code, .. } => Some(*code),
            Event::Refused(refusal) => Some(refusal.code()),
            _ => None,
        })
        .collect()
}
