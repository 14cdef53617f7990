//! Replays the committed cargo-fuzz corpora (`fuzz/corpus/parse_datagram`, `fuzz/corpus/endpoint`)
//! through the very functions the fuzz targets call, so every input the fuzzer kept — and every
//! crash it found, once minimized into the corpus — is a regression test under `cargo test`.

use std::path::PathBuf;

use simp_proto::fuzzing::replay_corpus;

fn corpus(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target)
}

#[test]
fn parse_datagram_corpus() {
    let n = replay_corpus(&corpus("parse_datagram"), simp_proto::fuzzing::parse_datagram);
    println!("parse_datagram: replayed {n} inputs");
}

#[test]
fn endpoint_corpus() {
    let n = replay_corpus(&corpus("endpoint"), simp_proto::fuzzing::endpoint);
    println!("endpoint: replayed {n} inputs");
}
