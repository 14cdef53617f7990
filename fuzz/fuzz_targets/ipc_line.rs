//! One client line of IPC.md (any bytes) through simpd's parser: never panics, what it
//! accepts round-trips, what it refuses gets a one-line `bad-json`/`unknown-cmd` error. The
//! checks live in `simpd::fuzzing`, shared with the corpus replay test.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| simpd::fuzzing::ipc_line(data));
