//! A deadline as one tokio sleep: the daemon's one timer (DESIGN.md "a sans-IO core": the
//! endpoint's `poll_timeout`), and the TCP client's hold on bookkeeping events (`tcp.rs`).
//!
//! The sleep is re-armed only when the deadline moves, not rebuilt on every turn of the loop:
//! most turns (a datagram, a client line) leave the deadline where it was. With no deadline
//! nothing is armed, so an idle daemon never wakes up (a disarmed sleep may still wake the
//! loop once, at the deadline it had, for a turn that finds nothing to do).

use std::future::pending;
use std::pin::Pin;

use tokio::time::{sleep_until, Instant, Sleep};

/// One sleep and the deadline it is armed for.
pub(super) struct Timer {
    /// Pinned once, at start: resetting it in place costs no allocation.
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

impl Timer {
    /// A timer that is not armed.
    pub(super) fn new() -> Timer {
        Timer { sleep: Box::pin(sleep_until(Instant::now())), armed: None }
    }

    /// Arms the timer for `deadline` (`None`: disarms it), touching the sleep only if the
    /// deadline moved.
    pub(super) fn arm(&mut self, deadline: Option<Instant>) {
        if deadline != self.armed {
            if let Some(deadline) = deadline {
                self.sleep.as_mut().reset(deadline);
            }
            self.armed = deadline;
        }
    }

    /// Whether a deadline is armed.
    pub(super) fn is_armed(&self) -> bool {
        self.armed.is_some()
    }

    /// Completes when the armed deadline has passed; never while disarmed.
    pub(super) async fn fired(&mut self) {
        match self.armed {
            Some(_) => self.sleep.as_mut().await,
            None => pending().await,
        }
    }
}
