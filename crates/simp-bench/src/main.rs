//! `simp-bench`: simp against the machine's own limit, measured in the same run.
//!
//! Real `simpd` processes on loopback, each on its own 127.x.y.z address, driven by blocking
//! IPC clients; the limit is a plain UDP ping-pong between two threads. See the README's
//! "Benchmarks" section.
#![forbid(unsafe_code)]

mod client;
mod daemon;
mod error;
mod limit;
mod procfs;
mod runs;
mod stats;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use serde::Serialize;
use simp_proto::ipc::{Command, EndReason, Event};

use crate::client::{Client, EVENT_TIMEOUT};
use crate::daemon::Daemon;
use crate::error::{Context, Result};
use crate::runs::{LossAddrs, LossRun, Throughput};
use crate::stats::{fmt_count, fmt_us, Summary};

/// Measures simp (real simpd daemons on loopback) against a plain UDP ping-pong, in one run.
#[derive(Debug, Parser)]
#[command(name = "simp-bench", version)]
struct Args {
    /// Scale every count down (about 1/10) for a run of a few seconds.
    #[arg(long)]
    quick: bool,
    /// Also measure loss recovery: 10 % loss through simp-relay, fixed 5 s RTO against
    /// adaptive (takes minutes).
    #[arg(long)]
    loss: bool,
    /// Write the figures as JSON to this file too.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// The simpd binary (default: next to this executable, built if missing).
    #[arg(long, value_name = "PATH")]
    simpd: Option<PathBuf>,
    /// Ping-pong round trips (default 100,000; --quick 10,000).
    #[arg(long)]
    pings: Option<usize>,
    /// Handshakes (default 1,000; --quick 100).
    #[arg(long)]
    handshakes: Option<usize>,
    /// Messages of the latency run (default 10,000; --quick 1,000).
    #[arg(long)]
    messages: Option<usize>,
    /// Messages of each throughput run (default 100,000; --quick 10,000).
    #[arg(long)]
    throughput: Option<usize>,
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
}

/// Everything one run measured.
#[derive(Debug, Serialize)]
struct Report {
    machine: Machine,
    quick: bool,
    limit: LimitFigures,
    /// The same ping-pong through tokio (epoll): not a target, it shows what an event loop
    /// costs on this machine before any daemon work.
    tokio_floor: LimitFigures,
    handshake: Summary,
    latency: Summary,
    throughput: Throughput,
    loss: Vec<LossRun>,
    footprint: Vec<Footprint>,
    targets: Vec<Target>,
}

#[derive(Debug, Serialize)]
struct Machine {
    nproc: usize,
    cpu: String,
    kernel: String,
}

#[derive(Debug, Serialize)]
struct LimitFigures {
    #[serde(flatten)]
    rtt: Summary,
    round_trips_per_sec: f64,
}

#[derive(Debug, Serialize)]
struct Footprint {
    daemon: String,
    rss_kib: u64,
    idle_secs: u64,
    idle_cpu_ticks: u64,
    idle_context_switches: u64,
}

#[derive(Debug, Serialize)]
struct Target {
    what: String,
    value: f64,
    bound: String,
    met: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("simp-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let scale =
        |full: usize, quick: usize, given: Option<usize>| given.unwrap_or(if args.quick { quick } else { full });
    let pings = scale(100_000, 10_000, args.pings);
    let handshake_count = scale(1_000, 100, args.handshakes);
    let latency_count = scale(10_000, 1_000, args.messages);
    let throughput_count = scale(100_000, 10_000, args.throughput);
    let loss_count = scale(100, 20, args.loss_messages);
    let idle_secs = args.idle_secs.unwrap_or(if args.quick { 3 } else { 10 });
    let net = network(args.net.as_deref())?;
    let ip = |last: u8| Ipv4Addr::new(net[0], net[1], net[2], last);
    let simpd = match &args.simpd {
        Some(path) => path.clone(),
        None => daemon::locate_simpd()?,
    };
    let (nproc, cpu, kernel) = procfs::machine();
    eprintln!("simp-bench: {nproc} × {cpu}, Linux {kernel}; simpd = {}; addresses {}/24", simpd.display(), ip(0));

    eprintln!("limit: UDP ping-pong, {} round trips …", fmt_count(pings as f64));
    let limit = limit::ping_pong(ip(1), ip(2), pings)?;
    eprintln!("floor: the same ping-pong on two tokio runtimes …");
    let floor = limit::tokio_ping_pong(ip(3), ip(4), pings)?;

    // The daemons keep the default 5 s timeout (it only matters after a loss); `--quick` uses
    // 1 s so that the wait for the post-chat linger (2 × timeout) before the idle measurement
    // is short.
    let timeout = if args.quick { "1s" } else { "5s" };
    let mut a_daemon = Daemon::spawn(&simpd, "A", ip(11), &["--timeout", timeout])?;
    let mut b_daemon = Daemon::spawn(&simpd, "B", ip(12), &["--timeout", timeout, "--auto-accept"])?;
    let mut a = Client::connect("client A", a_daemon.connection()?, "alice", EVENT_TIMEOUT)?;

    eprintln!("handshake: {handshake_count} calls to an --auto-accept daemon …");
    let handshake = runs::handshakes(&mut a, b_daemon.udp, handshake_count, handshake_count / 20)
        .map_err(|e| runs::with_logs(e, &[&a_daemon, &b_daemon]))?;

    let mut b = Client::connect("client B", b_daemon.connection()?, "bob", EVENT_TIMEOUT)?;
    a.send(&Command::Start { peer: b_daemon.udp.to_string() })?;
    a.expect("established", |e| matches!(e, Event::Established { .. }))?;
    b.expect("established", |e| matches!(e, Event::Established { .. }))?;

    eprintln!("latency: {latency_count} messages, one at a time …");
    let latency = runs::latency(&mut a, &mut b, latency_count, latency_count / 20)
        .map_err(|e| runs::with_logs(e, &[&a_daemon, &b_daemon]))?;

    eprintln!("throughput: {} messages one way, then both ways at once …", fmt_count(throughput_count as f64));
    let throughput =
        runs::throughput(&mut a, &mut b, throughput_count).map_err(|e| runs::with_logs(e, &[&a_daemon, &b_daemon]))?;

    a.send(&Command::Leave)?;
    a.expect("ended", |e| matches!(e, Event::Ended { reason: EndReason::YouLeft, .. }))?;
    b.expect("ended", |e| matches!(e, Event::Ended { reason: EndReason::PeerLeft, .. }))?;
    a_daemon.check_alive()?;
    b_daemon.check_alive()?;

    let linger = if args.quick { 2 } else { 10 };
    eprintln!("footprint: waiting {linger} s for the post-chat linger to end, then {idle_secs} s idle …");
    thread::sleep(Duration::from_millis(linger * 1000 + 500));
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
    drop((a, b, a_daemon, b_daemon));

    let mut loss = Vec::new();
    if args.loss {
        for (i, rto) in ["fixed", "adaptive"].into_iter().enumerate() {
            let base = 21 + 10 * u8::try_from(i).unwrap_or(0);
            let addrs = LossAddrs { sender: ip(base), receiver: ip(base + 1), front: ip(base + 2), back: ip(base + 3) };
            eprintln!("loss: {loss_count} messages at 10 % loss, --rto {rto} …");
            let run = runs::loss_run(&simpd, &addrs, rto, loss_count, 0.10, args.seed)?;
            eprintln!("      {:.1} s, {} retransmissions", run.seconds, run.retransmissions);
            loss.push(run);
        }
    }

    let targets = targets(&limit, &handshake, &latency, &throughput, &loss, &footprint);
    let report = Report {
        machine: Machine { nproc, cpu, kernel },
        quick: args.quick,
        limit: LimitFigures { rtt: limit.rtt, round_trips_per_sec: limit.round_trips_per_sec },
        tokio_floor: LimitFigures { rtt: floor.rtt, round_trips_per_sec: floor.round_trips_per_sec },
        handshake,
        latency,
        throughput,
        loss,
        footprint,
        targets,
    };
    print!("{}", render(&report));
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).context(|| "cannot encode the report".into())?;
        std::fs::write(path, json + "\n").context(|| format!("cannot write {}", path.display()))?;
        eprintln!("simp-bench: figures written to {}", path.display());
    }
    Ok(())
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

fn targets(
    limit: &limit::Limit,
    handshake: &Summary,
    latency: &Summary,
    throughput: &Throughput,
    loss: &[LossRun],
    footprint: &[Footprint],
) -> Vec<Target> {
    let mut t = Vec::new();
    let mut add = |what: String, value: f64, bound: &str, met: bool| {
        t.push(Target { what, value, bound: bound.into(), met });
    };
    let tput = throughput.one_way_per_sec / limit.round_trips_per_sec;
    add("throughput one way / ping-pong round trips per s".into(), tput, ">= 0.7", tput >= 0.7);
    let lat = latency.median_us / limit.rtt.median_us;
    add("latency median / ping-pong median".into(), lat, "<= 4", lat <= 4.0);
    let hs = handshake.median_us / limit.rtt.median_us;
    add("handshake median / ping-pong median".into(), hs, "<= 6", hs <= 6.0);
    if let [fixed, adaptive] = loss {
        let speedup = fixed.seconds / adaptive.seconds;
        add("loss: fixed time / adaptive time".into(), speedup, ">= 10", speedup >= 10.0);
    }
    for f in footprint {
        let ticks = f.idle_cpu_ticks as f64;
        add(format!("daemon {}: idle CPU ticks in {} s", f.daemon, f.idle_secs), ticks, "= 0", f.idle_cpu_ticks == 0);
        let mib = f.rss_kib as f64 / 1024.0;
        add(format!("daemon {}: resident memory (MiB)", f.daemon), mib, "<= 10", mib <= 10.0);
    }
    t
}

fn render(r: &Report) -> String {
    let s = |text: &str| text.to_string();
    let mut rows = vec![vec![s("measure"), s("median"), s("p99"), s("rate"), s("× limit")]];
    let lim = &r.limit;
    rows.push(vec![
        format!("limit: UDP ping-pong, {} round trips", fmt_count(lim.rtt.count as f64)),
        fmt_us(lim.rtt.median_us),
        fmt_us(lim.rtt.p99_us),
        format!("{} RT/s", fmt_count(lim.round_trips_per_sec)),
        s("1"),
    ]);
    let times_limit = |us: f64| format!("{:.2}", us / lim.rtt.median_us);
    let floor = &r.tokio_floor;
    rows.push(vec![
        s("(floor: the same ping-pong through tokio)"),
        fmt_us(floor.rtt.median_us),
        fmt_us(floor.rtt.p99_us),
        format!("{} RT/s", fmt_count(floor.round_trips_per_sec)),
        format!("{:.2}", floor.round_trips_per_sec / lim.round_trips_per_sec),
    ]);
    rows.push(vec![
        format!("handshake, start → established ({})", fmt_count(r.handshake.count as f64)),
        fmt_us(r.handshake.median_us),
        fmt_us(r.handshake.p99_us),
        s(""),
        times_limit(r.handshake.median_us),
    ]);
    rows.push(vec![
        format!("latency, chat → message ({})", fmt_count(r.latency.count as f64)),
        fmt_us(r.latency.median_us),
        fmt_us(r.latency.p99_us),
        s(""),
        times_limit(r.latency.median_us),
    ]);
    let tp = &r.throughput;
    let ratio = |rate: f64| format!("{:.2}", rate / lim.round_trips_per_sec);
    rows.push(vec![
        format!("throughput one way ({} msgs)", fmt_count(tp.messages as f64)),
        s(""),
        s(""),
        format!("{} msg/s", fmt_count(tp.one_way_per_sec)),
        ratio(tp.one_way_per_sec),
    ]);
    rows.push(vec![
        format!("throughput both ways ({} msgs each)", fmt_count(tp.messages as f64)),
        s(""),
        s(""),
        format!("{} msg/s", fmt_count(tp.both_ways_per_sec)),
        ratio(tp.both_ways_per_sec),
    ]);
    for l in &r.loss {
        rows.push(vec![
            format!("10 % loss, --rto {}, {} msgs", l.rto, l.messages),
            format!("{:.1} s total", l.seconds),
            s(""),
            format!("{} re-sent", l.retransmissions),
            format!("relay dropped {}/{}", l.relay_dropped, l.relay_received),
        ]);
    }
    for f in &r.footprint {
        rows.push(vec![
            format!("daemon {}: RSS; idle {} s", f.daemon, f.idle_secs),
            format!("{:.1} MiB", f.rss_kib as f64 / 1024.0),
            s(""),
            format!("{} ticks", f.idle_cpu_ticks),
            format!("{} wake-ups", f.idle_context_switches),
        ]);
    }
    let mut out = format!("\nsimp-bench on {} × {}, Linux {}\n\n", r.machine.nproc, r.machine.cpu, r.machine.kernel);
    out.push_str(&stats::table(&rows));
    out.push('\n');
    let mut targets = vec![vec![s("target"), s("value"), s("bound"), s("")]];
    for t in &r.targets {
        targets.push(vec![
            t.what.clone(),
            format!("{:.2}", t.value),
            t.bound.clone(),
            s(if t.met { "met" } else { "NOT MET" }),
        ]);
    }
    out.push_str(&stats::table(&targets));
    out
}
