//! The SIMP protocol and nothing else: the wire codec ([`wire`]), the client vocabulary
//! ([`ipc`]) and one daemon's protocol engine ([`Endpoint`]), with no sockets, no clock and
//! no runtime. The shells (`simpd`, tests, the simulator) feed it bytes, commands and the
//! current [`Instant`], and drain what it wants sent and reported. See `SPEC.md` and
//! `docs/SPEC.md`.
//!
//! # The drive contract
//! A shell owns the clock, the sockets and the client connection, and drives one
//! [`Endpoint`] like this:
//! ```text
//! on a datagram:    ep.handle_datagram(now, from, &bytes)
//! on a command:     ep.handle_command(now, cmd)
//! client gone:      ep.handle_client_gone(now)
//! stopping:         ep.handle_shutdown(now)
//! at poll_timeout:  ep.handle_timeout(now)     (early is harmless)
//! then, after every one of these inputs, in this order:
//!     loop {
//!         while let Some(e) = ep.poll_event()    { hand e to the client }
//!         while let Some(e) = ep.poll_unheard()  { record the outcome no client heard }
//!         let Some(m) = ep.poll_persist() else { break };
//!         commit m to the store; ep.handle_persisted(now, Some(Stored { first_id, at }))
//!                                 (or None if the commit failed)
//!     }
//!     while let Some(t) = ep.poll_transmit() { send t.bytes() to t.to }
//!     re-arm the one timer at ep.poll_timeout()   (None: sleep until the next input)
//!     once the client's lines are written too: ep.write_log()
//! ```
//! A received chat message is acknowledged only once it is durable (SPEC 2.2): the endpoint
//! does no I/O, so it hands the message to the shell ([`Endpoint::poll_persist`]) and holds
//! its ACK until the shell reports the commit ([`Endpoint::handle_persisted`]). Only then is
//! the message taken as received, reported as `message` events carrying the store's ids, and
//! its ACK queued. A failed commit is reported as `None`: nothing is acknowledged and nothing
//! changes, so the peer re-sends the message on its timeout and the store is asked again; a
//! message is never acknowledged that the store does not hold. Until the answer, re-sends of
//! the message are neither taken nor acknowledged, so a shell may also commit asynchronously.
//! Events come before the message to store, and both before transmits: within one input,
//! what the client is told (`established` before the first message) keeps its order.
//! [`Endpoint::set_client_backlogged`] tells the endpoint when the client stops taking its
//! events, so that no new message is taken while what waits for the client is over its
//! bound. [`Endpoint::write_log`] writes the `info` lines of the input's state changes, which
//! cost more than its datagrams; a shell that never calls it gets them later. `now` must never
//! go backwards. Nothing else is required: the endpoint never reads a
//! clock, never blocks and keeps no outputs hidden from the `poll_*` calls.
//!
//! # A limit of the one-bit sequence
//! The callee's handshake ACK and the ACK of the callee's first chat datagram are the same
//! datagram (control ACK, seq 0). The caller answers every SYN+ACK it hears with such an
//! ACK, so after a re-sent SYN+ACK a late answer could be taken for the first message's ACK.
//! The endpoint counts those possible answers (SYN+ACKs sent, less handshake ACKs seen) and
//! does not take that many seq-0 ACKs as acknowledgements; when a real ACK is discounted that
//! way, the message is re-sent on its timeout and acknowledged again (a delay, never a false
//! `delivered`). The discount ends when the last re-send is answered: late handshake ACKs come
//! within a round trip, and a caller that answers only its first SYN+ACK (with SYNs that
//! crossed it) sends none, so the discount alone must never end a chat. What no one-bit scheme can tell apart is a copy of the handshake ACK made by
//! the network itself that arrives after the callee's first message; in-order networks
//! deliver such copies back to back, long before a person types. Like reordering (SPEC 4),
//! that stays a limit of the protocol.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod endpoint;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod ipc;
pub mod rng;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
mod time;
pub mod wire;

pub use endpoint::{Config, Endpoint, Incoming, RtoMode, SeqMode, StateName, Stats, Stored, Transmit};
pub use time::Instant;
