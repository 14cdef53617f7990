//! What tunes an [`Endpoint`](super::Endpoint): the defaults of SPEC 2 and IPC.md.

use std::net::SocketAddr;
use std::time::Duration;

use super::rto::RtoMode;
use super::seq::SeqMode;
use crate::wire;

/// Everything that tunes an [`Endpoint`](super::Endpoint); `Config::new` gives the defaults of
/// SPEC 2 / IPC.md.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our own UDP address: reported to clients, and the tie-breaker of simultaneous open.
    pub local: SocketAddr,
    /// Retransmission timeout (the ceiling with adaptive RTO).
    pub timeout: Duration,
    /// Re-sends of one datagram before the peer counts as unreachable.
    pub retries: u32,
    /// How long a caller keeps calling.
    pub call_timeout: Duration,
    /// How long a request waits for a decision.
    pub ring_timeout: Duration,
    /// Fixed or adaptive RTO.
    pub rto: RtoMode,
    /// Per-direction or shared sequence bits.
    pub seq_mode: SeqMode,
    /// Largest payload we put in one chat datagram.
    pub max_payload: usize,
    /// Accept every call without asking.
    pub auto_accept: bool,
    /// Messages queued for sending at most (beyond: `queue-full`).
    pub queue_limit: usize,
    /// Messages kept for a client that is not attached (beyond: not acknowledged).
    pub store_limit: usize,
    /// Busy replies a source may get in a burst.
    pub busy_burst: u32,
    /// One more busy reply per this interval.
    pub busy_interval: Duration,
}

impl Config {
    /// The defaults, for a daemon at `local`.
    pub fn new(local: SocketAddr) -> Config {
        Config {
            local,
            timeout: Duration::from_secs(5),
            retries: 5,
            call_timeout: Duration::from_secs(60),
            ring_timeout: Duration::from_secs(60),
            rto: RtoMode::Fixed,
            seq_mode: SeqMode::Auto,
            max_payload: wire::DEFAULT_MAX_PAYLOAD,
            auto_accept: false,
            queue_limit: 1000,
            store_limit: 1000,
            busy_burst: 5,
            busy_interval: Duration::from_secs(1),
        }
    }

    /// How long an accepting callee waits for a silent caller: `retries + 1` timeouts, while
    /// the caller re-sends SYN all along if our SYN+ACKs are lost (SPEC 2.1 step 3).
    pub(crate) fn handshake_patience(&self) -> Duration {
        self.timeout.saturating_mul(self.retries.saturating_add(1))
    }

    /// How long we still answer the previous peer after a session (SPEC 2.3).
    pub(crate) fn linger(&self) -> Duration {
        self.timeout.saturating_mul(2)
    }
}
