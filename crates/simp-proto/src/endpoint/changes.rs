//! The log of session state changes (IPC.md: one `info` line per change, with the peer), kept
//! until the shell asks for it to be written ([`super::Endpoint::write_log`]).
//!
//! Why not at once: formatting and writing a line costs more than handling a datagram (about
//! 8,000 instructions against 1,000, measured with callgrind), and a state change happens in
//! the middle of an input, before the datagram the peer waits for (SYN+ACK, ACK) and the event
//! the client waits for (`established`) have left. Kept, the lines are written after both.

use std::net::SocketAddr;

use tracing::info;

use crate::ipc::{EndReason, StateName};

/// Changes kept at most: a shell that never calls `write_log` still gets every line, only
/// later, and the endpoint's memory stays bounded.
const MAX_KEPT: usize = 16;

/// The state changes not yet written, oldest first.
#[derive(Debug, Default)]
pub(super) struct StateLog {
    kept: Vec<StateChange>,
}

/// One change, as its line will say it.
#[derive(Debug, Clone, Copy)]
struct StateChange {
    from: StateName,
    to: StateName,
    peer: Option<SocketAddr>,
    /// Why a session ended.
    reason: Option<EndReason>,
}

impl StateLog {
    /// Notes a change; writes what is kept if that is already [`MAX_KEPT`].
    pub(super) fn push(&mut self, from: StateName, to: StateName, peer: Option<SocketAddr>, reason: Option<EndReason>) {
        if self.kept.len() >= MAX_KEPT {
            self.write();
        }
        self.kept.push(StateChange { from, to, peer, reason });
    }

    /// Writes every kept change, oldest first, as `PEER: FROM -> TO` (with the reason when a
    /// session ended).
    pub(super) fn write(&mut self) {
        for StateChange { from, to, peer, reason } in self.kept.drain(..) {
            match (peer, reason) {
                (Some(peer), Some(reason)) => info!(%peer, %reason, "{from} -> {to}"),
                (Some(peer), None) => info!(%peer, "{from} -> {to}"),
                (None, Some(reason)) => info!(%reason, "{from} -> {to}"),
                (None, None) => info!("{from} -> {to}"),
            }
        }
    }
}
