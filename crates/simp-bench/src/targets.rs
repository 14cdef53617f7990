//! The targets of issue 14 and their verdicts: a ratio is judged on its median over the rounds,
//! and only when the rounds agree (spread ≤ 15 %); otherwise the table says why it is not.

use serde::Serialize;

use crate::stats::Spread;

/// The largest spread over rounds at which a target is judged at all.
pub const MAX_SPREAD: f64 = 0.15;

/// Which side of the bound is good.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

impl Bound {
    fn holds(self, value: f64) -> bool {
        match self {
            Bound::AtLeast(b) => value >= b,
            Bound::AtMost(b) => value <= b,
        }
    }

    fn text(self) -> String {
        match self {
            Bound::AtLeast(b) => format!(">= {b}"),
            Bound::AtMost(b) => format!("<= {b}"),
        }
    }
}

/// One target, measured.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub what: String,
    pub bound: String,
    /// The median over rounds (or the one measurement).
    pub median: f64,
    /// The spread over rounds; `None` for a figure measured once.
    pub spread: Option<f64>,
    pub per_round: Vec<f64>,
    /// `Some(met)` when judged.
    pub met: Option<bool>,
    /// `met`, `NOT MET`, or why it is not judged.
    pub verdict: String,
}

impl Target {
    /// A ratio measured each round: judged on its median, if its spread allows.
    pub fn over_rounds(what: impl Into<String>, bound: Bound, values: Spread) -> Target {
        let spread = values.spread;
        Target::judge(what.into(), bound, values.median, Some(spread), values.per_round, spread)
    }

    /// A figure measured once (idle ticks, memory): judged as it is.
    pub fn once(what: impl Into<String>, bound: Bound, value: f64) -> Target {
        Target::judge(what.into(), bound, value, None, vec![value], 0.0)
    }

    /// A figure judged on `median`, whose steadiness is `spread` (e.g. of a difference, judged
    /// by the spread of the count it is taken from).
    pub fn with_spread(what: impl Into<String>, bound: Bound, median: f64, per_round: Vec<f64>, spread: f64) -> Target {
        Target::judge(what.into(), bound, median, Some(spread), per_round, spread)
    }

    /// A target that could not be measured here.
    pub fn unmeasured(what: impl Into<String>, bound: Bound, why: &str) -> Target {
        Target {
            what: what.into(),
            bound: bound.text(),
            median: f64::NAN,
            spread: None,
            per_round: Vec::new(),
            met: None,
            verdict: format!("not judged: {why}"),
        }
    }

    fn judge(what: String, bound: Bound, median: f64, spread: Option<f64>, per_round: Vec<f64>, s: f64) -> Target {
        let (met, verdict) = verdict(bound, median, s);
        Target { what, bound: bound.text(), median, spread, per_round, met, verdict }
    }
}

/// `met` / `NOT MET`, or not judged when the rounds disagree by more than [`MAX_SPREAD`].
fn verdict(bound: Bound, median: f64, spread: f64) -> (Option<bool>, String) {
    if spread > MAX_SPREAD || spread.is_nan() {
        return (None, format!("not judged: spread {:.0} % > {:.0} %", spread * 100.0, MAX_SPREAD * 100.0));
    }
    let met = bound.holds(median);
    (Some(met), (if met { "met" } else { "NOT MET" }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_only_steady_figures() {
        assert_eq!(verdict(Bound::AtLeast(0.85), 0.9, 0.05), (Some(true), "met".to_string()));
        assert_eq!(verdict(Bound::AtLeast(0.85), 0.8, 0.15), (Some(false), "NOT MET".to_string()));
        assert_eq!(verdict(Bound::AtMost(1.3), 1.0, 0.2), (None, "not judged: spread 20 % > 15 %".to_string()));
        assert_eq!(verdict(Bound::AtMost(0.0), 0.0, 0.0).0, Some(true));
    }

    #[test]
    fn a_ratio_over_rounds_takes_the_median() {
        let t = Target::over_rounds("x", Bound::AtMost(1.5), Spread::of(vec![1.4, 1.45, 1.5, 1.35, 1.4]).unwrap());
        assert_eq!(t.median, 1.4);
        assert_eq!(t.met, Some(true));
        assert_eq!(t.bound, "<= 1.5");
    }
}
