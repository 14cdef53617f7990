//! The log's timestamps: UTC, RFC 3339 with microseconds (`2026-12-02T21:42:55.979019Z`), the
//! format of tracing-subscriber's default timer. The default formats each field through
//! `fmt::Display` and cost about 2,300 instructions a line, a third of a state change's line
//! (callgrind); humantime writes the digits into one buffer, as a hand-written formatter did
//! here before at about a tenth of that.

use std::fmt;
use std::time::SystemTime;

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// The system clock in UTC, for `tracing_subscriber::fmt().with_timer`.
pub struct UtcMicros;

impl FormatTime for UtcMicros {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        write_at(w, SystemTime::now())
    }
}

/// `at` as `YYYY-MM-DDTHH:MM:SS.ffffffZ`; a clock before 1970 or after 9999 is written as the
/// nearest of those (the line is still written).
fn write_at(w: &mut impl fmt::Write, at: SystemTime) -> fmt::Result {
    let at = at.clamp(SystemTime::UNIX_EPOCH, last_second());
    write!(w, "{}", humantime::format_rfc3339_micros(at))
}

/// 9999-12-31T23:59:59Z, the last time RFC 3339's four-digit year can write.
fn last_second() -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(253_402_300_799)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, micros: u32) -> String {
        let mut out = String::new();
        write_at(&mut out, SystemTime::UNIX_EPOCH + Duration::new(secs, micros * 1_000)).unwrap();
        out
    }

    #[test]
    fn dates_and_times_are_those_of_the_calendar() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        // A leap day, the day after, and the turn of a century that is a leap year.
        assert_eq!(at(951_782_400, 1), "2000-02-29T00:00:00.000001Z");
        assert_eq!(at(951_868_799, 999_999), "2000-02-29T23:59:59.999999Z");
        assert_eq!(at(951_868_800, 0), "2000-03-01T00:00:00.000000Z");
        // 2100 is no leap year; the last second of a year.
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000000Z");
        assert_eq!(at(1_798_761_599, 0), "2026-12-31T23:59:59.000000Z");
        assert_eq!(at(1_796_247_775, 979_019), "2026-12-02T21:42:55.979019Z");
    }

    #[test]
    fn a_clock_out_of_range_still_writes_a_line() {
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        let mut out = String::new();
        write_at(&mut out, before).unwrap();
        assert_eq!(out, "1970-01-01T00:00:00.000000Z");
        out.clear();
        write_at(&mut out, last_second() + Duration::from_secs(86_400)).unwrap();
        assert_eq!(out, "9999-12-31T23:59:59.000000Z");
    }
}
