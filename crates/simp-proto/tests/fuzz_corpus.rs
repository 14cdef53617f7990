//! Replays the committed cargo-fuzz corpora (`fuzz/corpus/parse_datagram`, `fuzz/corpus/endpoint`)
//! through the very functions the fuzz targets call, so every input the fuzzer kept — and every
//! crash it found, once minimized into the corpus — is a regression test under `cargo test`.

use std::path::PathBuf;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read the corpus {}: {e}", dir.display()));
    let mut replayed = 0;
    for entry in entries {
        let path = entry.expect("corpus entry").path();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "{target}: the corpus input {} fails", path.display());
        replayed += 1;
    }
    // An empty or missing corpus would make this test pass vacuously.
    assert!(replayed >= 10, "{target}: only {replayed} corpus inputs in {}", dir.display());
    println!("{target}: replayed {replayed} inputs");
}

#[test]
fn parse_datagram_corpus() {
    replay("parse_datagram", simp_proto::fuzzing::parse_datagram);
}

#[test]
fn endpoint_corpus() {
    replay("endpoint", simp_proto::fuzzing::endpoint);
}
