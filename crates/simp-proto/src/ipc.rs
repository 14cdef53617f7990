//! The client ↔ daemon vocabulary of `IPC.md`, as serde types shared by `simpd` and `simp`.
//!
//! Serialized with serde_json these are exactly the JSON Lines of IPC.md: commands are tagged
//! by `"cmd"`, events by `"event"`; [`jsonl`] is the one codec of those lines. Reading lines
//! off a socket (with the 64 KiB limit) belongs to the transports, not here.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub mod course;
mod error;
pub mod jsonl;

pub use error::{CommandError, Uncallable};

/// The daemon-to-daemon port when a peer address names none.
pub const DEFAULT_PORT: u16 = 7777;
/// The client port.
pub const DEFAULT_CLIENT_PORT: u16 = 7778;
/// Longest accepted command line, newline excluded.
pub const MAX_LINE: usize = 64 * 1024;
/// The most messages one `history` command returns.
pub const HISTORY_MAX: usize = 1000;

/// A client's request to its daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase", deny_unknown_fields)]
pub enum Command {
    /// Names the local user; must come first.
    Connect {
        /// 1–32 printable ASCII bytes.
        user: String,
    },
    /// Calls a peer: `IP`, `IP:port` or `[IPv6]:port`.
    Start {
        /// Peer address as typed.
        peer: String,
    },
    /// Accepts the pending request.
    Accept,
    /// Declines the pending request.
    Decline,
    /// Sends a message.
    Chat {
        /// ASCII text; TAB and LF are the only control characters allowed.
        text: String,
        /// Any string the client chooses, echoed in `queued`/`delivered`/`undelivered`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// `true`: the user opted in to sending UTF-8 beyond the course's ASCII (SPEC 1,
        /// "Beyond ASCII"); control characters other than TAB and LF stay refused. Kept as
        /// given (absent, `false`, `true`) so that a line parses back to itself.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        utf8: Option<bool>,
    },
    /// Ends the current chat or call attempt, staying connected.
    Leave,
    /// Leaves any chat; the daemon then closes the connection.
    Quit,
    /// Asks for a `status` event.
    Status,
    /// Confirms that the client has shown these `message` ids: the daemon stops keeping them
    /// for delivery (they stay in the history). Batched: any number of ids in one line.
    Seen {
        /// Ids of `message` events.
        ids: Vec<u64>,
    },
    /// Asks for stored messages: `history` events, oldest first, then `history-end`.
    History {
        /// Only the messages with this peer (as in `start`); all peers when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
        /// At most this many, the most recent ones (default and ceiling: [`HISTORY_MAX`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<usize>,
        /// Only messages with an id below this one (to page back).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
    },
    /// Deletes every stored message with a peer, confirmed or not.
    Forget {
        /// The peer, as in `start`.
        peer: String,
    },
}

impl Command {
    /// The names of all commands, for "unknown command" messages.
    pub const NAMES: &'static [&'static str] =
        &["connect", "start", "accept", "decline", "chat", "leave", "quit", "status", "seen", "history", "forget"];
}

/// A daemon's report to its client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    /// Answer to `connect`.
    Connected {
        /// The local user's name.
        user: String,
        /// The daemon's UDP address.
        daemon: SocketAddr,
        /// simp's version.
        version: String,
    },
    /// A call waits for accept or decline.
    Request {
        /// The caller's address.
        peer: SocketAddr,
        /// The caller's name, escaped.
        user: String,
    },
    /// Our SYN is out.
    Calling {
        /// The callee's address.
        peer: SocketAddr,
    },
    /// The chat is open.
    Established {
        /// The peer's address.
        peer: SocketAddr,
        /// The peer's name, escaped.
        user: String,
    },
    /// A message from the peer, stored under `id` until the client confirms it (`seen`).
    Message {
        /// The store's id: increasing over the daemon's life; confirm it with `seen`.
        id: u64,
        /// Time of arrival, milliseconds since the Unix epoch (kept when delivered again).
        at: u64,
        /// The sender's name, escaped.
        user: Arc<str>,
        /// The text, escaped (SPEC 1).
        text: String,
    },
    /// A `chat` was accepted for sending.
    Queued {
        /// The message id.
        id: String,
    },
    /// The peer acknowledged every datagram of the message.
    Delivered {
        /// The message id.
        id: String,
    },
    /// The message will not be delivered.
    Undelivered {
        /// The message id.
        id: String,
        /// Why.
        reason: EndReason,
    },
    /// A message accepted by `chat` before the daemon stopped (or crashed) and not yet
    /// delivered: kept, and sent (`queued`, then `delivered` or `undelivered`, with the same
    /// `id`) when the chat with `peer` is open again (SPEC 2.2, "Across a restart"). Sent after
    /// `connected` and the messages to confirm.
    Held {
        /// The message id the client gave it (or the daemon's number for it).
        id: String,
        /// The peer it is for.
        peer: SocketAddr,
        /// The text, as the client sent it.
        text: String,
        /// When `chat` accepted it, milliseconds since the Unix epoch.
        at: u64,
    },
    /// A call or chat is over.
    Ended {
        /// Why.
        reason: EndReason,
        /// For `busy`: the peer's ERR text, escaped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A command could not be carried out: the endpoint's reason, which each transport words
    /// for itself (JSON Lines: an `error` event, [`jsonl`]). Never read back from a line: a
    /// client receives it as [`Event::Error`].
    #[serde(rename = "error", serialize_with = "jsonl::serialize_refusal", skip_deserializing)]
    Refused(CommandError),
    /// An error from the transport (a bad line), or the peer sent an ERR.
    Error {
        /// Machine-readable code.
        code: ErrorCode,
        /// What happened and what to do.
        message: String,
    },
    /// Someone called while we were busy with another chat or call and got the busy reply
    /// (SPEC 2.4); sent when it happens, or after `connected` to a client that was away.
    Missed {
        /// The caller's address.
        peer: SocketAddr,
        /// The caller's name, escaped.
        user: String,
    },
    /// Answer to `status`.
    Status(Status),
    /// The peer does something SPEC 1–2 does not, and simp copes with it (SPEC 3); sent the
    /// first time each quirk is seen in a chat.
    #[serde(rename = "peer-quirk")]
    PeerQuirk {
        /// Which quirk.
        quirk: Quirk,
        /// What was seen and what simp does about it, for a person.
        detail: String,
    },
    /// One stored message, answering `history`.
    History(HistoryEntry),
    /// The end of a `history` answer.
    #[serde(rename = "history-end")]
    HistoryEnd {
        /// How many `history` events came before it.
        count: usize,
    },
    /// Answer to `forget`.
    Forgotten {
        /// The peer, as the store names it (`IP:port`).
        peer: String,
        /// How many messages were deleted.
        count: u64,
    },
}

/// One stored message, as `history` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The store's id.
    pub id: u64,
    /// The peer's address.
    pub peer: String,
    /// The peer's name, escaped.
    pub peer_user: String,
    /// Who wrote it: the peer's name (received) or ours (sent), escaped.
    pub user: String,
    /// Received or sent.
    pub direction: Direction,
    /// Milliseconds since the Unix epoch: arrival (received) or acceptance by `chat` (sent).
    pub at: u64,
    /// The text, escaped like `message` (received) or as the client sent it.
    pub text: String,
    /// Received: `unseen` or `seen`. Sent: `pending`, `delivered`, or `undelivered: REASON`.
    pub outcome: String,
}

/// Which way a stored message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the peer.
    In,
    /// To the peer.
    Out,
}

impl Event {
    /// An `error` event.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Event {
        Event::Error { code, message: message.into() }
    }
}

/// The daemon's state as reported by `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The session's state.
    pub state: StateName,
    /// The local user, once connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The peer's address, in any state but idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<SocketAddr>,
    /// The peer's name, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_user: Option<String>,
    /// Smoothed round-trip time, once measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Current retransmission timeout.
    pub rto_ms: u64,
    /// Datagrams re-sent in this session.
    pub retransmissions: u64,
    /// Messages accepted and not yet delivered.
    pub queued: usize,
    /// Messages sent and delivered in this session.
    pub delivered: u64,
    /// Messages received in this session.
    pub received: u64,
}

// f64 has no Eq; rtt_ms is a measurement, compared only loosely in tests.
impl Eq for Status {}

/// The session state's name, as `status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateName {
    /// No session.
    Idle,
    /// Our SYN is out.
    Calling,
    /// A request waits for the user.
    Ringing,
    /// Our SYN+ACK is out.
    Accepting,
    /// In a chat.
    Chatting,
    /// In a chat, sending what is queued before the FIN.
    Leaving,
    /// Our FIN is out.
    Closing,
}

impl StateName {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            StateName::Idle => "idle",
            StateName::Calling => "calling",
            StateName::Ringing => "ringing",
            StateName::Accepting => "accepting",
            StateName::Chatting => "chatting",
            StateName::Leaving => "leaving",
            StateName::Closing => "closing",
        }
    }
}

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A way in which a peer departs from SPEC 1–2 that simp detects and copes with (SPEC 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quirk {
    /// Its ACKs carry one fixed seq instead of echoing the chat datagram's.
    FixedAckSeq,
    /// A new message came with the same seq as the one before it.
    RepeatedSeq,
    /// Its chat seqs count past 1 (0, 1, 2, 3…, or start at 2).
    CountingSeq,
    /// It uses one seq bit for both directions.
    SharedSeq,
}

impl Quirk {
    /// Every quirk, in a fixed order (a set of them fits in a byte).
    pub const ALL: [Quirk; 4] = [Quirk::FixedAckSeq, Quirk::RepeatedSeq, Quirk::CountingSeq, Quirk::SharedSeq];

    /// The name used in IPC.md.
    pub fn as_str(self) -> &'static str {
        match self {
            Quirk::FixedAckSeq => "fixed-ack-seq",
            Quirk::RepeatedSeq => "repeated-seq",
            Quirk::CountingSeq => "counting-seq",
            Quirk::SharedSeq => "shared-seq",
        }
    }
}

impl fmt::Display for Quirk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a call or chat ended, or why a message was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EndReason {
    /// The callee declined.
    #[serde(rename = "declined")]
    Declined,
    /// The callee is in another chat.
    #[serde(rename = "busy")]
    Busy,
    /// Nobody answered the call within `call-timeout`.
    #[serde(rename = "no answer")]
    NoAnswer,
    /// The peer closed the chat.
    #[serde(rename = "peer left")]
    PeerLeft,
    /// The local user closed the chat.
    #[serde(rename = "you left")]
    YouLeft,
    /// The peer stopped acknowledging.
    #[serde(rename = "peer unreachable")]
    PeerUnreachable,
    /// Nobody decided within `ring-timeout`.
    #[serde(rename = "request expired")]
    RequestExpired,
}

impl EndReason {
    /// The wire spelling, e.g. `peer left`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Declined => "declined",
            EndReason::Busy => "busy",
            EndReason::NoAnswer => "no answer",
            EndReason::PeerLeft => "peer left",
            EndReason::YouLeft => "you left",
            EndReason::PeerUnreachable => "peer unreachable",
            EndReason::RequestExpired => "request expired",
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `code` of an `error` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// The line is not a JSON object.
    BadJson,
    /// The `cmd` is not known, or its fields are wrong.
    UnknownCmd,
    /// A command came before `connect`.
    NotConnected,
    /// The user name is not usable.
    BadUser,
    /// The peer address is not usable.
    BadPeer,
    /// The text cannot be sent.
    BadText,
    /// `accept`/`decline` with no request pending.
    NoRequest,
    /// A chat command outside a chat.
    NotInChat,
    /// A chat or call is already running.
    Busy,
    /// The send queue is full.
    QueueFull,
    /// A command line over 64 KiB.
    LineTooLong,
    /// Another client is attached.
    ClientBusy,
    /// The peer sent an ERR outside a busy reply.
    PeerError,
    /// The daemon's message store failed (`history`, `forget`, `seen`); the message says why.
    StoreFailed,
}

/// Why a peer address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerAddrError {
    /// Not an address.
    #[error("{0:?} is not an IP address; give an IP such as 192.168.1.10, or IP:port such as 192.168.1.10:7777 ([::1]:7777 for IPv6)")]
    Invalid(String),
    /// Port 0 cannot be called.
    #[error("port 0 cannot be called; leave the port out to use 7777")]
    PortZero,
}

/// Parses a peer as typed by a user: `IP` (port 7777), `IP:port`, `[IPv6]:port` or a bare IPv6.
pub fn parse_peer(text: &str) -> Result<SocketAddr, PeerAddrError> {
    let text = text.trim();
    let addr = if let Ok(ip) = text.parse::<IpAddr>() {
        SocketAddr::new(ip, DEFAULT_PORT)
    } else if let Ok(addr) = text.parse::<SocketAddr>() {
        addr
    } else if let Some(ip) =
        text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).and_then(|t| t.parse::<IpAddr>().ok())
    {
        SocketAddr::new(ip, DEFAULT_PORT)
    } else {
        return Err(PeerAddrError::Invalid(text.to_owned()));
    };
    if addr.port() == 0 {
        return Err(PeerAddrError::PortZero);
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commands_have_the_ipc_md_shape() {
        let parse = |v: serde_json::Value| serde_json::from_value::<Command>(v).unwrap();
        assert_eq!(parse(json!({"cmd":"connect","user":"alice"})), Command::Connect { user: "alice".into() });
        assert_eq!(parse(json!({"cmd":"start","peer":"127.0.0.2"})), Command::Start { peer: "127.0.0.2".into() });
        assert_eq!(parse(json!({"cmd":"accept"})), Command::Accept);
        assert_eq!(
            parse(json!({"cmd":"chat","text":"hi","id":"7"})),
            Command::Chat { text: "hi".into(), id: Some("7".into()), utf8: None }
        );
        assert_eq!(parse(json!({"cmd":"chat","text":"hi"})), Command::Chat { text: "hi".into(), id: None, utf8: None });
        assert!(serde_json::from_value::<Command>(json!({"cmd":"dance"})).is_err());
        assert!(serde_json::from_value::<Command>(json!({"cmd":"start"})).is_err());
    }

    #[test]
    fn events_have_the_ipc_md_shape() {
        let ser = |e: Event| serde_json::to_value(e).unwrap();
        assert_eq!(
            ser(Event::Held { id: "7".into(), peer: "127.0.0.2:7777".parse().unwrap(), text: "hi".into(), at: 5 }),
            json!({"event":"held","id":"7","peer":"127.0.0.2:7777","text":"hi","at":5})
        );
        assert_eq!(
            ser(Event::PeerQuirk { quirk: Quirk::FixedAckSeq, detail: "x".into() }),
            json!({"event":"peer-quirk","quirk":"fixed-ack-seq","detail":"x"})
        );
        assert_eq!(
            ser(Event::Ended { reason: EndReason::PeerLeft, detail: None }),
            json!({"event":"ended","reason":"peer left"})
        );
        assert_eq!(
            ser(Event::Ended { reason: EndReason::Busy, detail: Some(crate::wire::BUSY_TEXT.into()) }),
            json!({"event":"ended","reason":"busy","detail":"User already in another chat"})
        );
        assert_eq!(
            ser(Event::error(ErrorCode::QueueFull, "x")),
            json!({"event":"error","code":"queue-full","message":"x"})
        );
        assert_eq!(
            ser(Event::Message { id: 3, at: 1_700_000_000_000, user: "bob".into(), text: "hi".into() }),
            json!({"event":"message","id":3,"at":1_700_000_000_000u64,"user":"bob","text":"hi"})
        );
        assert_eq!(
            ser(Event::Undelivered { id: "7".into(), reason: EndReason::PeerUnreachable }),
            json!({"event":"undelivered","id":"7","reason":"peer unreachable"})
        );
        let status = ser(Event::Status(Status {
            state: StateName::Chatting,
            user: Some("a".into()),
            peer: Some("127.0.0.2:7777".parse().unwrap()),
            peer_user: Some("b".into()),
            rtt_ms: Some(1.5),
            rto_ms: 5000,
            retransmissions: 2,
            queued: 0,
            delivered: 3,
            received: 4,
        }));
        assert_eq!(status["event"], "status");
        assert_eq!(status["state"], "chatting");
        assert_eq!(status["retransmissions"], 2);
    }

    #[test]
    fn events_round_trip() {
        let e = Event::Request { peer: "127.0.0.1:7777".parse().unwrap(), user: "al\\xc3".into() };
        let line = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), e);
    }

    #[test]
    fn peers_parse_like_ipc_md_says() {
        assert_eq!(parse_peer("127.0.0.2").unwrap(), "127.0.0.2:7777".parse().unwrap());
        assert_eq!(parse_peer("127.0.0.2:9000").unwrap(), "127.0.0.2:9000".parse().unwrap());
        assert_eq!(parse_peer("[::1]:7777").unwrap(), "[::1]:7777".parse().unwrap());
        assert_eq!(parse_peer("::1").unwrap(), "[::1]:7777".parse().unwrap());
        assert_eq!(parse_peer("[::1]").unwrap(), "[::1]:7777".parse().unwrap());
        assert_eq!(parse_peer("1.2.3.4:0"), Err(PeerAddrError::PortZero));
        assert!(matches!(parse_peer("bob.example"), Err(PeerAddrError::Invalid(_))));
    }
}
