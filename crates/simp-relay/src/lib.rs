//! A UDP relay that impairs what it forwards, for testing real daemons over a bad network.
//!
//! ```text
//!   daemon A  <──>  front socket ─[impair]─> back socket  <──>  daemon B (target)
//!            <─[impair]──────────────────────
//! ```
//! Daemon A calls the relay's front address as if it were B. Datagrams from A go out of the
//! back socket to B; B answers the back socket's address (SIMP replies to the source), and
//! those answers go back to A from the front socket. Each datagram, in each direction, may be
//! lost, duplicated and delayed (fixed delay plus jitter); without `reorder` each direction
//! stays in order, with it datagrams within the jitter window may overtake each other.
//! Every decision comes from one seeded generator, so a failing run names its seed.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use simp_proto::rng::Rng;
use tokio::net::UdpSocket;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How the relay mistreats datagrams.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    /// Probability that a datagram is dropped, 0..=1.
    pub loss: f64,
    /// Probability that a forwarded datagram is sent twice, 0..=1.
    pub duplicate: f64,
    /// Delay added to every datagram.
    pub delay: Duration,
    /// Extra random delay, uniform in `0..=jitter`.
    pub jitter: Duration,
    /// Let datagrams overtake each other within the jitter window.
    pub reorder: bool,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Impairment {
    /// A relay that forwards everything at once.
    pub fn none() -> Impairment {
        Impairment { loss: 0.0, duplicate: 0.0, delay: Duration::ZERO, jitter: Duration::ZERO, reorder: false, seed: 0 }
    }
}

/// Counters, readable while the relay runs.
#[derive(Debug, Default)]
pub struct RelayStats {
    /// Datagrams received on either socket.
    pub received: AtomicU64,
    /// Datagrams dropped on purpose.
    pub dropped: AtomicU64,
    /// Extra copies sent.
    pub duplicated: AtomicU64,
    /// Datagrams sent on (copies included).
    pub forwarded: AtomicU64,
}

impl RelayStats {
    /// A snapshot: (received, dropped, duplicated, forwarded).
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        (get(&self.received), get(&self.dropped), get(&self.duplicated), get(&self.forwarded))
    }
}

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A socket could not be bound.
    #[error("cannot bind UDP {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The system's reason.
        source: io::Error,
    },
}

/// A bound relay.
#[derive(Debug)]
pub struct Relay {
    front: Arc<UdpSocket>,
    back: Arc<UdpSocket>,
    target: SocketAddr,
    impairment: Impairment,
    stats: Arc<RelayStats>,
}

impl Relay {
    /// Binds the front socket (what daemon A calls) and the back socket (what B sees), and
    /// will forward to `target`.
    pub async fn bind(
        front: SocketAddr,
        back: SocketAddr,
        target: SocketAddr,
        impairment: Impairment,
    ) -> Result<Relay, RelayError> {
        let bind = |addr: SocketAddr| async move {
            UdpSocket::bind(addr).await.map_err(|source| RelayError::Bind { addr, source })
        };
        let front = Arc::new(bind(front).await?);
        let back = Arc::new(bind(back).await?);
        Ok(Relay { front, back, target, impairment, stats: Arc::default() })
    }

    /// The address daemon A should call.
    pub fn front_addr(&self) -> SocketAddr {
        self.front.local_addr().expect("a bound socket has an address")
    }

    /// The address daemon B sees the relayed traffic come from.
    pub fn back_addr(&self) -> SocketAddr {
        self.back.local_addr().expect("a bound socket has an address")
    }

    /// The counters.
    pub fn stats(&self) -> Arc<RelayStats> {
        Arc::clone(&self.stats)
    }

    /// Relays until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let rng = Arc::new(Mutex::new(Rng::new(self.impairment.seed)));
        // A's address is learnt from the first datagram it sends.
        let a_addr = Arc::new(Mutex::new(None::<SocketAddr>));
        let forward = Direction {
            from: Arc::clone(&self.front),
            to: Arc::clone(&self.back),
            impairment: self.impairment,
            rng: Arc::clone(&rng),
            stats: Arc::clone(&self.stats),
        };
        let backward = Direction {
            from: Arc::clone(&self.back),
            to: Arc::clone(&self.front),
            impairment: self.impairment,
            rng,
            stats: Arc::clone(&self.stats),
        };
        let target = self.target;
        let a_for_forward = Arc::clone(&a_addr);
        let forward = forward.run(move |src| {
            let a = Arc::clone(&a_for_forward);
            async move {
                *a.lock().await = Some(src);
                Some(target)
            }
        });
        let backward = backward.run(move |src| {
            let a = Arc::clone(&a_addr);
            async move {
                // Only the target's answers go back; anything else at the back socket is noise.
                if src == target {
                    *a.lock().await
                } else {
                    None
                }
            }
        });
        tokio::select! {
            () = forward => {}
            () = backward => {}
            () = shutdown => {}
        }
    }
}

struct Direction {
    from: Arc<UdpSocket>,
    to: Arc<UdpSocket>,
    impairment: Impairment,
    rng: Arc<Mutex<Rng>>,
    stats: Arc<RelayStats>,
}

impl Direction {
    async fn run<F, Fut>(self, route: F)
    where
        F: Fn(SocketAddr) -> Fut,
        Fut: Future<Output = Option<SocketAddr>>,
    {
        let mut buf = vec![0u8; 65_536];
        // In order: one sender task releases datagrams strictly in the order they were queued.
        let (queue, mut queued) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>, SocketAddr)>();
        let to = Arc::clone(&self.to);
        let stats = Arc::clone(&self.stats);
        let sender = tokio::spawn(async move {
            while let Some((release, bytes, dest)) = queued.recv().await {
                tokio::time::sleep_until(release).await;
                send(&to, &bytes, dest, &stats).await;
            }
        });
        let _abort = AbortOnDrop(sender);
        let mut last_release = Instant::now();
        loop {
            let Ok((n, src)) = self.from.recv_from(&mut buf).await else { continue };
            self.stats.received.fetch_add(1, Ordering::Relaxed);
            let Some(dest) = route(src).await else { continue };
            let (lost, delays) = {
                let mut rng = self.rng.lock().await;
                let imp = &self.impairment;
                let lost = rng.chance(imp.loss);
                let copies = if rng.chance(imp.duplicate) { 2 } else { 1 };
                let delays: Vec<Duration> =
                    (0..copies).map(|_| imp.delay + rng.between(Duration::ZERO, imp.jitter)).collect();
                (lost, delays)
            };
            if lost {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if delays.len() > 1 {
                self.stats.duplicated.fetch_add(1, Ordering::Relaxed);
            }
            let now = Instant::now();
            for delay in delays {
                let bytes = buf[..n].to_vec();
                if self.impairment.reorder {
                    // Each copy on its own timer: copies within the jitter window may overtake.
                    let (to, stats) = (Arc::clone(&self.to), Arc::clone(&self.stats));
                    tokio::spawn(async move {
                        tokio::time::sleep_until(now + delay).await;
                        send(&to, &bytes, dest, &stats).await;
                    });
                } else {
                    last_release = last_release.max(now + delay);
                    let _ = queue.send((last_release, bytes, dest));
                }
            }
        }
    }
}

/// Stops a background task when its owner goes away.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr, stats: &RelayStats) {
    if socket.send_to(bytes, to).await.is_ok() {
        stats.forwarded.fetch_add(1, Ordering::Relaxed);
    }
}
