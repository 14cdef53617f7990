//! Rate limit for busy replies (SPEC 2.4): a token bucket per source IP, so a SYN flood with
//! forged sources gets a trickle of replies and cannot use us to amplify traffic.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::Instant;

/// Sources tracked at once; beyond this, sources share one bucket (memory stays bounded
/// whatever the flood).
const MAX_SOURCES: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens held, as time: one token is worth one `interval`.
    credit: Duration,
    last: Instant,
}

#[derive(Debug)]
pub(crate) struct BusyLimiter {
    burst: u32,
    interval: Duration,
    buckets: HashMap<IpAddr, Bucket>,
    overflow: Option<Bucket>,
    /// When the table was last swept: at most once per `interval`, so a flood from ever-new
    /// forged sources costs one sweep a second, not one per SYN.
    swept: Option<Instant>,
}

impl BusyLimiter {
    pub(crate) fn new(burst: u32, interval: Duration) -> BusyLimiter {
        BusyLimiter { burst, interval, buckets: HashMap::new(), overflow: None, swept: None }
    }

    fn full(&self) -> Duration {
        self.interval.saturating_mul(self.burst)
    }

    /// Takes one token for `source` if it has one.
    pub(crate) fn allow(&mut self, now: Instant, source: IpAddr) -> bool {
        let full = self.full();
        let interval = self.interval;
        let sweep_due = self.swept.is_none_or(|t| now.saturating_since(t) >= interval);
        if sweep_due && !self.buckets.contains_key(&source) && self.buckets.len() >= MAX_SOURCES {
            // A bucket idle long enough to be full again is no different from a new one.
            self.buckets.retain(|_, b| now.saturating_since(b.last) < full);
            self.swept = Some(now);
        }
        let fresh = Bucket { credit: full, last: now };
        let bucket = if self.buckets.len() < MAX_SOURCES || self.buckets.contains_key(&source) {
            self.buckets.entry(source).or_insert(fresh)
        } else {
            self.overflow.get_or_insert(fresh)
        };
        bucket.credit = (bucket.credit + now.saturating_since(bucket.last)).min(full);
        bucket.last = now;
        if bucket.credit >= interval {
            bucket.credit -= interval;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_of_five_then_one_per_second() {
        let mut l = BusyLimiter::new(5, Duration::from_secs(1));
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let t0 = Instant::ZERO;
        let granted = (0..20).filter(|_| l.allow(t0, ip)).count();
        assert_eq!(granted, 5);
        assert!(!l.allow(t0 + Duration::from_millis(999), ip));
        assert!(l.allow(t0 + Duration::from_millis(1000), ip));
        assert!(!l.allow(t0 + Duration::from_millis(1500), ip));
        // Another source has its own bucket.
        assert!(l.allow(t0, "127.0.0.10".parse().unwrap()));
    }

    #[test]
    fn memory_stays_bounded_under_many_sources() {
        let mut l = BusyLimiter::new(5, Duration::from_secs(1));
        for i in 0..20_000u32 {
            l.allow(Instant::ZERO, IpAddr::from(i.to_be_bytes()));
        }
        assert!(l.buckets.len() <= MAX_SOURCES);
    }
}
