//! When a failed request is tried again, and after how long.
//!
//! Connection failures (refused, reset, timed out), `429 Too Many Requests` and the
//! `5xx` statuses that mean "try later" (500, 502, 503, 504) are retried with exponential
//! backoff; a `Retry-After` of a few seconds is honoured; a longer one, and everything
//! else (an unknown host, a 4xx), fails at once.

use std::time::Duration;

/// Tries after the first one.
pub const MAX_RETRIES: u32 = 4;
/// The first backoff.
pub const BASE_DELAY: Duration = Duration::from_millis(250);
/// The longest backoff between two tries.
pub const MAX_DELAY: Duration = Duration::from_secs(8);
/// The longest `Retry-After` honoured; a server asking for more is reported instead.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What went wrong with one try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The connection failed or broke (not an unknown host: that does not heal).
    Connection,
    /// The name does not resolve.
    UnknownHost,
    /// A failure that another try would repeat: a TLS handshake with a server that does
    /// not speak TLS, an untrusted certificate.
    Permanent,
    /// The server answered with this status and, maybe, a `Retry-After` in seconds.
    Status(u16, Option<u64>),
}

/// The pause before try number `retry + 1` (`retry` counts from 0), or `None` to give up.
pub fn decide(outcome: Outcome, retry: u32) -> Option<Duration> {
    if retry >= MAX_RETRIES {
        return None;
    }
    let backoff = BASE_DELAY
        .saturating_mul(1u32 << retry.min(16))
        .min(MAX_DELAY);
    match outcome {
        Outcome::Connection => Some(backoff),
        Outcome::UnknownHost | Outcome::Permanent => None,
        Outcome::Status(429 | 500 | 502 | 503 | 504, Some(secs)) => {
            let wait = Duration::from_secs(secs);
            (wait <= MAX_RETRY_AFTER).then_some(wait.max(backoff.min(Duration::from_secs(1))))
        }
        Outcome::Status(429 | 500 | 502 | 503 | 504, None) => Some(backoff),
        Outcome::Status(..) => None,
    }
}

/// Parses a `Retry-After` value in seconds (the HTTP-date form counts as absent).
pub fn parse_retry_after(v: &str) -> Option<u64> {
    v.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_give_up() {
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis());
        assert_eq!(ms(decide(Outcome::Connection, 0)), Some(250));
        assert_eq!(ms(decide(Outcome::Connection, 1)), Some(500));
        assert_eq!(ms(decide(Outcome::Connection, 3)), Some(2000));
        assert_eq!(decide(Outcome::Connection, MAX_RETRIES), None);
        assert_eq!(ms(decide(Outcome::Status(503, None), 2)), Some(1000));
        assert_eq!(ms(decide(Outcome::Status(429, None), 0)), Some(250));
        // Retry-After is honoured, but not beyond a minute.
        assert_eq!(ms(decide(Outcome::Status(429, Some(3)), 0)), Some(3000));
        assert_eq!(ms(decide(Outcome::Status(503, Some(0)), 0)), Some(250));
        assert_eq!(decide(Outcome::Status(429, Some(3600)), 0), None);
        // What does not heal is not retried.
        for s in [400, 401, 403, 404, 405, 413, 501] {
            assert_eq!(decide(Outcome::Status(s, None), 0), None, "{s}");
        }
        assert_eq!(decide(Outcome::UnknownHost, 0), None);
        assert_eq!(decide(Outcome::Permanent, 0), None);
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(parse_retry_after(" 7 "), Some(7));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
