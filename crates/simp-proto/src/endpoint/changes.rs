//! The log of session state changes (IPC.md: one `info` line per change, with the peer), kept
//! until the shell asks for it to be written ([`super::Endpoint::write_log`]).
//!
//! Why not at once: formatting and writing a line costs more than handling a datagram (about
//! 8,000 instructions against 1,000, measured with callgrind), and a state change happens in
//! the middle of an input, before the datagram the peer waits for (SYN+ACK, ACK) and the event
//! the client waits for (`established`) have left. Kept, the lines are written after both.

use std::fmt;
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
            match (peer.map(Addr), reason) {
                (Some(peer), Some(reason)) => info!(%peer, %reason, "{from} -> {to}"),
                (Some(peer), None) => info!(%peer, "{from} -> {to}"),
                (None, Some(reason)) => info!(%reason, "{from} -> {to}"),
                (None, None) => info!("{from} -> {to}"),
            }
        }
    }
}

/// A peer's address as `Display` writes it, for IPv4 digit by digit into one buffer: std's
/// `SocketAddrV4` formats each octet and the port through the formatting machinery, about
/// 2,000 instructions, a quarter of a line (callgrind).
struct Addr(SocketAddr);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SocketAddr::V4(v4) = self.0 else { return self.0.fmt(f) };
        // `255.255.255.255:65535`
        let mut buf = [0u8; 21];
        let mut len = 0;
        for (i, octet) in v4.ip().octets().into_iter().enumerate() {
            if i > 0 {
                buf[len] = b'.';
                len += 1;
            }
            len += decimal(&mut buf[len..], u32::from(octet));
        }
        buf[len] = b':';
        len += 1;
        len += decimal(&mut buf[len..], u32::from(v4.port()));
        f.write_str(std::str::from_utf8(&buf[..len]).map_err(|_| fmt::Error)?)
    }
}

/// Writes `n` in decimal at the start of `out`; returns how many digits.
fn decimal(out: &mut [u8], n: u32) -> usize {
    let mut digits = [0u8; 5];
    let mut i = digits.len();
    let mut rest = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let count = digits.len() - i;
    out[..count].copy_from_slice(&digits[i..]);
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_as_std_writes_them() {
        for addr in ["0.0.0.0:0", "127.0.0.2:7777", "10.9.80.255:65535", "255.255.255.255:1", "[::1]:7777"] {
            let addr: SocketAddr = addr.parse().unwrap();
            assert_eq!(Addr(addr).to_string(), addr.to_string());
        }
    }
}
