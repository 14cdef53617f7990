//! The one-client rule (IPC.md): at most one client at a time, over TCP (JSON Lines) or over
//! the client port's UDP side (the course's dialect), never both. A type, so that no
//! combination of transports can hold the slot together.

use std::future::pending;

use super::course_client::{CourseClient, CourseReady};
use super::tcp::{Ready, TcpClient};

/// Who holds the daemon's one client slot.
pub(super) enum ClientSlot {
    /// No client: events are dropped (or stored by the endpoint, SPEC 2.2) until one attaches.
    Free,
    /// A JSON Lines client over TCP.
    Tcp(TcpClient),
    /// A course-dialect client over UDP, at the address of its last command, where events go
    /// (see `course.rs` for when it holds the slot, `course_client.rs` for how they go).
    Course(CourseClient),
}

/// What the client in the slot has for the loop.
pub(super) enum SlotReady {
    /// From the TCP client.
    Tcp(Ready),
    /// From the course client.
    Course(CourseReady),
}

impl ClientSlot {
    /// The TCP client, if it holds the slot.
    pub(super) fn tcp(&mut self) -> Option<&mut TcpClient> {
        match self {
            ClientSlot::Tcp(client) => Some(client),
            _ => None,
        }
    }

    /// The course client, if it holds the slot.
    pub(super) fn course(&mut self) -> Option<&mut CourseClient> {
        match self {
            ClientSlot::Course(client) => Some(client),
            _ => None,
        }
    }

    /// Frees the slot if the course client holds it, handing that client over.
    pub(super) fn take_course(&mut self) -> Option<CourseClient> {
        match std::mem::replace(self, ClientSlot::Free) {
            ClientSlot::Course(client) => Some(client),
            other => {
                *self = other;
                None
            }
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
                "a course-dialect client ({}, over UDP) is using this daemon; only one client at a time, \
                 and it detaches when it sends quit",
                udp.addr()
            )),
        }
    }

    /// What the client has for the loop: from a TCP client a line, a writable socket or held
    /// events due; from a course client a datagram on its own socket, an error, or the pace's
    /// next turn. Never completes while the slot is free.
    pub(super) async fn ready(&mut self) -> SlotReady {
        match self {
            ClientSlot::Tcp(client) => SlotReady::Tcp(client.ready().await),
            ClientSlot::Course(client) => SlotReady::Course(client.ready().await),
            ClientSlot::Free => pending().await,
        }
    }
}
