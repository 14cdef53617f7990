//! Everything one run measured, the targets computed from it, and its rendering as text.

use serde::Serialize;

use crate::flood::{BusyReplies, RawPeerRun};
use crate::limit::Limit;
use crate::rounds::{Counts, SystemRound};
use crate::runs::LossRun;
use crate::stats::{self, fmt_count, fmt_us, Spread, Summary};
use crate::targets::{Bound, Target};

/// Everything one run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub quick: bool,
    pub counts: Counts,
    /// Load averages (1, 5, 15 min) when the run started and ended.
    pub load_start: [f64; 3],
    pub load_end: [f64; 3],
    /// The 50-byte UDP ping-pong between two threads: a reference line, no denominator.
    pub ping_pong: Limit,
    /// Floor then simp, each round on fresh daemons.
    pub rounds: Vec<Round>,
    pub flood: Vec<FloodRound>,
    /// The raw peer that never re-sends, without and during a flood.
    pub raw_peer: Option<RawPeerRun>,
    pub footprint: Vec<Footprint>,
    pub loss: Vec<LossRun>,
    /// Why system calls were not counted, if they were not.
    pub syscalls_missing: Option<String>,
    pub targets: Vec<Target>,
    /// The ratios of the targets against the durable floor instead: what simp costs above a
    /// store at its cheapest. Not issue 14's targets (their denominator is the floor).
    pub against_durable_floor: Vec<Target>,
}

/// The machine the run was on.
#[derive(Debug, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu: String,
    pub kernel: String,
}

/// One round: the floor, the durable floor, simp, then simp with `--no-history`.
#[derive(Debug, Serialize)]
pub struct Round {
    /// Load averages when the round started.
    pub load: [f64; 3],
    pub floor: SystemRound,
    /// The floor that also writes what simpd's store keeps, one `write(2)` per record
    /// (`floor.rs`). Not a denominator of the targets.
    pub floor_durable: SystemRound,
    pub simp: SystemRound,
    /// simpd keeping only what is still owed (a message is deleted once confirmed or
    /// settled): what keeping the history costs. Not a target.
    pub simp_no_history: SystemRound,
}

/// One chat run without the flood and one with it, on the same pair of simp daemons.
#[derive(Debug, Serialize)]
pub struct FloodRound {
    pub load: [f64; 3],
    pub calm: ChatFigures,
    pub flooded: ChatFigures,
    /// SYNs the flood sent per second, from all sources together.
    pub syns_per_sec: f64,
    pub busy: BusyReplies,
}

/// Throughput and ACK latency of one chat run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ChatFigures {
    pub one_way_per_sec: f64,
    /// `chat` → `delivered`, one at a time.
    pub ack_latency: Summary,
}

/// One daemon after the runs: memory, and what it did while idle.
#[derive(Debug, Serialize)]
pub struct Footprint {
    pub daemon: String,
    pub rss_kib: u64,
    pub idle_secs: u64,
    pub idle_cpu_ticks: u64,
    pub idle_context_switches: u64,
}

impl Report {
    /// The targets of issue 14, from this run's figures.
    pub fn targets(&self) -> Vec<Target> {
        let mut t = self.ratio_targets("floor", &|r| &r.floor);
        self.other_targets(&mut t);
        t
    }

    /// The ratio targets' figures against the durable floor: a reference, never judged (`met`
    /// stays `None`); the verdict says only on which side of the target's bound simp is.
    pub fn against_durable_floor(&self) -> Vec<Target> {
        let mut t = self.ratio_targets("durable floor", &|r| &r.floor_durable);
        for target in &mut t {
            if let Some(within) = target.met.take() {
                target.verdict = (if within { "within the bound" } else { "beyond the bound" }).to_string();
            }
        }
        t
    }

    /// The targets that set simp against a floor: `name`, taken from each round by `floor`.
    fn ratio_targets(&self, name: &str, floor: &dyn Fn(&Round) -> &SystemRound) -> Vec<Target> {
        let mut t = Vec::new();
        let ratio = |f: &dyn Fn(&SystemRound) -> f64| {
            Spread::of(self.rounds.iter().map(|r| f(&r.simp) / f(floor(r))).collect()).unwrap_or(empty())
        };
        t.push(Target::over_rounds(
            format!("one-way throughput, simp / {name}"),
            Bound::AtLeast(0.85),
            ratio(&|s| s.one_way_per_sec),
        ));
        t.push(Target::over_rounds(
            format!("one-way latency (median), simp / {name}"),
            Bound::AtMost(1.3),
            ratio(&|s| s.latency.to_message.median_us),
        ));
        t.push(Target::over_rounds(
            format!("handshake (median), simp / {name}"),
            Bound::AtMost(1.5),
            ratio(&|s| s.handshake.median_us),
        ));
        for (i, daemon) in ["A (sender)", "B (receiver)"].into_iter().enumerate() {
            t.push(Target::over_rounds(
                format!("CPU per message, daemon {daemon}, simp / {name}"),
                Bound::AtMost(1.5),
                ratio(&|s| s.costs[i].cpu_us),
            ));
        }
        for (i, daemon) in ["A", "B"].into_iter().enumerate() {
            let what = format!("syscalls per message, daemon {daemon}, simp − {name}");
            let counts: Option<Vec<(f64, f64)>> =
                self.rounds.iter().map(|r| Some((r.simp.costs[i].syscalls?, floor(r).costs[i].syscalls?))).collect();
            match counts {
                Some(counts) if !counts.is_empty() => {
                    let diffs: Vec<f64> = counts.iter().map(|(s, f)| s - f).collect();
                    let simp = Spread::of(counts.iter().map(|c| c.0).collect()).unwrap_or(empty());
                    let median = stats::median(&diffs).unwrap_or(f64::NAN);
                    t.push(Target::with_spread(what, Bound::AtMost(1.0), median, diffs, simp.spread));
                }
                _ => t.push(Target::unmeasured(what, Bound::AtMost(1.0), "system calls not counted (no perf)")),
            }
        }
        t
    }

    /// The targets of one figure or of the flood run.
    fn other_targets(&self, t: &mut Vec<Target>) {
        for f in &self.footprint {
            t.push(Target::once(
                format!("daemon {}: idle CPU ticks in {} s", f.daemon, f.idle_secs),
                Bound::AtMost(0.0),
                f.idle_cpu_ticks as f64,
            ));
            t.push(Target::once(
                format!("daemon {}: idle wake-ups in {} s", f.daemon, f.idle_secs),
                Bound::AtMost(0.0),
                f.idle_context_switches as f64,
            ));
            t.push(Target::once(
                format!("daemon {}: resident memory (MiB)", f.daemon),
                Bound::AtMost(10.0),
                f.rss_kib as f64 / 1024.0,
            ));
        }
        if !self.flood.is_empty() {
            let values = self.flood.iter().map(|r| r.flooded.one_way_per_sec / r.calm.one_way_per_sec).collect();
            t.push(Target::over_rounds(
                "throughput under a 100-source SYN flood / without",
                Bound::AtLeast(0.5),
                Spread::of(values).unwrap_or(empty()),
            ));
        }
        if let Some(raw) = &self.raw_peer {
            t.push(Target::once(
                "raw peer under a SYN flood: ACK latency p99 (ms)",
                Bound::AtMost(50.0),
                raw.flooded.latency.p99_us / 1000.0,
            ));
            t.push(Target::once(
                "raw peer under a SYN flood: messages with no ACK in 2 s",
                Bound::AtMost(0.0),
                raw.flooded.late as f64,
            ));
        }
        let busy = self.flood.iter().map(|r| r.busy).chain(self.raw_peer.iter().map(|r| r.flood.busy));
        if let Some(worst) = busy.map(|b| b.most as f64 / b.allowance as f64).reduce(f64::max) {
            t.push(Target::once(
                "busy replies: most to one flood source / bucket allowance",
                Bound::AtMost(1.0),
                worst,
            ));
        }
    }

    /// The report as text: figures, then targets.
    pub fn render(&self) -> String {
        let s = |text: &str| text.to_string();
        let m = &self.machine;
        let mut out = format!("\nsimp-bench on {} × {}, Linux {}\n", m.nproc, m.cpu, m.kernel);
        out.push_str(&format!(
            "load average {} at the start, {} at the end; rounds: {}\n\n",
            fmt_load(self.load_start),
            fmt_load(self.load_end),
            self.rounds.iter().map(|r| format!("{:.2}", r.load[0])).collect::<Vec<_>>().join(" ")
        ));
        let mut rows = vec![vec![
            s("median over rounds"),
            s("floor"),
            s("simp"),
            s("simp/floor"),
            s("spread"),
            s("durable floor"),
            s("simp/durable"),
            s("spread"),
        ]];
        let mut row = |what: String, pick: &dyn Fn(&SystemRound) -> Option<f64>, fmt: &dyn Fn(f64) -> String| {
            let cell = |v: Option<f64>| v.map_or_else(|| s("—"), fmt);
            let [floor, durable] = [&|r: &Round| &r.floor, &|r: &Round| &r.floor_durable] as [Side; 2];
            let mut cells = vec![what, cell(self.median_of(pick, floor)), cell(self.median_of(pick, &|r| &r.simp))];
            cells.extend(ratio_cells(self.simp_over(pick, floor)));
            cells.push(cell(self.median_of(pick, durable)));
            cells.extend(ratio_cells(self.simp_over(pick, durable)));
            rows.push(cells);
        };
        let c = &self.counts;
        row(format!("handshake, start → established ({})", c.handshakes), &|r| Some(r.handshake.median_us), &fmt_us);
        row(format!("latency, chat → message ({})", c.latency), &|r| Some(r.latency.to_message.median_us), &fmt_us);
        row(s("latency, chat → delivered"), &|r| Some(r.latency.to_delivered.median_us), &fmt_us);
        row(format!("throughput one way ({} msgs), msg/s", c.throughput), &|r| Some(r.one_way_per_sec), &fmt_count);
        for (i, d) in ["A", "B"].into_iter().enumerate() {
            row(format!("daemon {d}: CPU per message"), &|r| Some(r.costs[i].cpu_us), &fmt_us);
            row(format!("daemon {d}: syscalls per message"), &|r| r.costs[i].syscalls, &|v| format!("{v:.2}"));
            row(format!("daemon {d}: context switches per message"), &|r| Some(r.costs[i].switches), &|v| {
                format!("{v:.2}")
            });
        }
        out.push_str(&stats::table(&rows));
        out.push_str(&self.render_history());
        let p = &self.ping_pong;
        out.push_str(&format!(
            "\nreference: UDP ping-pong between two threads, {} round trips: median {}, {} RT/s\n",
            fmt_count(p.rtt.count as f64),
            fmt_us(p.rtt.median_us),
            fmt_count(p.round_trips_per_sec)
        ));
        if let Some(why) = &self.syscalls_missing {
            out.push_str(&format!("system calls not counted: {why}\n"));
        }
        for (i, f) in self.flood.iter().enumerate() {
            out.push_str(&format!(
                "flood round {}: one way {} → {} msg/s (×{:.2}), ACK latency median {} → {} (×{:.2}), p99 {} → {}, \
                 with {} SYN/s from 100 sources; busy replies {}, at most {} to a source (bucket {})\n",
                i + 1,
                fmt_count(f.calm.one_way_per_sec),
                fmt_count(f.flooded.one_way_per_sec),
                f.flooded.one_way_per_sec / f.calm.one_way_per_sec,
                fmt_us(f.calm.ack_latency.median_us),
                fmt_us(f.flooded.ack_latency.median_us),
                f.flooded.ack_latency.median_us / f.calm.ack_latency.median_us,
                fmt_us(f.calm.ack_latency.p99_us),
                fmt_us(f.flooded.ack_latency.p99_us),
                fmt_count(f.syns_per_sec),
                f.busy.total,
                f.busy.most,
                f.busy.allowance
            ));
        }
        if let Some(r) = &self.raw_peer {
            let (c, f) = (&r.calm, &r.flooded);
            out.push_str(&format!(
                "raw peer that never re-sends, {} messages: ACK p50 {} → {}, p99 {} → {}, max {} → {}, late (no ACK in 2 s) \
                 {} → {}, with {} SYN/s from 100 sources; busy replies {}, at most {} to a source (bucket {})\n",
                f.messages,
                fmt_us(c.latency.median_us),
                fmt_us(f.latency.median_us),
                fmt_us(c.latency.p99_us),
                fmt_us(f.latency.p99_us),
                fmt_us(c.latency.max_us),
                fmt_us(f.latency.max_us),
                c.late,
                f.late,
                fmt_count(r.flood.syns_per_sec),
                r.flood.busy.total,
                r.flood.busy.most,
                r.flood.busy.allowance
            ));
        }
        for f in &self.footprint {
            out.push_str(&format!(
                "daemon {}: {:.1} MiB resident; idle {} s: {} ticks, {} wake-ups\n",
                f.daemon,
                f.rss_kib as f64 / 1024.0,
                f.idle_secs,
                f.idle_cpu_ticks,
                f.idle_context_switches
            ));
        }
        for l in &self.loss {
            out.push_str(&format!(
                "10 % loss, --rto {}, {} msgs: {:.1} s, {} re-sent, relay dropped {}/{}\n",
                l.rto, l.messages, l.seconds, l.retransmissions, l.relay_dropped, l.relay_received
            ));
        }
        out.push('\n');
        out.push_str(&target_table(&self.targets));
        out.push_str(
            "\nThe same ratios against the durable floor (one write(2) per record, as simpd commits: \
             what simp costs above a store at its cheapest; not issue 14's targets):\n",
        );
        out.push_str(&target_table(&self.against_durable_floor));
        out
    }

    /// simp with its history against simp with `--no-history`, from the same rounds.
    fn render_history(&self) -> String {
        let s = |text: &str| text.to_string();
        let mut rows = vec![vec![
            s("the history's cost, median"),
            s("--no-history"),
            s("simp"),
            s("simp/no-history"),
            s("spread"),
        ]];
        let mut row = |what: String, pick: &dyn Fn(&SystemRound) -> Option<f64>, fmt: &dyn Fn(f64) -> String| {
            let cell = |v: Option<f64>| v.map_or_else(|| s("—"), fmt);
            let no_history: Side = &|r| &r.simp_no_history;
            let mut cells =
                vec![what, cell(self.median_of(pick, no_history)), cell(self.median_of(pick, &|r| &r.simp))];
            cells.extend(ratio_cells(self.simp_over(pick, no_history)));
            rows.push(cells);
        };
        row(s("throughput one way, msg/s"), &|r| Some(r.one_way_per_sec), &fmt_count);
        row(s("latency, chat → message"), &|r| Some(r.latency.to_message.median_us), &fmt_us);
        row(s("latency, chat → delivered"), &|r| Some(r.latency.to_delivered.median_us), &fmt_us);
        for (i, d) in ["A", "B"].into_iter().enumerate() {
            row(format!("daemon {d}: CPU per message"), &|r| Some(r.costs[i].cpu_us), &fmt_us);
            row(format!("daemon {d}: syscalls per message"), &|r| r.costs[i].syscalls, &|v| format!("{v:.2}"));
        }
        format!("\n{}", stats::table(&rows))
    }
}

/// One system of a round, as the report's tables pick it.
type Side<'a> = &'a dyn Fn(&Round) -> &SystemRound;

impl Report {
    /// The median over rounds of a figure of one system.
    fn median_of(&self, pick: &dyn Fn(&SystemRound) -> Option<f64>, side: Side<'_>) -> Option<f64> {
        let values: Option<Vec<f64>> = self.rounds.iter().map(|r| pick(side(r))).collect();
        values.and_then(|v| stats::median(&v))
    }

    /// simp's figure over another system's, round by round.
    fn simp_over(&self, pick: &dyn Fn(&SystemRound) -> Option<f64>, side: Side<'_>) -> Option<Spread> {
        let ratios: Option<Vec<f64>> = self.rounds.iter().map(|r| Some(pick(&r.simp)? / pick(side(r))?)).collect();
        ratios.and_then(Spread::of)
    }
}

/// A ratio's median and spread as two cells of a table.
fn ratio_cells(ratio: Option<Spread>) -> [String; 2] {
    match ratio {
        Some(r) => [format!("{:.2}", r.median), format!("±{:.0} %", r.spread * 100.0)],
        None => ["—".to_string(), "—".to_string()],
    }
}

fn target_table(targets: &[Target]) -> String {
    let s = |text: &str| text.to_string();
    let mut table = vec![vec![s("target"), s("bound"), s("median"), s("spread"), s("verdict")]];
    for t in targets {
        table.push(vec![
            t.what.clone(),
            t.bound.clone(),
            if t.median.is_nan() { s("—") } else { format!("{:.2}", t.median) },
            t.spread.map_or_else(|| s("—"), |x| format!("±{:.0} %", x * 100.0)),
            t.verdict.clone(),
        ]);
    }
    stats::table(&table)
}

fn empty() -> Spread {
    Spread { per_round: Vec::new(), median: f64::NAN, spread: f64::NAN }
}

fn fmt_load(load: [f64; 3]) -> String {
    format!("{:.2} {:.2} {:.2}", load[0], load[1], load[2])
}
