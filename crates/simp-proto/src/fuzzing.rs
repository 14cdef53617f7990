//! The bodies of the cargo-fuzz targets in `fuzz/`, here so that the targets and the corpus
//! replay test (`tests/fuzz_corpus.rs`) run exactly the same checks on exactly the same
//! decoding of the input bytes. Behind the `fuzzing` feature: nothing else needs it.

use std::net::SocketAddr;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};

use crate::ipc::Command;
use crate::wire::{self, Datagram, Kind, ParseError, OFF_SEQ};
use crate::{Config, Endpoint, Instant, StateName};

/// Target `parse_datagram`: the parser on arbitrary bytes never panics, and whatever it
/// accepts emits back to the same datagram.
pub fn parse_datagram(data: &[u8]) {
    if let Ok(d) = Datagram::parse(data) {
        let bytes = d.to_vec();
        assert_eq!(Datagram::parse(&bytes), Ok(d));
        let _ = wire::escape(d.payload());
        let _ = wire::escape_name(d.user());
    }
}

/// One input of target `endpoint`.
#[derive(Debug, Arbitrary)]
pub enum Op {
    /// Raw bytes from one of a few addresses (some are the peer's).
    Datagram {
        /// Which address.
        from: u8,
        /// The datagram.
        bytes: Vec<u8>,
    },
    /// A well-formed header around fuzzed fields, to get past the parser more often.
    Shaped {
        /// Which address.
        from: u8,
        /// Type byte.
        ty: u8,
        /// Operation byte.
        op: u8,
        /// Sequence byte.
        seq: u8,
        /// Payload.
        payload: Vec<u8>,
    },
    /// `connect`.
    Connect(String),
    /// `start`.
    Start(String),
    /// `accept`.
    Accept,
    /// `decline`.
    Decline,
    /// `chat`.
    Chat(String),
    /// `leave`.
    Leave,
    /// `quit`.
    Quit,
    /// `status`.
    Status,
    /// Time passes (ms); a due timer fires.
    Wait(u16),
    /// The client disconnects.
    ClientGone,
    /// The daemon is stopping.
    Shutdown,
}

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 2 + i % 3], if i & 0x80 != 0 { 40000 } else { 7777 }))
}

/// Target `endpoint`: the bytes decode (as `libfuzzer-sys`'s `fuzz_target!` decodes a typed
/// input) into sequences of datagrams from a few addresses, client commands, timer expiries
/// and disconnections, fed to one [`Endpoint`]: it never panics, only sends valid datagrams,
/// keeps its invariants, and a stranger never changes an established session.
pub fn endpoint(data: &[u8]) {
    type Input = (bool, Vec<Op>);
    if data.len() < <Input as Arbitrary>::size_hint(0).0 {
        return;
    }
    let Ok((auto_accept, ops)) = Input::arbitrary_take_rest(Unstructured::new(data)) else { return };
    let mut config = Config::new(SocketAddr::from(([127, 0, 0, 1], 7777)));
    config.auto_accept = auto_accept;
    config.timeout = Duration::from_millis(100);
    let mut ep = Endpoint::new(config);
    let mut now = Instant::ZERO;
    let mut stored = 0u64;
    for op in ops {
        let before = (ep.state(), ep.peer());
        let mut from_stranger = false;
        match op {
            Op::Datagram { from, bytes } => {
                from_stranger = Some(addr(from)) != ep.peer();
                ep.handle_datagram(now, addr(from), &bytes);
            }
            Op::Shaped { from, ty, op, seq, payload } => {
                let mut bytes = vec![ty, op, seq];
                bytes.extend_from_slice(b"fuzz");
                bytes.resize(wire::HEADER_LEN - 4, 0);
                bytes.extend_from_slice(&u32::try_from(payload.len()).unwrap_or(u32::MAX).to_be_bytes());
                bytes.extend_from_slice(&payload);
                from_stranger = Some(addr(from)) != ep.peer();
                ep.handle_datagram(now, addr(from), &bytes);
            }
            Op::Connect(user) => ep.handle_command(now, Command::Connect { user }),
            Op::Start(peer) => ep.handle_command(now, Command::Start { peer }),
            Op::Accept => ep.handle_command(now, Command::Accept),
            Op::Decline => ep.handle_command(now, Command::Decline),
            Op::Chat(text) => ep.handle_command(now, Command::Chat { text, id: None, utf8: None }),
            Op::Leave => ep.handle_command(now, Command::Leave),
            Op::Quit => ep.handle_command(now, Command::Quit),
            Op::Status => ep.handle_command(now, Command::Status),
            Op::Wait(ms) => {
                now += Duration::from_millis(u64::from(ms));
                if ep.poll_timeout().is_some_and(|t| t <= now) {
                    ep.handle_timeout(now);
                }
            }
            Op::ClientGone => ep.handle_client_gone(now),
            Op::Shutdown => ep.handle_shutdown(now),
        }
        if from_stranger && before.1.is_some() {
            assert_eq!((ep.state(), ep.peer()), before, "a stranger changed the session");
        }
        // A store that fails every third message: the re-sends must then be taken again.
        if let Some(incoming) = ep.poll_persist() {
            stored += incoming.parts().count() as u64;
            let ok = !stored.is_multiple_of(3);
            ep.handle_persisted(now, ok.then_some(crate::Stored { first_id: stored, at: 0 }));
        }
        while let Some(t) = ep.poll_transmit() {
            assert!(sendable(t.bytes()), "sent an invalid datagram");
        }
        while ep.poll_event().is_some() {}
        assert_eq!(ep.peer().is_none(), ep.state() == StateName::Idle);
    }
}

/// Runs `check` on every file of the corpus directory `dir` (a regression test of the inputs
/// the fuzzer kept) and returns how many it replayed. Panics, naming the file, on the first
/// input that fails, and on a corpus of fewer than 10 inputs, which would make a replay test
/// pass vacuously.
pub fn replay_corpus(dir: &std::path::Path, check: fn(&[u8])) -> usize {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read the corpus {}: {e}", dir.display()));
    let mut replayed = 0;
    for entry in entries {
        let path = entry.expect("corpus entry").path();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "the corpus input {} fails", path.display());
        replayed += 1;
    }
    assert!(replayed >= 10, "only {replayed} corpus inputs in {}", dir.display());
    replayed
}

/// Whether we may send `bytes`: a valid datagram (SPEC 1), or an ACK that echoes a counting
/// peer's seq byte above 1 (SPEC 3), valid but for that byte.
fn sendable(bytes: &[u8]) -> bool {
    match Datagram::parse(bytes) {
        Ok(_) => true,
        Err(ParseError::BadSequence(_)) => {
            let mut zeroed = bytes.to_vec();
            zeroed[OFF_SEQ] = 0;
            Datagram::parse(&zeroed).is_ok_and(|d| d.kind() == Kind::Ack)
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Seq;

    #[test]
    fn only_an_ack_may_carry_a_counting_seq() {
        let ack = Datagram::new(Kind::Ack, Seq::One, None, b"");
        assert!(sendable(&ack.to_vec()));
        assert!(sendable(&ack.with_seq_byte(3).to_vec()), "the echo of a counting seq");
        assert!(!sendable(&Datagram::new(Kind::Chat, Seq::One, None, b"x").with_seq_byte(3).to_vec()));
        assert!(!sendable(&Datagram::new(Kind::Fin, Seq::Zero, None, b"").with_seq_byte(2).to_vec()));
        assert!(!sendable(b"short"));
    }
}
