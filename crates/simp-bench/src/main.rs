//! `simp-bench`: simp against a floor of the same shape, measured in the same run.
//!
//! Real `simpd` processes on loopback, each on its own 127.x.y.z address, driven by blocking
//! IPC clients; the floor is this executable again (`--floor-daemon`), a minimal relay with the
//! same topology. Floor and simp alternate, round after round, and every target is a ratio of
//! the two in the same round. See the README's "Benchmarks" section.
#![forbid(unsafe_code)]

mod client;
mod daemon;
mod error;
mod flood;
mod floor;
mod limit;
mod procfs;
mod report;
mod rounds;
mod runs;
mod stats;
mod syscount;
mod targets;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use simp_proto::ipc::{Command, EndReason, Event};

use crate::client::{Client, EVENT_TIMEOUT};
use crate::daemon::{Daemon, Program};
use crate::error::{fail, Context, Result};
use crate::report::{ChatFigures, FloodRound, Footprint, Machine, Report, Round};
use crate::rounds::Counts;
use crate::runs::LossAddrs;
use crate::stats::fmt_count;

/// Measures simp (real simpd daemons on loopback) against a floor of the same shape, round
/// after round, in one run.
#[derive(Debug, Parser)]
#[command(name = "simp-bench", version)]
struct Args {
    /// Scale every count down (about 1/10) for a run of well under a minute.
    #[arg(long)]
    quick: bool,
    /// Rounds of floor, durable floor, simp and simp --no-history, in turn (at least 5 for a
    /// verdict worth quoting; at most 16).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Also measure loss recovery: 10 % loss through simp-relay, fixed 5 s RTO against
    /// adaptive (takes minutes).
    #[arg(long)]
    loss: bool,
    /// Write the figures as JSON to this file too.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// The simpd binary (default: next to this executable; built first under `cargo run`, else only if missing). A wrapper script
    /// can run it under a profiler.
    #[arg(long, value_name = "PATH")]
    simpd: Option<PathBuf>,
    /// Ping-pong round trips (default 100,000; --quick 10,000).
    #[arg(long)]
    pings: Option<usize>,
    /// Handshakes per round (default 500; --quick 50).
    #[arg(long)]
    handshakes: Option<usize>,
    /// Messages of each round's latency run (default 5,000; --quick 500).
    #[arg(long)]
    messages: Option<usize>,
    /// Messages of each round's throughput run (default 50,000; --quick 5,000).
    #[arg(long)]
    throughput: Option<usize>,
    /// Messages of each round's system-call count (default 5,000; --quick 1,000).
    #[arg(long)]
    syscall_messages: Option<usize>,
    /// Messages of each flood run's throughput (default 20,000; --quick 3,000); 0 skips the
    /// flood figure.
    #[arg(long)]
    flood_messages: Option<usize>,
    /// Messages of each loss run (default 100; --quick 20).
    #[arg(long)]
    loss_messages: Option<usize>,
    /// Seconds over which the idle daemons' CPU time is measured (default 10; --quick 3).
    #[arg(long)]
    idle_secs: Option<u64>,
    /// Seed of the relay's losses.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// The /24 of loopback the run uses, as its first three octets (default: 127.77.N with N
    /// from the process id, so that concurrent runs and tests do not collide).
    #[arg(long, value_name = "A.B.C")]
    net: Option<String>,
    /// Run as the floor daemon on this address (the bench starts it; not for people).
    #[arg(long, value_name = "IP", hide = true)]
    floor_daemon: Option<Ipv4Addr>,
    /// The floor daemon is the durable floor (its file in $XDG_STATE_HOME; not for people).
    #[arg(long, hide = true, requires = "floor_daemon")]
    floor_durable: bool,
}

/// Sources of the SYN flood.
const FLOOD_SOURCES: u8 = 100;
/// The most rounds: each takes eight addresses of the /24, from .20, below the flood's sources.
const MAX_ROUNDS: usize = 16;

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.floor_daemon {
        Some(ip) if args.floor_durable => floor::log_path().and_then(|path| floor::serve(ip, Some(path))),
        Some(ip) => floor::serve(ip, None),
        None => run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("simp-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    if !(1..=MAX_ROUNDS).contains(&args.rounds) {
        fail!("--rounds {}: give 1 to {MAX_ROUNDS} (5 or more for a verdict)", args.rounds);
    }
    let scale =
        |full: usize, quick: usize, given: Option<usize>| given.unwrap_or(if args.quick { quick } else { full });
    let pings = scale(100_000, 10_000, args.pings);
    let counts = Counts {
        handshakes: scale(500, 50, args.handshakes),
        latency: scale(5_000, 500, args.messages),
        throughput: scale(50_000, 5_000, args.throughput),
        syscalls: scale(5_000, 1_000, args.syscall_messages),
    };
    let flood_messages = scale(20_000, 3_000, args.flood_messages);
    let loss_count = scale(100, 20, args.loss_messages);
    let idle_secs = args.idle_secs.unwrap_or(if args.quick { 3 } else { 10 });
    let net = network(args.net.as_deref())?;
    let ip = |last: usize| Ipv4Addr::new(net[0], net[1], net[2], u8::try_from(last).unwrap_or(u8::MAX));
    let simpd = Program::simpd(match &args.simpd {
        Some(path) => path.clone(),
        None => daemon::locate_simpd()?,
    });
    let floor = Program::floor()?;
    let floor_durable = Program::floor_durable()?;
    let (nproc, cpu, kernel) = procfs::machine();
    let load_start = procfs::loadavg();
    eprintln!(
        "simp-bench: {nproc} × {cpu}, Linux {kernel}; load average {:.2}; simpd = {}; addresses {}/24",
        load_start[0],
        simpd.display(),
        ip(0)
    );
    let syscalls_missing = syscount::probe().err().map(|e| e.0);
    if let Some(why) = &syscalls_missing {
        eprintln!("simp-bench: system calls will not be counted: {why}");
    }

    eprintln!("reference: UDP ping-pong, {} round trips …", fmt_count(pings as f64));
    let ping_pong = limit::ping_pong(ip(1), ip(2), pings)?;

    // The daemons keep the default 5 s timeout (it only matters after a loss); `--quick` uses
    // 1 s so that a round's daemons stop sooner.
    let timeout = if args.quick { "1s" } else { "5s" };
    let mut rounds = Vec::new();
    for r in 0..args.rounds {
        let load = procfs::loadavg();
        eprintln!(
            "round {}/{} (load {:.2}): floor, durable floor, simp, simp --no-history …",
            r + 1,
            args.rounds,
            load[0]
        );
        let base = 20 + 8 * r;
        let floor = rounds::run(&floor, [ip(base), ip(base + 1)], &[], &[], &counts, syscalls_missing.is_none())?;
        let floor_durable =
            rounds::run(&floor_durable, [ip(base + 6), ip(base + 7)], &[], &[], &counts, syscalls_missing.is_none())?;
        let simp = rounds::run(
            &simpd,
            [ip(base + 2), ip(base + 3)],
            &["--timeout", timeout],
            &["--auto-accept"],
            &counts,
            syscalls_missing.is_none(),
        )?;
        // The same with a store that keeps only what is owed: what the history costs.
        let simp_no_history = rounds::run(
            &simpd,
            [ip(base + 4), ip(base + 5)],
            &["--timeout", timeout, "--no-history"],
            &["--auto-accept"],
            &counts,
            syscalls_missing.is_none(),
        )?;
        eprintln!(
            "      one way {} vs {} vs {} vs {} msg/s, latency {:.0} vs {:.0} vs {:.0} vs {:.0} µs \
             (floor vs durable floor vs simp vs --no-history)",
            fmt_count(floor.one_way_per_sec),
            fmt_count(floor_durable.one_way_per_sec),
            fmt_count(simp.one_way_per_sec),
            fmt_count(simp_no_history.one_way_per_sec),
            floor.latency.to_message.median_us,
            floor_durable.latency.to_message.median_us,
            simp.latency.to_message.median_us,
            simp_no_history.latency.to_message.median_us
        );
        rounds.push(Round { load, floor, floor_durable, simp, simp_no_history });
    }

    let sources: Vec<Ipv4Addr> = (0..usize::from(FLOOD_SOURCES)).map(|i| ip(150 + i)).collect();
    let flooded_pair = FloodPair { simpd: &simpd, ips: [ip(11), ip(12)], raw_peer: ip(13), sources: &sources };
    let (flood, raw_peer, footprint) = flooded_pair.run(args.rounds, flood_messages, counts.latency / 2, idle_secs)?;

    let mut loss = Vec::new();
    if args.loss {
        for (i, rto) in ["fixed", "adaptive"].into_iter().enumerate() {
            let base = 3 + 4 * i;
            let addrs = LossAddrs { sender: ip(base), receiver: ip(base + 1), front: ip(base + 2), back: ip(base + 3) };
            eprintln!("loss: {loss_count} messages at 10 % loss, --rto {rto} …");
            let run = runs::loss_run(&simpd, &addrs, rto, loss_count, 0.10, args.seed)?;
            eprintln!("      {:.1} s, {} retransmissions", run.seconds, run.retransmissions);
            loss.push(run);
        }
    }

    let mut report = Report {
        machine: Machine { nproc, cpu, kernel },
        quick: args.quick,
        counts,
        load_start,
        load_end: procfs::loadavg(),
        ping_pong,
        rounds,
        flood,
        raw_peer,
        footprint,
        loss,
        syscalls_missing,
        targets: Vec::new(),
        against_durable_floor: Vec::new(),
    };
    report.targets = report.targets();
    report.against_durable_floor = report.against_durable_floor();
    print!("{}", report.render());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).context(|| "cannot encode the report".into())?;
        std::fs::write(path, json + "\n").context(|| format!("cannot write {}", path.display()))?;
        eprintln!("simp-bench: figures written to {}", path.display());
    }
    Ok(())
}

/// The pair of simp daemons that chats with and without a SYN flood, then idles.
struct FloodPair<'a> {
    simpd: &'a Program,
    ips: [Ipv4Addr; 2],
    /// Where the raw peer that never re-sends calls the flooded daemon from.
    raw_peer: Ipv4Addr,
    sources: &'a [Ipv4Addr],
}

impl FloodPair<'_> {
    /// `rounds` pairs of chat runs, calm and flooded (in alternating order), then the raw
    /// peer's chat with the flooded daemon, then the footprint: resident memory and
    /// `idle_secs` of idleness after the chat's linger.
    fn run(
        &self,
        rounds: usize,
        messages: usize,
        acks: usize,
        idle_secs: u64,
    ) -> Result<(Vec<FloodRound>, Option<flood::RawPeerRun>, Vec<Footprint>)> {
        // A 1 s timeout keeps the post-chat linger (2 × timeout) before the idle measurement short.
        let flags = ["--timeout", "1s"];
        let mut a_daemon = Daemon::spawn(self.simpd, "A", self.ips[0], &flags)?;
        let mut b_daemon = Daemon::spawn(self.simpd, "B", self.ips[1], &["--timeout", "1s", "--auto-accept"])?;
        let mut a = Client::connect("client A", a_daemon.connection()?, "alice", EVENT_TIMEOUT)?;
        let mut b = Client::connect("client B", b_daemon.connection()?, "bob", EVENT_TIMEOUT)?;
        a.send(&Command::Start { peer: b_daemon.udp.to_string() })?;
        a.expect("established", |e| matches!(e, Event::Established { .. }))?;
        b.expect("established", |e| matches!(e, Event::Established { .. }))?;
        let mut flood = Vec::new();
        for r in 0..if messages == 0 { 0 } else { rounds } {
            let load = procfs::loadavg();
            eprintln!(
                "flood {}/{rounds} (load {:.2}): {} messages without and with 100 sources' SYNs …",
                r + 1,
                load[0],
                fmt_count(messages as f64)
            );
            let chat = |a: &mut Client, b: &mut Client| -> Result<ChatFigures> {
                let one_way_per_sec = runs::one_way(a, b, messages)?;
                let ack_latency = runs::latency(a, b, acks, acks / 20)?.to_delivered;
                Ok(ChatFigures { one_way_per_sec, ack_latency })
            };
            let flooded = |a: &mut Client, b: &mut Client| -> Result<(ChatFigures, flood::FloodTally)> {
                let syns = flood::Flood::start(self.sources, b_daemon.udp)?;
                let figures = chat(a, b);
                let tally = syns.stop()?;
                Ok((figures?, tally))
            };
            let (calm, (flooded, tally)) = if r % 2 == 0 {
                let calm = chat(&mut a, &mut b)?;
                (calm, flooded(&mut a, &mut b)?)
            } else {
                let flooded = flooded(&mut a, &mut b)?;
                (chat(&mut a, &mut b)?, flooded)
            };
            flood.push(FloodRound { load, calm, flooded, syns_per_sec: tally.syns_per_sec, busy: tally.busy });
        }
        a.send(&Command::Leave)?;
        a.expect("ended", |e| matches!(e, Event::Ended { reason: EndReason::YouLeft, .. }))?;
        b.expect("ended", |e| matches!(e, Event::Ended { reason: EndReason::PeerLeft, .. }))?;
        let raw_peer = if messages == 0 { None } else { Some(self.raw_peer(&mut b, b_daemon.udp)?) };
        a_daemon.check_alive()?;
        b_daemon.check_alive()?;

        eprintln!("footprint: waiting 3 s for the post-chat linger to end, then {idle_secs} s idle …");
        thread::sleep(Duration::from_secs(3));
        let daemons = [&a_daemon, &b_daemon];
        let before: Vec<(u64, u64)> = daemons.iter().map(|d| idle_counters(d.pid())).collect::<Result<_>>()?;
        thread::sleep(Duration::from_secs(idle_secs));
        let mut footprint = Vec::new();
        for (d, (ticks, switches)) in daemons.iter().zip(before) {
            let (ticks_after, switches_after) = idle_counters(d.pid())?;
            footprint.push(Footprint {
                daemon: d.name.clone(),
                rss_kib: procfs::rss_kib(d.pid())?,
                idle_secs,
                idle_cpu_ticks: ticks_after - ticks,
                idle_context_switches: switches_after - switches,
            });
        }
        Ok((flood, raw_peer, footprint))
    }

    /// A raw peer that never re-sends chats with B (`--auto-accept`), [`flood::RAW_MESSAGES`]
    /// messages without a flood, then as many during one (issue 11 §2).
    fn raw_peer(&self, b: &mut Client, daemon: SocketAddr) -> Result<flood::RawPeerRun> {
        let load = procfs::loadavg();
        eprintln!(
            "flood: a raw peer that never re-sends, {} messages without and with 100 sources' SYNs (load {:.2}) …",
            flood::RAW_MESSAGES,
            load[0]
        );
        let mut peer = flood::RawPeer::call(self.raw_peer, daemon)?;
        b.expect("established with the raw peer", |e| matches!(e, Event::Established { .. }))?;
        let calm = peer.chat(flood::RAW_MESSAGES)?;
        let syns = flood::Flood::start(self.sources, daemon)?;
        // Let the flood fill the listening socket's queue before the chat goes on.
        thread::sleep(Duration::from_millis(200));
        let flooded = peer.chat(flood::RAW_MESSAGES);
        let tally = syns.stop()?;
        let flooded = flooded?;
        peer.leave()?;
        b.expect("ended by the raw peer", |e| matches!(e, Event::Ended { reason: EndReason::PeerLeft, .. }))?;
        Ok(flood::RawPeerRun { calm, flooded, flood: tally })
    }
}

/// The first three octets of a loopback /24.
fn network(given: Option<&str>) -> Result<[u8; 3]> {
    let Some(text) = given else {
        let n = u8::try_from(std::process::id() % 200 + 20).unwrap_or(77);
        return Ok([127, 77, n]);
    };
    let octets: Vec<u8> = text.split('.').map(str::parse).collect::<std::result::Result<_, _>>().map_err(|_| {
        error::Error(format!("--net {text:?}: give the first three octets of a loopback /24, e.g. 127.77.3"))
    })?;
    match octets[..] {
        [127, b, c] => Ok([127, b, c]),
        _ => Err(error::Error(format!(
            "--net {text:?}: give three octets starting with 127 (loopback only), e.g. 127.77.3"
        ))),
    }
}

fn idle_counters(pid: u32) -> Result<(u64, u64)> {
    Ok((procfs::cpu_ticks(pid)?, procfs::context_switches(pid)?))
}
