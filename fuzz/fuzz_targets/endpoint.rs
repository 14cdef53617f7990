//! Sequences of datagrams (from a few addresses, so some come from the peer), client commands,
//! timer expiries and disconnections into one Endpoint: never panics, only sends valid
//! datagrams, keeps its invariants, and a stranger never changes an established session.
//! The decoding and the checks live in `simp_proto::fuzzing`, shared with the corpus replay
//! test.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| simp_proto::fuzzing::endpoint(data));
