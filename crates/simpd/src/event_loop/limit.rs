//! A per-source budget over a fixed window, with a summary of what it held back: for the log
//! lines a hostile source can cause (one per datagram on the client port, one per connection)
//! and for the error replies of the course's dialect.
//!
//! Each source may have `budget` in a window of `window` that starts with its first; beyond
//! that everything is counted instead, and when the window ends [`Limiter::summaries`] says
//! how much was held back ("49,999 more from X in 10.0 s"). A flood from ever-new sources
//! costs bounded memory: beyond [`MAX_SOURCES`] they share one budget.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

/// Sources tracked at once; beyond this, new sources share one budget ([`Source::Others`]).
const MAX_SOURCES: usize = 4096;

/// Whom a budget belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Source {
    /// One address.
    Ip(IpAddr),
    /// Every source beyond [`MAX_SOURCES`], together.
    Others,
}

/// What a source had held back in one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Summary {
    pub(super) source: Source,
    pub(super) held_back: u64,
    /// From the window's start to when the summary was taken.
    pub(super) over: Duration,
}

/// Budgets per source; see the module documentation.
#[derive(Debug)]
pub(super) struct Limiter {
    budget: u32,
    window: Duration,
    tallies: HashMap<Source, Tally>,
    /// Sources that held something back, by the end of their window: their summaries are due
    /// then. Every window is equally long, so this is in order.
    due: VecDeque<(Instant, Source)>,
    /// When the table was last swept: at most once per window, so that a flood from ever-new
    /// sources costs one sweep per window, not one per datagram.
    swept: Option<Instant>,
}

/// One source's current window.
#[derive(Debug, Clone, Copy)]
struct Tally {
    start: Instant,
    admitted: u32,
    held_back: u64,
}

impl Limiter {
    pub(super) fn new(budget: u32, window: Duration) -> Limiter {
        Limiter { budget, window, tallies: HashMap::new(), due: VecDeque::new(), swept: None }
    }

    /// Whether `ip` may have one more now; if not, it is counted for the summary.
    pub(super) fn admit(&mut self, now: Instant, ip: IpAddr) -> bool {
        let source = self.source(now, ip);
        let fresh = Tally { start: now, admitted: 0, held_back: 0 };
        let tally = match self.tallies.entry(source) {
            Entry::Occupied(entry) => {
                let tally = entry.into_mut();
                // A window that held something back stays open until its summary is taken.
                if tally.held_back == 0 && now >= tally.start + self.window {
                    *tally = fresh;
                }
                tally
            }
            Entry::Vacant(entry) => entry.insert(fresh),
        };
        if tally.admitted < self.budget {
            tally.admitted += 1;
            return true;
        }
        if tally.held_back == 0 {
            self.due.push_back((tally.start + self.window, source));
        }
        tally.held_back += 1;
        false
    }

    /// When the next summary is due.
    pub(super) fn next_summary(&self) -> Option<Instant> {
        self.due.front().map(|(at, _)| *at)
    }

    /// The summaries due by `now`, oldest first; their sources start afresh.
    pub(super) fn summaries(&mut self, now: Instant) -> Vec<Summary> {
        let mut summaries = Vec::new();
        while let Some(&(at, source)) = self.due.front() {
            if at > now {
                break;
            }
            self.due.pop_front();
            if let Some(tally) = self.tallies.remove(&source) {
                summaries.push(Summary { source, held_back: tally.held_back, over: now - tally.start });
            }
        }
        summaries
    }

    /// The key `ip` is counted under: its own, while the table has room.
    fn source(&mut self, now: Instant, ip: IpAddr) -> Source {
        let source = Source::Ip(ip);
        if self.tallies.len() < MAX_SOURCES || self.tallies.contains_key(&source) {
            return source;
        }
        if self.swept.is_none_or(|at| now >= at + self.window) {
            // A source whose window is over and held nothing back is no different from a new
            // one; those that held something back wait for their summary.
            let window = self.window;
            self.tallies.retain(|_, t| t.held_back > 0 || now < t.start + window);
            self.swept = Some(now);
        }
        if self.tallies.len() < MAX_SOURCES {
            source
        } else {
            Source::Others
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Ip(ip) => ip.fmt(f),
            Source::Others => f.write_str("other sources"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(10);

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn a_source_gets_its_budget_per_window_and_a_summary_of_the_rest() {
        let t0 = Instant::now();
        let mut l = Limiter::new(5, WINDOW);
        let admitted = (0..50_000).filter(|_| l.admit(t0, ip(1))).count();
        assert_eq!(admitted, 5);
        // Another source has its own budget.
        assert!(l.admit(t0, ip(2)));
        assert_eq!(l.next_summary(), Some(t0 + WINDOW));
        assert_eq!(l.summaries(t0 + WINDOW - Duration::from_millis(1)), []);
        let later = t0 + WINDOW + Duration::from_millis(3);
        assert_eq!(
            l.summaries(later),
            [Summary { source: Source::Ip(ip(1)), held_back: 49_995, over: WINDOW + Duration::from_millis(3) }]
        );
        assert_eq!(l.next_summary(), None, "a source that held nothing back has no summary");
        // The summary taken, the source starts afresh.
        assert!(l.admit(later, ip(1)));
    }

    #[test]
    fn a_window_that_held_something_back_counts_on_until_its_summary() {
        let t0 = Instant::now();
        let mut l = Limiter::new(1, WINDOW);
        assert!(l.admit(t0, ip(1)));
        assert!(!l.admit(t0, ip(1)));
        // Past the window, before the timer took the summary: still counted in it.
        assert!(!l.admit(t0 + WINDOW, ip(1)));
        let summaries = l.summaries(t0 + WINDOW);
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].held_back, 2);
        // A window that held nothing back simply ends.
        assert!(l.admit(t0 + WINDOW, ip(2)));
        assert!(l.admit(t0 + WINDOW * 2, ip(2)));
    }

    #[test]
    fn memory_stays_bounded_under_ever_new_sources() {
        let t0 = Instant::now();
        let mut l = Limiter::new(1, WINDOW);
        for i in 0..20_000u32 {
            l.admit(t0, IpAddr::from(i.to_be_bytes()));
            l.admit(t0, IpAddr::from(i.to_be_bytes()));
        }
        assert!(l.tallies.len() <= MAX_SOURCES + 1);
        assert!(l.due.len() <= MAX_SOURCES + 1);
        let summaries = l.summaries(t0 + WINDOW);
        let others = summaries.iter().find(|s| s.source == Source::Others).expect("a summary for the rest");
        // 20,000 − 4,096 sources shared one budget of 1: two datagrams each, less the one admitted.
        assert_eq!(others.held_back, 2 * (20_000 - MAX_SOURCES as u64) - 1);
        assert_eq!(summaries.len(), MAX_SOURCES + 1);
        // After the window, the table has room again.
        assert!(l.admit(t0 + WINDOW, ip(9)));
        assert!(l.tallies.len() <= 1);
    }
}
