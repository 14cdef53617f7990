//! The report as people read it: one line per case, and for every failure or warning the
//! diagnosis followed by the wire log.

use std::fmt::Write as _;

use crate::case::Outcome;
use crate::run::{CaseResult, Report};

/// The whole report as text; `verbose` adds the wire log of every case.
pub fn text(report: &Report, verbose: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "simp-check {} against {} (timeout {} ms, drive {:?})\n",
        env!("CARGO_PKG_VERSION"),
        report.target,
        report.timeout.as_millis(),
        report.drive
    );
    let width = report.results.iter().map(|r| r.id.len()).max().unwrap_or(0);
    for r in &report.results {
        let _ = writeln!(out, "{:<7} {:<width$}  {}", r.outcome.as_str(), r.id, r.title);
        let shown = matches!(r.outcome, Outcome::Fail | Outcome::Warn);
        if let Some(detail) = &r.detail {
            let _ = writeln!(out, "{}", indent(detail, 8));
        }
        if let Some(note) = &r.note {
            let _ = writeln!(out, "        ({note})");
        }
        if (shown || verbose) && !r.wire.is_empty() {
            out.push_str(&wire(r));
        }
    }
    out.push('\n');
    out.push_str(&summary(report));
    out
}

/// The closing line: counts and time.
pub fn summary(report: &Report) -> String {
    let mut line = format!(
        "{} passed, {} failed, {} warnings, {} skipped",
        report.count(Outcome::Pass),
        report.count(Outcome::Fail),
        report.count(Outcome::Warn),
        report.count(Outcome::Skip)
    );
    let blocked = report.blocked();
    if blocked > 0 {
        let _ = write!(line, " ({blocked} because an earlier step failed)");
    }
    let not_run = report.count(Outcome::NotRun);
    if not_run > 0 {
        let _ = write!(line, ", {not_run} not run");
    }
    let _ = write!(line, " in {:.1} s", report.elapsed.as_secs_f64());
    if report.interrupted {
        line.push_str(" (interrupted)");
    }
    let verdict = if report.passed() {
        "every MUST passed"
    } else if report.strict && report.count(Outcome::Warn) > 0 && report.count(Outcome::Fail) == 0 {
        "SHOULDs failed (--strict)"
    } else {
        "not conformant"
    };
    format!("{line}: {verdict}\n")
}

/// The wire log of one case, indented under it.
pub fn wire(result: &CaseResult) -> String {
    let mut out = String::from("        wire log (time since the case started, checker <-> target):\n");
    for entry in &result.wire {
        out.push_str(&indent(&entry.to_string(), 8));
        out.push('\n');
    }
    out
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().map(|l| format!("{pad}{l}")).collect::<Vec<_>>().join("\n")
}
