//! One scenario per SPEC 2 clause, on virtual time, asserting the exact datagrams and events,
//! one file per SPEC section, sharing one harness.

mod busy;
mod chat;
mod close;
mod commands;
mod handshake;
mod harness;
mod log;
mod options;
mod properties;
mod quirks;
