//! Dates and times, over `jiff`: Unix seconds in and out of the textual forms Plinth
//! reads (RFC 2822 in Release files, RFC 3339 in feeds, VEX and SBOMs, `YYYY-MM-DD` in
//! ignore files) and writes (RFC 3339 UTC with a `Z`).

use std::time::{SystemTime, UNIX_EPOCH};

pub use jiff::civil::Date;
use jiff::{Timestamp, tz::TimeZone};

/// Unix seconds of `t`, negative before 1970, saturating at the ends of `i64`.
pub fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The current time in Unix seconds.
pub fn now_secs() -> i64 {
    unix_secs(SystemTime::now())
}

/// Unix seconds as RFC 3339 UTC with a `Z`, to the second: `2024-05-01T12:00:00Z`.
/// Times outside years 0000..=9999 are clamped to the range's ends, so the result is
/// always 20 bytes.
pub fn format_rfc3339(unix: i64) -> String {
    const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let t = unix.clamp(MIN, MAX);
    // Civil arithmetic rather than `Timestamp`, whose range stops a day short of
    // 9999-12-31 (it leaves room for any offset).
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let date = jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().days(days))
        .unwrap_or(jiff::civil::date(1970, 1, 1));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        date.year(),
        date.month(),
        date.day(),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Parses an RFC 3339 timestamp (`2023-01-08T18:02:03.647787998-06:00`, `...Z`, a `t`
/// or a space for the `T`) into Unix seconds, fractions dropped. A time without an
/// offset is taken as UTC, as OpenVEX documents written by hand often are.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t.as_second());
    }
    let dt: jiff::civil::DateTime = s.parse().ok()?;
    // Only a full date and time; `2024-01-01` alone is not a timestamp.
    if s.len() < 19 {
        return None;
    }
    Some(dt.to_zoned(TimeZone::UTC).ok()?.timestamp().as_second())
}

/// Parses an RFC 2822 date as Release files write it (`Sat, 21 Nov 2026 00:53:02 UTC`,
/// also `GMT`, `UT`, `Z` and `+hhmm` offsets, the weekday optional) into Unix seconds.
/// Years before 1970 are refused: no Release file predates Debian.
pub fn parse_rfc2822(s: &str) -> Option<i64> {
    let s = s.trim();
    // jiff takes `UT`, `GMT` and numeric offsets; Debian writes `UTC`, which RFC 2822
    // does not name, and some tools `Z`.
    let (head, zone) = s.rsplit_once(char::is_whitespace)?;
    let zone = match zone {
        "UTC" | "Z" | "UT" | "GMT" => "+0000",
        z => z,
    };
    let fixed = format!("{} {zone}", head.trim_end());
    // The weekday is checked by jiff when present; Release files always write it right.
    let z = jiff::fmt::rfc2822::parse(&fixed).ok()?;
    if z.year() < 1970 {
        return None;
    }
    Some(z.timestamp().as_second())
}

/// Parses a calendar date written `YYYY-MM-DD` (exactly those widths), refusing dates
/// that do not exist (`2023-02-29`).
pub fn parse_ymd(s: &str) -> Option<Date> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    s.parse().ok()
}

/// Today's date in UTC.
pub fn today_utc() -> Date {
    Timestamp::now().to_zoned(TimeZone::UTC).date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_clamps() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_673_222_523), "2023-01-09T00:02:03Z");
        assert_eq!(format_rfc3339(i64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(i64::MIN), "0000-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(format_rfc3339(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2023-01-08T18:02:03.647787998-06:00"),
            Some(1_673_222_523)
        );
        assert_eq!(parse_rfc3339("2023-01-09t00:02:03z"), Some(1_673_222_523));
        assert_eq!(parse_rfc3339("2023-01-09 00:02:03Z"), Some(1_673_222_523));
        assert_eq!(parse_rfc3339("2023-01-09T00:02:03"), Some(1_673_222_523));
        assert_eq!(parse_rfc3339("2023-01-09"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
        for t in [0, 1, 86_399, 951_782_400, 1_795_222_382, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t));
        }
    }

    #[test]
    fn rfc2822_as_release_files_write_it() {
        assert_eq!(
            parse_rfc2822("Sat, 21 Nov 2026 00:53:02 UTC"),
            Some(1_795_222_382)
        );
        assert_eq!(
            parse_rfc2822("21 Nov 2026 01:53:02 +0100"),
            Some(1_795_222_382)
        );
        assert_eq!(parse_rfc2822("Thu, 01 Jan 1970 00:00:00 UTC"), Some(0));
        assert_eq!(parse_rfc2822("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_rfc2822("Wed, 31 Dec 1969 23:59:59 UTC"), None);
        assert_eq!(parse_rfc2822("Sat, 32 Nov 2026 00:53:02 UTC"), None);
        assert_eq!(parse_rfc2822("Sat, 21 Nov 2026 24:53:02 UTC"), None);
        assert_eq!(parse_rfc2822("Sat, 21 Nov 2026 00:53:02 +0199"), None);
        assert_eq!(parse_rfc2822("2026-11-21"), None);
        assert_eq!(parse_rfc2822(""), None);
    }

    #[test]
    fn calendar_dates() {
        let d = |s| parse_ymd(s).map(|d| (d.year(), d.month(), d.day()));
        assert_eq!(d("2026-12-31"), Some((2026, 12, 31)));
        assert_eq!(d("2024-02-29"), Some((2024, 2, 29)));
        assert_eq!(d("2023-02-29"), None);
        assert_eq!(d("2026-13-01"), None);
        assert_eq!(d("26-1-1"), None);
        assert_eq!(d("2026-1-01"), None);
        assert!(today_utc().year() >= 2024);
        assert!(now_secs() > 1_700_000_000);
    }
}
