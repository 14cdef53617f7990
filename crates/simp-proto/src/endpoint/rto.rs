//! Retransmission timeout (SPEC 2.6): fixed, or RFC 6298 with Karn's rule.

use std::time::Duration;

/// Floor of the adaptive RTO (SPEC 2.6).
const MIN_RTO: Duration = Duration::from_millis(200);
/// RFC 6298's initial RTO, before any sample.
const INITIAL_RTO: Duration = Duration::from_secs(1);

/// How the retransmission timeout is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RtoMode {
    /// Always `timeout`, as the course specifies.
    #[default]
    Fixed,
    /// RFC 6298: SRTT + 4·RTTVAR, doubled on each timeout, within [200 ms, `timeout`].
    Adaptive,
}

/// One session's RTT estimate. Round-trip times are measured in both modes (for `status`);
/// only `Adaptive` lets them steer the timeout.
#[derive(Debug, Clone)]
pub(crate) struct Rto {
    mode: RtoMode,
    ceiling: Duration,
    srtt: Option<Duration>,
    rttvar: Duration,
    current: Duration,
}

impl Rto {
    pub(crate) fn new(mode: RtoMode, timeout: Duration) -> Rto {
        let current = match mode {
            RtoMode::Fixed => timeout,
            RtoMode::Adaptive => clamp(INITIAL_RTO, timeout),
        };
        Rto { mode, ceiling: timeout, srtt: None, rttvar: Duration::ZERO, current }
    }

    /// The timeout to arm now.
    pub(crate) fn current(&self) -> Duration {
        self.current
    }

    /// Smoothed RTT, once there is a sample.
    pub(crate) fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// A round trip measured on a datagram that was sent once (Karn's rule is the caller's:
    /// it never passes samples from re-sent datagrams).
    pub(crate) fn sample(&mut self, rtt: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                // RFC 6298 2.3, alpha = 1/8, beta = 1/4.
                let delta = srtt.abs_diff(rtt);
                self.rttvar = self.rttvar.saturating_mul(3).saturating_add(delta) / 4;
                self.srtt = Some(srtt.saturating_mul(7).saturating_add(rtt) / 8);
            }
        }
        if self.mode == RtoMode::Adaptive {
            let srtt = self.srtt.unwrap_or(rtt);
            self.current =
                clamp(srtt.saturating_add(self.rttvar.saturating_mul(4).max(Duration::from_millis(1))), self.ceiling);
        }
    }

    /// A timeout fired: RFC 6298 5.5 doubles the timer.
    pub(crate) fn backoff(&mut self) {
        if self.mode == RtoMode::Adaptive {
            self.current = clamp(self.current.saturating_mul(2), self.ceiling);
        }
    }
}

fn clamp(rto: Duration, ceiling: Duration) -> Duration {
    rto.clamp(MIN_RTO.min(ceiling), ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn fixed_never_moves() {
        let mut rto = Rto::new(RtoMode::Fixed, 5000 * MS);
        rto.sample(10 * MS);
        rto.backoff();
        assert_eq!(rto.current(), 5000 * MS);
        assert_eq!(rto.srtt(), Some(10 * MS));
    }

    #[test]
    fn adaptive_follows_rfc6298_within_floor_and_ceiling() {
        let mut rto = Rto::new(RtoMode::Adaptive, 5000 * MS);
        assert_eq!(rto.current(), 1000 * MS, "initial RTO is 1 s");
        rto.sample(400 * MS); // srtt 400, rttvar 200 -> 1200
        assert_eq!(rto.current(), 1200 * MS);
        rto.sample(400 * MS); // rttvar = 150, srtt 400 -> 1000
        assert_eq!(rto.current(), 1000 * MS);
        for _ in 0..50 {
            rto.sample(MS);
        }
        assert_eq!(rto.current(), 200 * MS, "floor");
        for _ in 0..10 {
            rto.backoff();
        }
        assert_eq!(rto.current(), 5000 * MS, "ceiling");
    }

    #[test]
    fn a_ceiling_below_the_floor_wins() {
        let mut rto = Rto::new(RtoMode::Adaptive, 50 * MS);
        assert_eq!(rto.current(), 50 * MS);
        rto.sample(MS);
        assert_eq!(rto.current(), 50 * MS);
    }
}
