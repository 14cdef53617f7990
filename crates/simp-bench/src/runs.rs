//! The measurements against running daemons (simpd or the floor): handshake, one-way latency,
//! throughput, loss recovery.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;
use simp_proto::ipc::{Command, EndReason, Event};
use simp_relay::{Impairment, Relay};

use crate::client::{Client, EVENT_TIMEOUT};
use crate::daemon::{Daemon, Program};
use crate::error::{fail, Result};
use crate::stats::{rate, Summary};

/// Undelivered messages a client may have at the daemon at most: its queue limit (SPEC 2.2,
/// `queue_limit`). Going over would earn a `queue-full` error, which the bench treats as a bug.
pub const WINDOW: usize = 1_000;
/// Commands are written in batches of at least this many once the window has room.
const REFILL: usize = 100;
/// A throughput client that has read every event it was sent waits this long before reading
/// again, so that it takes events in bulk rather than being woken for each one: on a machine
/// with two cores, a client woken 50,000 times a second would take the daemons' CPU (a
/// real front end, drawing at its frame rate, batches the same way). The daemons always have
/// hundreds of messages queued, so they never wait for it; it only delays noticing the last
/// event by at most this much.
const BULK_PAUSE: Duration = Duration::from_micros(500);

/// `start` to `established`, `count` times, with `leave` and `ended` between.
pub fn handshakes(a: &mut Client, peer: SocketAddr, count: usize, warmup: usize) -> Result<Summary> {
    let mut samples = Vec::with_capacity(count);
    let start = Command::Start { peer: peer.to_string() };
    for i in 0..warmup + count {
        let t0 = Instant::now();
        a.send(&start)?;
        a.expect("established", |e| matches!(e, Event::Established { .. }))?;
        if i >= warmup {
            samples.push(t0.elapsed());
        }
        a.send(&Command::Leave)?;
        a.expect("ended after leave", |e| matches!(e, Event::Ended { reason: EndReason::YouLeft, .. }))?;
    }
    Summary::of(&mut samples).ok_or_else(|| crate::error::Error("handshake: no samples".into()))
}

/// Latency of messages sent one at a time (the next once the last is delivered).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    /// A's `chat` to B's `message`.
    pub to_message: Summary,
    /// A's `chat` to A's `delivered`: the ACK's way back included.
    pub to_delivered: Summary,
}

/// `count` messages from A to B, one at a time.
pub fn latency(a: &mut Client, b: &mut Client, count: usize, warmup: usize) -> Result<Latency> {
    let mut to_message = Vec::with_capacity(count);
    let mut to_delivered = Vec::with_capacity(count);
    for i in 0..warmup + count {
        let chat = Command::Chat { text: format!("latency {i}"), id: None, utf8: None };
        let t0 = Instant::now();
        a.send(&chat)?;
        b.expect("message", |e| matches!(e, Event::Message { .. }))?;
        let message = t0.elapsed();
        a.expect("delivered", |e| matches!(e, Event::Delivered { .. }))?;
        if i >= warmup {
            to_message.push(message);
            to_delivered.push(t0.elapsed());
        }
    }
    match (Summary::of(&mut to_message), Summary::of(&mut to_delivered)) {
        (Some(to_message), Some(to_delivered)) => Ok(Latency { to_message, to_delivered }),
        _ => fail!("latency: no samples"),
    }
}

/// When a pumping client finished.
#[derive(Debug, Clone, Copy)]
pub struct PumpEnd {
    /// Its last message delivered (or the start, if it sent none).
    pub delivered: Instant,
    /// Its last expected message received (or the start, if it expected none).
    pub received: Instant,
}

/// Sends `send` messages as fast as the daemon takes them, never more than [`WINDOW`]
/// undelivered, while counting `receive` incoming messages; returns when both are done.
pub fn pump(c: &mut Client, label: &str, send: usize, receive: usize, start: Instant) -> Result<PumpEnd> {
    let (mut sent, mut delivered, mut received) = (0usize, 0usize, 0usize);
    let mut end = PumpEnd { delivered: start, received: start };
    let fill = |c: &mut Client, sent: &mut usize, delivered: usize| -> Result<()> {
        while *sent < send && *sent - delivered < WINDOW {
            c.queue(&Command::Chat { text: format!("{label} {sent}"), id: None, utf8: None })?;
            *sent += 1;
        }
        c.flush()
    };
    fill(c, &mut sent, delivered)?;
    while delivered < send || received < receive {
        if !c.has_buffered() {
            thread::sleep(BULK_PAUSE);
        }
        match c.next_event()? {
            Event::Delivered { .. } => {
                delivered += 1;
                if delivered == send {
                    end.delivered = Instant::now();
                }
                let room = WINDOW - (sent - delivered);
                if sent < send && (room >= REFILL || send - sent <= room) {
                    fill(c, &mut sent, delivered)?;
                }
            }
            Event::Message { .. } => {
                received += 1;
                if received == receive {
                    end.received = Instant::now();
                }
            }
            Event::Queued { .. } => {}
            // A caller turned away as busy is reported to the client (IPC.md `missed`): during
            // the flood run, the flood's SYNs.
            Event::Missed { .. } => {}
            other => {
                fail!("{label}: after {sent} sent, {delivered} delivered, {received} received: unexpected {other:?}")
            }
        }
    }
    Ok(end)
}

/// A to B, first `chat` to last `delivered`, in messages per second. B only reads (it must, or
/// its daemon's backlog for it grows).
pub fn one_way(a: &mut Client, b: &mut Client, messages: usize) -> Result<f64> {
    let start = Instant::now();
    let a_end = thread::scope(|s| {
        let reader = s.spawn(|| pump(b, "B", 0, messages, start));
        let a_end = pump(a, "A", messages, 0, start);
        match reader.join() {
            Ok(result) => result.and(a_end),
            Err(_) => fail!("throughput: B's reader panicked"),
        }
    })?;
    Ok(rate(messages, a_end.delivered - start))
}

/// One loss-recovery run.
#[derive(Debug, Clone, Serialize)]
pub struct LossRun {
    /// `fixed` or `adaptive`.
    pub rto: String,
    /// Messages sent.
    pub messages: usize,
    /// First `chat` to last `delivered`, in seconds.
    pub seconds: f64,
    /// The sender's `status`: datagrams re-sent in the session (handshake included).
    pub retransmissions: u64,
    /// The relay's counters, both directions: datagrams received, dropped on purpose, sent on.
    pub relay_received: u64,
    pub relay_dropped: u64,
    pub relay_forwarded: u64,
}

/// Addresses of one loss run: sender, receiver, relay front, relay back.
pub struct LossAddrs {
    pub sender: Ipv4Addr,
    pub receiver: Ipv4Addr,
    pub front: Ipv4Addr,
    pub back: Ipv4Addr,
}

/// `messages` through an in-process relay at `loss`, both daemons with `--rto rto`.
pub fn loss_run(simpd: &Program, ips: &LossAddrs, rto: &str, messages: usize, loss: f64, seed: u64) -> Result<LossRun> {
    // A lost SYN or SYN+ACK waits a whole fixed timeout; allow several.
    const PATIENCE: Duration = Duration::from_secs(90);
    let mut sender = Daemon::spawn(simpd, &format!("loss-{rto}-sender"), ips.sender, &["--rto", rto])?;
    let mut receiver =
        Daemon::spawn(simpd, &format!("loss-{rto}-receiver"), ips.receiver, &["--rto", rto, "--auto-accept"])?;
    let impairment = Impairment { loss, seed, ..Impairment::none() };
    let relay = RelayThread::start(
        SocketAddr::new(ips.front.into(), simp_proto::ipc::DEFAULT_PORT),
        SocketAddr::new(ips.back.into(), 0),
        receiver.udp,
        impairment,
    )?;
    let mut a = Client::connect("loss sender", sender.connection()?, "alice", PATIENCE)?;
    let mut b = Client::connect("loss receiver", receiver.connection()?, "bob", PATIENCE)?;
    a.send(&Command::Start { peer: relay.front.to_string() })?;
    a.expect("established through the relay", |e| matches!(e, Event::Established { .. }))?;
    b.expect("established through the relay", |e| matches!(e, Event::Established { .. }))?;
    let start = Instant::now();
    let end = thread::scope(|s| {
        let reader = s.spawn(|| pump(&mut b, "loss receiver", 0, messages, start));
        let end = pump(&mut a, "loss sender", messages, 0, start);
        match reader.join() {
            Ok(result) => result.and(end),
            Err(_) => fail!("loss run: the receiver's reader panicked"),
        }
    })
    .map_err(|e| with_logs(e, &[&sender, &receiver]))?;
    let seconds = (end.delivered - start).as_secs_f64();
    a.send(&Command::Status)?;
    let Event::Status(status) = a.expect("status", |e| matches!(e, Event::Status(_)))? else {
        fail!("loss run: status expected")
    };
    let (relay_received, relay_dropped, _, relay_forwarded) = relay.stats.snapshot();
    a.send(&Command::Leave)?;
    a.expect("ended", |e| matches!(e, Event::Ended { .. }))?;
    relay.stop();
    sender.check_alive()?;
    receiver.check_alive()?;
    Ok(LossRun {
        rto: rto.to_string(),
        messages,
        seconds,
        retransmissions: status.retransmissions,
        relay_received,
        relay_dropped,
        relay_forwarded,
    })
}

/// Adds the daemons' stderr to an error.
pub fn with_logs(error: crate::error::Error, daemons: &[&Daemon]) -> crate::error::Error {
    let mut message = error.0;
    for d in daemons {
        message.push_str(&format!("\n--- daemon {} stderr (last lines):\n{}", d.name, d.stderr()));
    }
    crate::error::Error(message)
}

/// The relay library on its own thread and runtime.
struct RelayThread {
    front: SocketAddr,
    stats: std::sync::Arc<simp_relay::RelayStats>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl RelayThread {
    fn start(front: SocketAddr, back: SocketAddr, target: SocketAddr, impairment: Impairment) -> Result<RelayThread> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("cannot start the relay's runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                match Relay::bind(front, back, target, impairment).await {
                    Ok(relay) => {
                        let _ = ready_tx.send(Ok((relay.front_addr(), relay.stats())));
                        relay
                            .run(async move {
                                let _ = stopped.await;
                            })
                            .await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("cannot start the relay: {e}")));
                    }
                }
            });
        });
        match ready_rx.recv_timeout(EVENT_TIMEOUT) {
            Ok(Ok((front, stats))) => Ok(RelayThread { front, stats, stop: Some(stop), thread: Some(thread) }),
            Ok(Err(message)) => fail!("{message}"),
            Err(_) => fail!("the relay did not start within {EVENT_TIMEOUT:?}"),
        }
    }

    fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RelayThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}
