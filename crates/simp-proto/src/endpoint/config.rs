//! What tunes an [`Endpoint`](super::Endpoint): the defaults of SPEC 2 and IPC.md.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::rto::RtoMode;
use super::seq::SeqMode;
use crate::ipc::{CommandError, Uncallable};
use crate::wire;

/// Everything that tunes an [`Endpoint`](super::Endpoint); `Config::new` gives the defaults of
/// SPEC 2 / IPC.md.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our own UDP address: reported to clients, and the tie-breaker of simultaneous open.
    pub local: SocketAddr,
    /// The daemon's client port on the same IP, if it has one: a call to it is refused.
    pub client_port: Option<u16>,
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
            client_port: None,
            timeout: Duration::from_secs(5),
            retries: 5,
            call_timeout: Duration::from_secs(60),
            ring_timeout: Duration::from_secs(60),
            rto: RtoMode::Fixed,
            seq_mode: SeqMode::Auto,
            max_payload: wire::DEFAULT_MAX_PAYLOAD,
            auto_accept: false,
            queue_limit: 1000,
            busy_burst: 5,
            busy_interval: Duration::from_secs(1),
        }
    }

    /// Why a call to `addr` can never work from this daemon, if it cannot: `start` refuses it
    /// rather than ring for `call-timeout` (SPEC 2.1).
    pub(crate) fn uncallable(&self, addr: SocketAddr) -> Option<CommandError> {
        let (ip, local) = (addr.ip(), self.local);
        if ip.is_unspecified() {
            return Some(Uncallable::Unspecified(ip).into());
        }
        if ip.is_multicast() || ip == IpAddr::V4(Ipv4Addr::BROADCAST) {
            return Some(Uncallable::NotOneHost(ip).into());
        }
        // A socket bound to `::` also reaches IPv4 peers (as IPv4-mapped addresses).
        let dual_stack = local.is_ipv6() && local.ip().is_unspecified();
        if addr.is_ipv4() != local.is_ipv4() && !(dual_stack && addr.is_ipv4()) {
            return Some(Uncallable::OtherFamily { peer: addr, local }.into());
        }
        // A daemon bound to the unspecified address is reached at every loopback address.
        let ours = ip == local.ip() || (local.ip().is_unspecified() && ip.is_loopback());
        if ours && addr.port() == local.port() {
            return Some(CommandError::CallingSelf(addr));
        }
        if ours && Some(addr.port()) == self.client_port {
            return Some(Uncallable::ClientPort(addr).into());
        }
        None
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
