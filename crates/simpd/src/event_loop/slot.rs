//! The one-client rule (IPC.md): at most one client at a time, over TCP (JSON Lines) or over
//! the client port's UDP side (the course's dialect), never both. A type, so that no
//! combination of transports can hold the slot together.

use std::future::pending;
use std::net::SocketAddr;

use super::tcp::{Ready, TcpClient};

/// Who holds the daemon's one client slot.
pub(super) enum ClientSlot {
    /// No client: events are dropped (or stored by the endpoint, SPEC 2.2) until one attaches.
    Free,
    /// A JSON Lines client over TCP.
    Tcp(TcpClient),
    /// A course-dialect client over UDP: the address of its last command, where events go
    /// (see `course.rs` for when it holds the slot).
    Course(SocketAddr),
}

impl ClientSlot {
    /// The TCP client, if it holds the slot.
    pub(super) fn tcp(&mut self) -> Option<&mut TcpClient> {
        match self {
            ClientSlot::Tcp(client) => Some(client),
            _ => None,
        }
    }

    /// Frees the slot if the TCP client holds it, handing that client over.
    pub(super) fn take_tcp(&mut self) -> Option<TcpClient> {
        match std::mem::replace(self, ClientSlot::Free) {
            ClientSlot::Tcp(client) => Some(client),
            other => {
                *self = other;
                None
            }
        }
    }

    /// Why a new client cannot have the slot, or `None` if it is free: the text of the
    /// `client-busy` error a refused TCP client gets.
    pub(super) fn busy(&self) -> Option<String> {
        match self {
            ClientSlot::Free => None,
            ClientSlot::Tcp(current) => {
                Some(format!("another client ({}) is using this daemon; only one client at a time", current.addr()))
            }
            ClientSlot::Course(udp) => Some(format!(
                "a course-dialect client ({udp}, over UDP) is using this daemon; only one client at a time, \
                 and it detaches when it sends quit"
            )),
        }
    }

    /// What the TCP client has for the loop (a line, a writable socket, held events due);
    /// never completes while no TCP client holds the slot.
    pub(super) async fn ready(&mut self) -> Ready {
        match self {
            ClientSlot::Tcp(client) => client.ready().await,
            _ => pending().await,
        }
    }
}
