//! A SYN flood from many loopback sources, on its own thread, for the figures of "a chat while
//! strangers keep calling" (issue 11 §2, issue 14): every source sends SYNs (SPEC 1) to one
//! daemon as fast as one thread can, round-robin, and counts the busy replies it gets back
//! against SPEC 2.4's token bucket; and a raw peer that never re-sends, whose every chat
//! datagram must get its ACK however hard the daemon is being called.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;
use simp_proto::wire::{Datagram, Kind, Seq, UserName};

use crate::error::{fail, Context, Result};
use crate::stats::{rate, Summary};

/// Send rounds (one SYN from every source) between two reads of the replies: the replies are
/// few (the bucket's), so reading after every round would only halve the flood.
const COLLECT_EVERY: usize = 64;
/// After the flood stops, how long replies to its last SYNs may take to arrive.
const LAST_REPLIES: Duration = Duration::from_millis(300);
/// SPEC 2.4's token bucket for busy replies, per source address: a burst of this many…
const BUSY_BURST: u64 = 5;
/// …then one per this interval (simpd's defaults, `EndpointConfig::busy_burst`/`busy_interval`).
const BUSY_INTERVAL: Duration = Duration::from_secs(1);
/// How long the raw peer waits for an ACK before it counts the message as late and sends it
/// again (the peer gave up after 2 s).
const PATIENCE: Duration = Duration::from_secs(2);
/// Late messages after which the raw peer's run is abandoned: the chat is not being served.
const GIVE_UP_AFTER: usize = 20;
/// Pause between an ACK and the raw peer's next message: the chat is spread over the flood, as
/// a person types, rather than squeezed into a moment the flood thread is off the CPU.
const PACE: Duration = Duration::from_millis(1);

/// A running flood; stopped by [`Flood::stop`] or when dropped.
pub struct Flood {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<FloodTally>>,
}

/// What one flood sent and what its sources got back.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FloodTally {
    /// SYNs sent, all sources together.
    pub syns: usize,
    pub syns_per_sec: f64,
    /// From the first SYN to the last reply read.
    pub secs: f64,
    pub busy: BusyReplies,
}

/// Busy replies (ERR, SPEC 2.4) the flood's sources got, against the token bucket.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BusyReplies {
    /// ERRs, all sources together.
    pub total: u64,
    /// The most any one source got.
    pub most: u64,
    /// The most one source may get while the flood ran: the burst, then one per interval.
    pub allowance: u64,
}

impl Flood {
    /// Binds one UDP socket on each of `sources` (loopback addresses only) and starts sending.
    pub fn start(sources: &[Ipv4Addr], target: SocketAddr) -> Result<Flood> {
        let mut sockets = Vec::with_capacity(sources.len());
        for &ip in sources {
            if !ip.is_loopback() {
                fail!("flood source {ip} is not a loopback address");
            }
            let socket = UdpSocket::bind((ip, 0)).context(|| format!("flood: cannot bind UDP {ip}:0"))?;
            socket.connect(target).context(|| format!("flood: cannot connect to {target}"))?;
            socket.set_nonblocking(true).context(|| "flood: cannot make a socket non-blocking".into())?;
            sockets.push(socket);
        }
        let user = UserName::new("flood").context(|| "flood: bad user name".into())?;
        let syn = Datagram::new(Kind::Syn, Seq::Zero, Some(&user), &[]).to_vec();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let started = Instant::now();
            let mut sent = 0usize;
            let mut errs = vec![0u64; sockets.len()];
            let mut round = 0usize;
            while !stopping.load(Ordering::Relaxed) {
                for socket in &sockets {
                    // A full buffer or an ICMP error is part of flooding; only successes count.
                    if socket.send(&syn).is_ok() {
                        sent += 1;
                    }
                }
                round += 1;
                if round.is_multiple_of(COLLECT_EVERY) {
                    collect(&sockets, &mut errs);
                }
            }
            let flooding = started.elapsed();
            thread::sleep(LAST_REPLIES);
            collect(&sockets, &mut errs);
            let secs = started.elapsed();
            let allowance = BUSY_BURST + (secs.as_secs_f64() / BUSY_INTERVAL.as_secs_f64()).ceil() as u64;
            let busy =
                BusyReplies { total: errs.iter().sum(), most: errs.iter().copied().max().unwrap_or(0), allowance };
            FloodTally { syns: sent, syns_per_sec: rate(sent, flooding), secs: secs.as_secs_f64(), busy }
        });
        Ok(Flood { stop, thread: Some(thread) })
    }

    /// Stops the flood and counts the replies to its last SYNs.
    pub fn stop(mut self) -> Result<FloodTally> {
        match self.halt() {
            Some(tally) => Ok(tally),
            None => fail!("flood: the flood thread failed"),
        }
    }

    fn halt(&mut self) -> Option<FloodTally> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok())
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Reads every reply waiting on the (connected, non-blocking) sources, counting ERRs.
fn collect(sockets: &[UdpSocket], errs: &mut [u64]) {
    let mut buf = [0u8; 2048];
    for (socket, errs) in sockets.iter().zip(errs) {
        while let Ok(n) = socket.recv(&mut buf) {
            if Datagram::parse(&buf[..n]).is_ok_and(|d| d.kind() == Kind::Err) {
                *errs += 1;
            }
        }
    }
}

/// A peer written for the figure, not a simpd: it sends each chat datagram once and waits for
/// its ACK, as the peers that lost messages under a flood did (issue 11 §2). It re-sends only
/// after [`PATIENCE`], and counts every such message as late.
pub struct RawPeer {
    socket: UdpSocket,
    daemon: SocketAddr,
    user: UserName,
    /// The seq of its next chat datagram (SPEC 2.2: alternating, from 0).
    seq: Seq,
}

/// Chat messages of each raw peer run: the figure.
pub const RAW_MESSAGES: usize = 500;

/// The raw peer's chat with a daemon, without a flood and then during one.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RawPeerRun {
    pub calm: RawAcks,
    pub flooded: RawAcks,
    /// The flood during `flooded`.
    pub flood: FloodTally,
}

/// ACKs of one raw peer run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RawAcks {
    pub messages: usize,
    /// From a message's first sending to its ACK.
    pub latency: Summary,
    /// Messages whose ACK did not come within [`PATIENCE`] (then sent again).
    pub late: usize,
}

impl RawPeer {
    /// Calls `daemon` (which must accept by itself: `--auto-accept`) from `ip` and completes
    /// the handshake (SPEC 2.1).
    pub fn call(ip: Ipv4Addr, daemon: SocketAddr) -> Result<RawPeer> {
        let socket = UdpSocket::bind((ip, 0)).context(|| format!("raw peer: cannot bind UDP {ip}:0"))?;
        socket.connect(daemon).context(|| format!("raw peer: cannot connect to {daemon}"))?;
        let user = UserName::new("raw").context(|| "raw peer: bad user name".into())?;
        let peer = RawPeer { socket, daemon, user, seq: Seq::Zero };
        peer.send(Kind::Syn, Seq::Zero, b"")?;
        if !peer.wait_for(Kind::SynAck, Seq::Zero, Duration::from_secs(5))? {
            fail!("raw peer: {daemon} did not answer its SYN within 5 s");
        }
        peer.send(Kind::Ack, Seq::Zero, b"")?;
        Ok(peer)
    }

    /// Sends `messages` chat messages one at a time, each once (again only after
    /// [`PATIENCE`]), and times their ACKs.
    pub fn chat(&mut self, messages: usize) -> Result<RawAcks> {
        let mut samples = Vec::with_capacity(messages);
        let mut late = 0;
        for i in 0..messages {
            let text = format!("raw {i}");
            let first_sent = Instant::now();
            self.send(Kind::Chat, self.seq, text.as_bytes())?;
            while !self.wait_for(Kind::Ack, self.seq, PATIENCE)? {
                late += 1;
                if late >= GIVE_UP_AFTER {
                    fail!("raw peer: {late} messages waited over {PATIENCE:?} for their ACK; the chat is not served");
                }
                self.send(Kind::Chat, self.seq, text.as_bytes())?;
            }
            samples.push(first_sent.elapsed());
            self.seq = self.seq.flip();
            thread::sleep(PACE);
        }
        let latency = Summary::of(&mut samples).ok_or_else(|| crate::error::Error("raw peer: no messages".into()))?;
        Ok(RawAcks { messages, latency, late })
    }

    /// Leaves the chat (FIN, SPEC 2.3) and waits for its ACK.
    pub fn leave(self) -> Result<()> {
        self.send(Kind::Fin, Seq::Zero, b"")?;
        if !self.wait_for(Kind::Ack, Seq::Zero, Duration::from_secs(5))? {
            fail!("raw peer: {} did not acknowledge its FIN within 5 s", self.daemon);
        }
        Ok(())
    }

    fn send(&self, kind: Kind, seq: Seq, payload: &[u8]) -> Result<()> {
        let bytes = Datagram::new(kind, seq, Some(&self.user), payload).to_vec();
        self.socket.send(&bytes).context(|| format!("raw peer: cannot send to {}", self.daemon))?;
        Ok(())
    }

    /// Waits up to `patience` for a `kind` datagram with `seq` from the daemon, skipping any
    /// other; false if none came.
    fn wait_for(&self, kind: Kind, seq: Seq, patience: Duration) -> Result<bool> {
        let deadline = Instant::now() + patience;
        let mut buf = [0u8; 2048];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            self.socket.set_read_timeout(Some(left)).context(|| "raw peer: cannot set a read timeout".into())?;
            match self.socket.recv(&mut buf) {
                Ok(n) => {
                    if Datagram::parse(&buf[..n]).is_ok_and(|d| d.kind() == kind && d.seq() == seq) {
                        return Ok(true);
                    }
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return Ok(false)
                }
                Err(e) => fail!("raw peer: receiving from {} failed: {e}", self.daemon),
            }
        }
    }
}
