//! The log's timestamps: UTC, RFC 3339 with microseconds (`2026-12-02T21:42:55.979019Z`), the
//! format of tracing-subscriber's default timer, written digit by digit into one buffer.
//! The default formats each field through `fmt::Display` and cost about 2,300 instructions a
//! line, a third of a state change's line (callgrind); this costs about a tenth of that.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// Length of `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
const LEN: usize = 27;

/// The system clock in UTC, for `tracing_subscriber::fmt().with_timer`.
pub struct UtcMicros;

impl FormatTime for UtcMicros {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        // A clock before 1970 is written as 1970-01-01: the line is still written.
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let text = rfc3339(since);
        w.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

/// `since` the Unix epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (years after 9999 keep their last
/// four digits).
fn rfc3339(since: Duration) -> [u8; LEN] {
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    put(&mut out[0..4], year);
    put(&mut out[5..7], month);
    put(&mut out[8..10], day);
    put(&mut out[11..13], of_day / 3_600);
    put(&mut out[14..16], of_day % 3_600 / 60);
    put(&mut out[17..19], of_day % 60);
    put(&mut out[20..26], u64::from(since.subsec_micros()));
    out
}

/// Writes the last `digits.len()` decimal digits of `n`, zero-padded.
fn put(digits: &mut [u8], mut n: u64) {
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (H. Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, micros: u32) -> String {
        String::from_utf8(rfc3339(Duration::new(secs, micros * 1_000)).to_vec()).unwrap()
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
    fn every_day_for_four_centuries_follows_the_one_before() {
        let days_in = |y: u64, m: u64| match m {
            2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let mut expected = (1970, 1, 1);
        for days in 0..146_097 {
            assert_eq!(civil_from_days(days), expected, "day {days}");
            let (y, m, d) = expected;
            expected = if d < days_in(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }
}
