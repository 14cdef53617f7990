//! Every deadline of the endpoint in one table: one [`Timer`] per reason to wake up, so the
//! next wake-up is a minimum over one array and each expiry has one handler.

use crate::Instant;

/// Why the endpoint wants to wake up. The order is the order of handling when several are
/// due at once: giving up comes before re-sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// The previous peer is no longer answered (SPEC 2.3, two timeouts after a session).
    Linger,
    /// Calling: nobody answered within `call-timeout`.
    CallGiveUp,
    /// Calling: re-send SYN, every `timeout` (SPEC 2.1 step 1).
    SynResend,
    /// Ringing: nobody decided within `ring-timeout`.
    RingExpiry,
    /// Accepting: the caller went silent (`retries + 1` timeouts).
    HandshakeGiveUp,
    /// Accepting: re-send SYN+ACK on our own (SPEC 2.1 step 3).
    SynAckResend,
    /// Chatting: the datagram in flight was not acknowledged in time (SPEC 2.2).
    Retransmit,
    /// Chatting: the next datagram may go out (SPEC 3: a timeout after a re-sent datagram
    /// when the peer's ACKs carry a fixed seq; SPEC 2.6: the peer's turn is over).
    SendHold,
    /// Closing: re-send FIN (SPEC 2.3).
    FinResend,
}

impl Timer {
    const ALL: [Timer; 9] = [
        Timer::Linger,
        Timer::CallGiveUp,
        Timer::SynResend,
        Timer::RingExpiry,
        Timer::HandshakeGiveUp,
        Timer::SynAckResend,
        Timer::Retransmit,
        Timer::SendHold,
        Timer::FinResend,
    ];
}

/// One deadline per [`Timer`], each set or not.
#[derive(Debug, Default, Clone)]
pub(super) struct TimerTable {
    deadlines: [Option<Instant>; Timer::ALL.len()],
}

impl TimerTable {
    /// Arms `timer` for `at`, replacing any earlier deadline.
    pub(super) fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    /// Disarms `timer`.
    pub(super) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    /// The deadline of `timer`, if armed.
    pub(super) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The first timer (in [`Timer`] order) due at `now`, disarmed.
    pub(super) fn expired(&mut self, now: Instant) -> Option<Timer> {
        let timer = Timer::ALL.into_iter().find(|&t| self.get(t).is_some_and(|at| at <= now))?;
        self.stop(timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn next_is_the_earliest_and_expired_goes_in_timer_order() {
        let mut t = TimerTable::default();
        let at = |s| Instant::ZERO + Duration::from_secs(s);
        assert_eq!(t.next(), None);
        t.set(Timer::SynResend, at(5));
        t.set(Timer::CallGiveUp, at(5));
        t.set(Timer::Linger, at(10));
        assert_eq!(t.next(), Some(at(5)));
        assert_eq!(t.expired(at(4)), None);
        assert_eq!(t.expired(at(5)), Some(Timer::CallGiveUp));
        assert_eq!(t.expired(at(5)), Some(Timer::SynResend));
        assert_eq!(t.expired(at(5)), None);
        t.set(Timer::FinResend, at(7));
        t.stop(Timer::FinResend);
        assert_eq!(t.next(), Some(at(10)));
    }
}
