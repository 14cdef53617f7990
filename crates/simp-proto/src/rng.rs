//! The one seeded random generator of the workspace: the simulator's losses, the impairment
//! relay's decisions and the hostile tests' inputs all come from it, so any run replays
//! exactly from its seed (DESIGN: seeded randomness only, seed printed on failure). The
//! protocol itself draws no random numbers.

use std::time::Duration;

/// The environment variable that names the seed of a seeded test or tool run.
pub const SEED_VAR: &str = "SIMP_SEED";

/// The seed to use: [`SEED_VAR`] if it is set to a number, else `default`.
pub fn seed_from_env(default: u64) -> u64 {
    std::env::var(SEED_VAR).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// SplitMix64: small, seeded, good enough for choosing losses and hostile bytes.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// A duration in [lo, hi].
    pub fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        if hi <= lo {
            return lo;
        }
        lo + (hi - lo).mul_f64(self.unit())
    }

    /// Uniform in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64().checked_rem(n).unwrap_or(0)
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        let span = u64::try_from(hi.saturating_sub(lo)).unwrap_or(u64::MAX).saturating_add(1);
        lo + usize::try_from(self.below(span)).unwrap_or(0)
    }

    /// One random byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64().to_le_bytes()[0]
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers_and_ranges_hold() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert_eq!(
            (0..10).map(|_| a.next_u64()).collect::<Vec<_>>(),
            (0..10).map(|_| b.next_u64()).collect::<Vec<_>>()
        );
        for _ in 0..1000 {
            assert!((3..=9).contains(&a.range(3, 9)));
            assert!(a.unit() < 1.0);
            assert!(!a.chance(0.0));
            assert!(a.chance(1.0));
        }
        assert_eq!(a.range(5, 5), 5);
    }
}
