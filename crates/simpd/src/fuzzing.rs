//! The body of the cargo-fuzz target `ipc_line` (in `fuzz/`), here so that the target and the
//! corpus replay test (`tests/fuzz_corpus.rs`) run exactly the same checks. Behind the
//! `fuzzing` feature: nothing else needs it.

use simp_proto::ipc::jsonl::{parse_command, write_event};
use simp_proto::ipc::{ErrorCode, Event};

/// Target `ipc_line`: one client line (any bytes) through [`parse_command`] never panics; a
/// command it accepts serializes back to a line that parses to the same command; a refusal
/// is `bad-json` or `unknown-cmd` with a message, and its `error` event is exactly one line.
pub fn ipc_line(line: &[u8]) {
    match parse_command(line) {
        Ok(command) => {
            let again = serde_json::to_vec(&command).expect("a parsed command serializes");
            assert_eq!(parse_command(&again).as_ref(), Ok(&command), "round trip of {line:?}");
        }
        Err((code, message)) => {
            assert!(matches!(code, ErrorCode::BadJson | ErrorCode::UnknownCmd), "{code:?}");
            assert!(!message.is_empty());
            let mut out = Vec::new();
            write_event(&mut out, &Event::error(code, message)).expect("an error event serializes");
            assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "one line: {out:?}");
            assert_eq!(out.last(), Some(&b'\n'));
        }
    }
}
