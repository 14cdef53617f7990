//! The SIMP protocol and nothing else: the wire codec ([`wire`]), the client vocabulary
//! ([`ipc`]) and one daemon's protocol engine ([`Endpoint`]), with no sockets, no clock and
//! no runtime. The shells (`simpd`, tests, the simulator) feed it bytes, commands and the
//! current [`Instant`], and drain what it wants sent and reported. See `SPEC.md` and
//! `docs/SPEC.md`.
//!
//! # A limit of the one-bit sequence
//! The callee's handshake ACK and the ACK of the callee's first chat datagram are the same
//! datagram (control ACK, seq 0). If the network duplicates a handshake ACK, or the caller
//! answers a duplicated SYN+ACK, and that copy arrives after the callee has sent its first
//! chat datagram, the callee takes it for that datagram's ACK. In-order networks deliver
//! such copies back to back, within microseconds of the handshake, long before a person
//! types; a bot that sends the instant it sees `established` may want to wait one round
//! trip. Like reordering (SPEC 4), no one-bit protocol can tell the copies apart.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod ipc;
mod session;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
mod time;
pub mod wire;

pub use session::{Config, Endpoint, RtoMode, SeqMode, StateName, Stats, Transmit};
pub use time::Instant;
