//! How long the loop may run without handing control back to the runtime.
//!
//! tokio learns which sockets have become readable only from `epoll_wait`, and it calls that
//! only when the loop returns to it: when nothing the loop waits on is ready. The loop runs
//! `unconstrained` (see [`crate::Daemon::run`]: no cooperative-budget self-wake every few dozen
//! turns), so while one input stays ready it never returns: under a SYN flood the listening
//! socket always holds another datagram, every turn takes one, and the readiness of everything
//! else is never refreshed. The established chat's socket is then "served first" only in name:
//! its datagrams wait in its queue until the flood pauses (ACKs to a peer that never re-sends
//! were measured 3 s late, issue 11 §2), and so do the timer (our own re-sends) and the client's
//! commands. So after [`BUSY_TURNS`] turns in a row that found work without waiting, the loop
//! yields once: tokio polls `epoll_wait` without blocking and resumes it at once.

use std::future::{poll_fn, Future};
use std::pin::pin;

/// Turns in a row that found work ready, at most, before the loop yields once. A yield costs
/// a non-blocking `epoll_wait` and a self-wake (an eventfd write); a turn under a flood, a
/// `recvfrom` and the endpoint's work. At a few microseconds a turn this refreshes readiness
/// well within a millisecond, and ordinary traffic (a chat at full speed: the loop waits for
/// each ACK) never gets near it.
const BUSY_TURNS: u32 = 128;

/// Counts the turns of the loop that did not wait.
#[derive(Debug, Default)]
pub(super) struct Turns {
    busy: u32,
}

impl Turns {
    /// Runs one turn's wait (the loop's `select!`), noting whether it had to wait: a future
    /// polled more than once returned `Pending`, and so handed control back to the runtime.
    pub(super) async fn watch<F: Future>(&mut self, turn: F) -> F::Output {
        let mut turn = pin!(turn);
        let mut polls: u32 = 0;
        let output = poll_fn(|cx| {
            polls = polls.saturating_add(1);
            turn.as_mut().poll(cx)
        })
        .await;
        self.busy = if polls > 1 { 0 } else { self.busy.saturating_add(1) };
        output
    }

    /// Whether the last turn found work without waiting: the loop is in a run of busy turns,
    /// and the runtime's readiness is refreshed only every [`BUSY_TURNS`].
    pub(super) fn busy(&self) -> bool {
        self.busy > 0
    }

    /// After a turn: yields to the runtime once if the last [`BUSY_TURNS`] turns did not wait,
    /// so that it learns what else has become ready.
    pub(super) async fn pause_if_busy(&mut self) {
        if self.busy >= BUSY_TURNS {
            self.busy = 0;
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_turn_that_waits_resets_the_count() {
        let mut turns = Turns::default();
        for _ in 0..BUSY_TURNS - 1 {
            turns.watch(async {}).await;
        }
        assert_eq!(turns.busy, BUSY_TURNS - 1);
        turns.watch(tokio::task::yield_now()).await;
        assert_eq!(turns.busy, 0, "a turn that returned Pending waited");
    }

    #[tokio::test]
    async fn the_loop_yields_after_busy_turns_in_a_row() {
        let mut turns = Turns::default();
        for _ in 0..BUSY_TURNS - 1 {
            turns.watch(async {}).await;
            turns.pause_if_busy().await;
        }
        assert_eq!(turns.busy, BUSY_TURNS - 1, "no pause before BUSY_TURNS");
        turns.watch(async {}).await;
        let mut polls = 0;
        {
            let mut pause = pin!(turns.pause_if_busy());
            poll_fn(|cx| {
                polls += 1;
                pause.as_mut().poll(cx)
            })
            .await;
        }
        assert_eq!(polls, 2, "the pause returned Pending once: the runtime got control");
        assert_eq!(turns.busy, 0);
    }
}
