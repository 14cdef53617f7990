//! The datagram parser on arbitrary bytes: never panics, and whatever it accepts emits back
//! to the same datagram. The checks live in `simp_proto::fuzzing`, shared with the corpus
//! replay test.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| simp_proto::fuzzing::parse_datagram(data));
