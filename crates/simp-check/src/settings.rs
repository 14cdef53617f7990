//! What a run is told: the target, its timing, how to drive its user, where to send from.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// How the checker plays the target's user (IPC.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Drive {
    /// No user: the target must accept calls by itself (as the course grader assumes); cases
    /// that need a user skip.
    None,
    /// simp's JSON Lines over TCP at the client port.
    Jsonl,
    /// The course's `cmd|k=v` dialect over UDP at the client port.
    Course,
}

/// Which sequence numbering the target claims (SPEC 2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SeqMode {
    /// One alternating bit per direction, each starting at 0 (SPEC 2.2).
    PerDirection,
    /// One bit per session for both directions (`--seq-mode shared`, SPEC 2.6).
    Shared,
}

/// Everything a run needs to know about the target and the checker's own side.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The target daemon's UDP address.
    pub target: SocketAddr,
    /// The target's client port (driver), on the target's IP.
    pub client: SocketAddr,
    /// The target's retransmission timeout (SPEC 2, `timeout`).
    pub timeout: Duration,
    /// How the target's user is played.
    pub drive: Drive,
    /// The sequence numbering the target uses.
    pub seq_mode: SeqMode,
    /// Re-sends of one datagram the target may make before it must give up (SPEC 2.2
    /// "bounded retries"; SPEC's default is 5).
    pub max_retries: u32,
    /// The first loopback address the checker sends from; each peer it plays gets the next.
    pub source_base: Ipv4Addr,
    /// How long an answer that should come at once may take; `None`: the timeout, at least
    /// one second (a loaded machine, a slow interpreter).
    pub answer: Option<Duration>,
}

impl Settings {
    /// Defaults for a target at `target`: 5 s timeout, no driver, client port 7778.
    pub fn new(target: SocketAddr) -> Settings {
        Settings {
            target,
            client: SocketAddr::new(target.ip(), simp_proto::ipc::DEFAULT_CLIENT_PORT),
            timeout: Duration::from_secs(5),
            drive: Drive::None,
            seq_mode: SeqMode::PerDirection,
            max_retries: 10,
            source_base: Ipv4Addr::new(127, 66, 0, 1),
            answer: None,
        }
    }

    /// How long an answer that should come at once may take (see [`Settings::answer`]).
    pub fn answer_wait(&self) -> Duration {
        self.answer.unwrap_or_else(|| self.timeout.max(Duration::from_secs(1)))
    }

    /// How long the checker listens to conclude that nothing was sent in reply: half the
    /// timeout (so no timer-driven re-send falls into it), between 100 ms and 1 s.
    pub fn quiet(&self) -> Duration {
        (self.timeout / 2).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }

    /// The window a timer-driven re-send must fall into, measured from the send it repeats:
    /// half the timeout to one and a half timeouts plus 250 ms (the stated margin).
    pub fn resend_window(&self) -> (Duration, Duration) {
        (self.timeout / 2, self.timeout * 3 / 2 + Duration::from_millis(250))
    }
}

/// Hands out loopback source addresses, one per peer the checker plays, so that the target's
/// per-address state (busy limiter, linger) of one case never meets another case.
#[derive(Debug)]
pub struct Sources {
    base: u32,
    next: AtomicU32,
}

impl Sources {
    /// Addresses from `base` upwards, skipping those whose last byte is 0 or 255.
    pub fn new(base: Ipv4Addr) -> Sources {
        Sources { base: u32::from(base), next: AtomicU32::new(0) }
    }

    /// The next unused address.
    pub fn next(&self) -> Ipv4Addr {
        loop {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            let addr = Ipv4Addr::from(self.base.wrapping_add(n));
            let last = addr.octets()[3];
            if last != 0 && last != 255 {
                return addr;
            }
        }
    }
}
