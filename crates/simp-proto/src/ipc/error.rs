//! Why the endpoint refused a client's command: the core's decision, with the data that made
//! it, and not yet words for any one transport.
//!
//! The endpoint reports a refusal as [`Event::Refused`](super::Event::Refused). Each transport
//! renders it: JSON Lines as an `error` event whose advice names JSON commands
//! ([`super::jsonl`]), the course dialect as an `error|message=…` naming its own words
//! ([`super::course`]). [`Display`](std::fmt::Display) gives the transport-neutral sentence both start from.

use std::net::{IpAddr, SocketAddr};

use super::{ErrorCode, PeerAddrError};
use crate::wire::{NameError, TextError};

/// A command the endpoint did not carry out; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// A command other than `connect` before `connect`.
    #[error("connect first, naming the user")]
    NotConnected,
    /// `connect` with an unusable name.
    #[error("{0}")]
    BadUser(#[from] NameError),
    /// `start` with an unusable address.
    #[error("{0}")]
    BadPeer(#[from] PeerAddrError),
    /// `start` with this daemon's own address.
    #[error("{0} is this daemon itself; call another daemon's address")]
    CallingSelf(SocketAddr),
    /// `start` with an address no call from this daemon can ever reach (SPEC 2.1).
    #[error("{0}")]
    Uncallable(#[from] Uncallable),
    /// `start` while a call waits for accept or decline.
    #[error("a call from {caller} is waiting: accept or decline it first")]
    RequestWaiting {
        /// Who is calling.
        caller: SocketAddr,
    },
    /// `start` while a chat or call is running.
    #[error("already in a chat or call with {}; leave it first", display_peer(.peer))]
    InSession {
        /// The current peer, when there is one.
        peer: Option<SocketAddr>,
    },
    /// `accept` or `decline` with no call waiting.
    #[error("no call is waiting for an answer")]
    NoRequest,
    /// `chat` with no chat open.
    #[error("there is no chat to send to; start a call or accept one first")]
    NoChat,
    /// `chat` while the chat is closing.
    #[error("this chat is closing; nothing more can be sent")]
    ChatClosing,
    /// `chat` with text SIMP cannot carry.
    #[error("{0}")]
    BadText(#[from] TextError),
    /// `chat` with the send queue full.
    #[error("{waiting} messages are already waiting for the peer; wait for deliveries and send again")]
    QueueFull {
        /// Messages queued and not yet delivered.
        waiting: usize,
    },
    /// `leave` with nothing to leave.
    #[error("there is no chat or call to leave")]
    NothingToLeave,
    /// `leave` while already leaving.
    #[error("already leaving this chat")]
    AlreadyLeaving,
    /// `seen`, `history` or `forget` reached an endpoint whose shell keeps no message store
    /// (simpd answers them itself).
    #[error("this daemon keeps no message store")]
    NoStore,
}

impl CommandError {
    /// The machine-readable code of IPC.md's `error` event.
    pub fn code(&self) -> ErrorCode {
        match self {
            CommandError::NotConnected => ErrorCode::NotConnected,
            CommandError::BadUser(_) => ErrorCode::BadUser,
            CommandError::BadPeer(_) | CommandError::CallingSelf(_) | CommandError::Uncallable(_) => ErrorCode::BadPeer,
            CommandError::RequestWaiting { .. } | CommandError::InSession { .. } => ErrorCode::Busy,
            CommandError::NoRequest => ErrorCode::NoRequest,
            CommandError::NoChat
            | CommandError::ChatClosing
            | CommandError::NothingToLeave
            | CommandError::AlreadyLeaving => ErrorCode::NotInChat,
            CommandError::BadText(_) => ErrorCode::BadText,
            CommandError::QueueFull { .. } => ErrorCode::QueueFull,
            CommandError::NoStore => ErrorCode::StoreFailed,
        }
    }
}

/// Why a call to an address can never work from this daemon (SPEC 2.1): `start` refuses it
/// rather than ring for `call-timeout`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Uncallable {
    /// `0.0.0.0` or `::`.
    #[error("{0} means \"any address\" to a program that binds a socket; nobody can be called there: call the peer's own address")]
    Unspecified(IpAddr),
    /// A multicast or the broadcast address.
    #[error("{0} is a multicast or broadcast address; a chat is with one daemon: call its own address")]
    NotOneHost(IpAddr),
    /// An address the daemon's socket cannot send to.
    #[error("{peer} is an {} address and this daemon's socket ({local}) is {}: it cannot send there; call the peer's {} address, or start simpd on an {} address", family(.peer), family(.local), family(.local), family(.peer))]
    OtherFamily {
        /// The address called.
        peer: SocketAddr,
        /// The daemon's own.
        local: SocketAddr,
    },
    /// The daemon's own client port.
    #[error("{0} is this daemon's own client port, where clients connect, not a daemon; call a daemon's peer port (7777 unless it was started with --port)")]
    ClientPort(SocketAddr),
}

fn family(addr: &SocketAddr) -> &'static str {
    if addr.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

fn display_peer(peer: &Option<SocketAddr>) -> String {
    peer.map(|p| p.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_neutral_sentence_names_no_transport() {
        let all = [
            CommandError::NotConnected,
            CommandError::CallingSelf("127.0.0.1:7777".parse().unwrap()),
            CommandError::InSession { peer: Some("127.0.0.2:7777".parse().unwrap()) },
            CommandError::QueueFull { waiting: 3 },
        ];
        for e in all {
            let text = e.to_string();
            assert!(!text.contains('{') && !text.contains('|'), "{text}");
        }
    }
}
