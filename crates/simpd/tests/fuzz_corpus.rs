//! Replays the committed cargo-fuzz corpus (`fuzz/corpus/ipc_line`) through the very function
//! the fuzz target calls, so every input the fuzzer kept — and every crash it found, once
//! minimized into the corpus — is a regression test under `cargo test`.

use std::path::PathBuf;

#[test]
fn ipc_line_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/ipc_line");
    let n = simp_proto::fuzzing::replay_corpus(&dir, simpd::fuzzing::ipc_line);
    println!("ipc_line: replayed {n} inputs");
}
