//! One round: the same measurements of one system (simp or the floor), each on a fresh pair of
//! daemons; the bench alternates the systems (floor, durable floor, simp, simp --no-history),
//! round after round.

use std::net::Ipv4Addr;

use serde::Serialize;
use simp_proto::ipc::{Command, EndReason, Event};

use crate::client::{Client, EVENT_TIMEOUT};
use crate::daemon::{Daemon, Program};
use crate::error::Result;
use crate::procfs;
use crate::runs::{self, Latency};
use crate::stats::Summary;
use crate::syscount;

/// How many of each measurement one round makes.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Counts {
    /// `start` → `established`, with `leave` between.
    pub handshakes: usize,
    /// Messages one at a time.
    pub latency: usize,
    /// Messages of the one-way throughput run, whose CPU time is measured too.
    pub throughput: usize,
    /// Messages of the separate run whose system calls are counted.
    pub syscalls: usize,
}

/// What one system did in one round.
#[derive(Debug, Clone, Serialize)]
pub struct SystemRound {
    pub handshake: Summary,
    pub latency: Latency,
    /// One way, messages per second.
    pub one_way_per_sec: f64,
    /// The sending daemon (A), then the receiving one (B).
    pub costs: [Cost; 2],
}

/// One daemon's cost per message of the one-way runs.
#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    /// Microseconds of CPU time (all threads) per message of the throughput run.
    pub cpu_us: f64,
    /// Context switches (wake-ups and preemptions) per message of the throughput run.
    pub switches: f64,
    /// System calls per message of the counting run; `None` without `perf`.
    pub syscalls: Option<f64>,
}

/// One round of `program` on `a_ip` (the caller and sender) and `b_ip`. `extra` are the flags of
/// both daemons; B also gets `b_extra` (`--auto-accept` for simpd: the floor always accepts).
pub fn run(
    program: &Program,
    ips: [Ipv4Addr; 2],
    extra: &[&str],
    b_extra: &[&str],
    counts: &Counts,
    count_syscalls: bool,
) -> Result<SystemRound> {
    let label = program.label;
    let mut a_daemon = Daemon::spawn(program, &format!("{label} A"), ips[0], extra)?;
    let b_flags: Vec<&str> = extra.iter().chain(b_extra).copied().collect();
    let mut b_daemon = Daemon::spawn(program, &format!("{label} B"), ips[1], &b_flags)?;
    let mut a = Client::connect(&format!("{label} client A"), a_daemon.connection()?, "alice", EVENT_TIMEOUT)?;
    let handshake = runs::handshakes(&mut a, b_daemon.udp, counts.handshakes, counts.handshakes / 20)
        .map_err(|e| runs::with_logs(e, &[&a_daemon, &b_daemon]))?;

    let mut b = Client::connect(&format!("{label} client B"), b_daemon.connection()?, "bob", EVENT_TIMEOUT)?;
    a.send(&Command::Start { peer: b_daemon.udp.to_string() })?;
    a.expect("established", |e| matches!(e, Event::Established { .. }))?;
    b.expect("established", |e| matches!(e, Event::Established { .. }))?;
    let logs = |e| runs::with_logs(e, &[&a_daemon, &b_daemon]);
    let latency = runs::latency(&mut a, &mut b, counts.latency, counts.latency / 20).map_err(logs)?;

    let pids = [a_daemon.pid(), b_daemon.pid()];
    let before: Vec<(u64, u64)> = pids.iter().map(|&pid| counters(pid)).collect::<Result<_>>()?;
    let one_way_per_sec = runs::one_way(&mut a, &mut b, counts.throughput).map_err(logs)?;
    let after: Vec<(u64, u64)> = pids.iter().map(|&pid| counters(pid)).collect::<Result<_>>()?;
    let syscalls = if count_syscalls {
        let counter = syscount::Counter::attach(&pids)?;
        runs::one_way(&mut a, &mut b, counts.syscalls).map_err(logs)?;
        counter.finish()?.into_iter().map(|n| Some(n as f64 / counts.syscalls as f64)).collect()
    } else {
        vec![None, None]
    };
    let per_message = |n: u64| n as f64 / counts.throughput as f64;
    let cost = |i: usize| Cost {
        cpu_us: per_message(after[i].0 - before[i].0) / 1_000.0,
        switches: per_message(after[i].1 - before[i].1),
        syscalls: syscalls.get(i).copied().flatten(),
    };
    let costs = [cost(0), cost(1)];

    a.send(&Command::Leave)?;
    a.expect("ended", |e| matches!(e, Event::Ended { reason: EndReason::YouLeft, .. }))?;
    b.expect("ended", |e| matches!(e, Event::Ended { reason: EndReason::PeerLeft, .. }))?;
    a_daemon.check_alive()?;
    b_daemon.check_alive()?;
    Ok(SystemRound { handshake, latency, one_way_per_sec, costs })
}

/// CPU nanoseconds and context switches of a process so far.
fn counters(pid: u32) -> Result<(u64, u64)> {
    Ok((procfs::cpu_ns(pid)?, procfs::context_switches(pid)?))
}
