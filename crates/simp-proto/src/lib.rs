//! The SIMP protocol and nothing else: the wire codec ([`wire`]), the client vocabulary
//! ([`ipc`]) and one daemon's protocol engine ([`Endpoint`]), with no sockets, no clock and
//! no runtime. The shells (`simpd`, tests, the simulator) feed it bytes, commands and the
//! current [`Instant`], and drain what it wants sent and reported. See `SPEC.md` and
//! `DESIGN.md` in the project's shared documents.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ipc;
mod session;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
mod time;
pub mod wire;

pub use session::{Config, Endpoint, RtoMode, SeqMode, StateName, Stats, Transmit};
pub use time::Instant;
