//! IPC.md: one `info` line per session state change, with the peer; written when the shell
//! asks ([`Endpoint::write_log`]), after the input's datagrams, or when the endpoint goes.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use super::harness::{peer, w, H};
use crate::ipc::Command as C;
use crate::wire::Kind;

/// What a test subscriber wrote, shared with its writer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// The lines holding a state change (`->`).
    fn changes(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        String::from_utf8(bytes).unwrap().lines().filter(|l| l.contains(" -> ")).map(str::to_owned).collect()
    }
}

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with the log going to a [`Captured`] it can read.
fn with_captured_log(f: impl FnOnce(&Captured)) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber =
        tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).without_time().finish();
    tracing::subscriber::with_default(subscriber, || f(&captured));
}

#[test]
fn state_changes_are_logged_once_asked_after_their_datagrams_and_all_when_dropped() {
    with_captured_log(|captured| {
        let mut h = H::connected();
        h.cmd(C::Start { peer: "127.0.0.2".into() });
        h.expect_sent(&[w(peer(), Kind::Syn, 0, "alice", "")]);
        assert_eq!(captured.changes(), Vec::<String>::new(), "nothing formatted before the shell asks");
        h.ep.write_log();
        let lines = captured.changes();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].ends_with("idle -> calling peer=127.0.0.2:7777"), "{lines:?}");
        // The caller gives up; the endpoint goes before the shell asked: the line is not lost.
        h.cmd(C::Leave);
        drop(h);
        let lines = captured.changes();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].contains("calling -> idle peer=127.0.0.2:7777 reason="), "{lines:?}");
    });
}

#[test]
fn a_shell_that_never_asks_gets_every_line_in_order_after_a_few() {
    with_captured_log(|captured| {
        let mut h = H::connected();
        for _ in 0..9 {
            h.cmd(C::Start { peer: "127.0.0.2".into() });
            h.cmd(C::Leave);
        }
        let lines = captured.changes();
        assert_eq!(lines.len(), 16, "written once 16 were kept: {lines:?}");
        assert!(lines.iter().step_by(2).all(|l| l.contains("idle -> calling")), "{lines:?}");
        assert!(lines.iter().skip(1).step_by(2).all(|l| l.contains("calling -> idle")), "{lines:?}");
        drop(h);
        assert_eq!(captured.changes().len(), 18);
    });
}
