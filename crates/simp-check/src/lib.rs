//! `simp-check`: tells a SIMP implementation what it gets wrong.
//!
//! The checker plays the target's peer from its own UDP sockets (one loopback source address
//! per peer it plays), and, with a [`driver`], the target's user too. Every [`case`] is tied to
//! a section of docs/SPEC.md by its id (`2.2/retransmit`), is a MUST or a SHOULD, and either
//! passes, fails with a diagnosis in words naming the SPEC clause, or is skipped with a reason.
//! Every datagram exchanged is kept in the case's [`wirelog`], shown after a diagnosis.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod case;
pub mod cases;
pub mod driver;
pub mod junit;
pub mod matrix;
pub mod pcap;
pub mod peer;
pub mod report;
pub mod run;
pub mod seen;
pub mod settings;
pub mod wirelog;

pub use case::{Case, Level, Outcome};
pub use run::{run, CaseResult, Report};
pub use settings::{Drive, Settings};
