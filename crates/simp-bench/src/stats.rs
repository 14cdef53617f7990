//! Order statistics of samples, the spread of a figure over rounds, and the human formatting of
//! the tables.

use std::time::Duration;

use serde::Serialize;

/// Median and tail of a set of durations, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Samples.
    pub count: usize,
    /// 50th percentile (nearest rank).
    pub median_us: f64,
    /// 99th percentile (nearest rank).
    pub p99_us: f64,
    /// Smallest sample.
    pub min_us: f64,
    /// Largest sample.
    pub max_us: f64,
}

impl Summary {
    /// Summarises `samples` (sorted in place); `None` when there are none.
    pub fn of(samples: &mut [Duration]) -> Option<Summary> {
        samples.sort_unstable();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        Some(Summary {
            count: samples.len(),
            median_us: us(percentile(samples, 50.0)?),
            p99_us: us(percentile(samples, 99.0)?),
            min_us: us(*samples.first()?),
            max_us: us(*samples.last()?),
        })
    }
}

/// A figure measured once per round: its median and how far the rounds stray from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    /// The value of each round, in order.
    pub per_round: Vec<f64>,
    /// Their median (the mean of the middle two for an even count).
    pub median: f64,
    /// The largest distance of a round from the median, as a fraction of the median: 0.15 is
    /// ±15 %. Zero when every round is zero.
    pub spread: f64,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub fn of(values: Vec<f64>) -> Option<Spread> {
        let median = median(&values)?;
        let far = values.iter().map(|v| (v - median).abs()).fold(0.0, f64::max);
        let spread = if far == 0.0 { 0.0 } else { far / median.abs() };
        Some(Spread { per_round: values, median, spread })
    }
}

/// The median of `values` (unsorted); the mean of the middle two for an even count.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The nearest-rank percentile `p` (0..=100) of sorted samples: the smallest sample with at
/// least `p` % of the samples at or below it.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Events per second for `count` events in `elapsed`.
pub fn rate(count: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

/// Microseconds with a precision that suits their size: `8.41 µs`, `152 µs`, `12.3 ms`, `4.20 s`.
pub fn fmt_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 1e4 {
        format!("{:.1} ms", us / 1e3)
    } else if us >= 100.0 {
        format!("{us:.0} µs")
    } else {
        format!("{us:.2} µs")
    }
}

/// A count or rate with thousands separators: `123,456`.
pub fn fmt_count(value: f64) -> String {
    let rounded = value.round();
    let digits = format!("{:.0}", rounded.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if rounded < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// Left-aligned first column, the others right-aligned, columns padded to their widest cell.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width = |c: usize| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns).map(width).collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            if c == 0 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), Some(50));
        assert_eq!(percentile(&sorted, 99.0), Some(99));
        assert_eq!(percentile(&sorted, 100.0), Some(100));
        assert_eq!(percentile(&sorted, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile::<u32>(&[], 50.0), None);
        // An even count takes the lower middle, an odd one the middle.
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3], 50.0), Some(2));
    }

    #[test]
    fn summary_sorts_and_converts_to_microseconds() {
        let mut samples: Vec<Duration> = [30, 10, 20].iter().map(|&us| Duration::from_micros(us)).collect();
        let s = Summary::of(&mut samples).unwrap();
        assert_eq!((s.count, s.median_us, s.min_us, s.max_us, s.p99_us), (3, 20.0, 10.0, 30.0, 30.0));
        assert!(Summary::of(&mut []).is_none());
        assert_eq!(rate(500, Duration::from_millis(250)), 2000.0);
        assert_eq!(rate(5, Duration::ZERO), 0.0);
    }

    #[test]
    fn spread_is_the_farthest_round_from_the_median() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let s = Spread::of(vec![1.0, 0.9, 1.2, 1.0, 1.05]).unwrap();
        assert_eq!(s.median, 1.0);
        assert!((s.spread - 0.2).abs() < 1e-9);
        assert_eq!(Spread::of(vec![0.0, 0.0]).unwrap().spread, 0.0);
        assert_eq!(Spread::of(vec![0.0, 1.0, 0.0]).unwrap().spread, f64::INFINITY);
        assert!(Spread::of(Vec::new()).is_none());
    }

    #[test]
    fn formats_durations_and_counts() {
        assert_eq!(fmt_us(8.414), "8.41 µs");
        assert_eq!(fmt_us(152.4), "152 µs");
        assert_eq!(fmt_us(12_345.0), "12.3 ms");
        assert_eq!(fmt_us(4_200_000.0), "4.20 s");
        assert_eq!(fmt_count(0.0), "0");
        assert_eq!(fmt_count(999.4), "999");
        assert_eq!(fmt_count(1000.0), "1,000");
        assert_eq!(fmt_count(1_234_567.0), "1,234,567");
        assert_eq!(fmt_count(-12_345.0), "-12,345");
    }

    #[test]
    fn table_aligns_columns() {
        let rows =
            vec![vec!["name".to_string(), "value".to_string()], vec!["a longer name".to_string(), "1".to_string()]];
        assert_eq!(table(&rows), "name           value\na longer name      1\n");
    }
}
