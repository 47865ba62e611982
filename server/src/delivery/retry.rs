//! When a deferred recipient is tried again, and when it is given up: a schedule of waits after
//! the first, second, ... failed attempt (the last repeats) and a maximum time in the queue, like
//! Postfix's `minimal_backoff_time`/`maximal_backoff_time`/`maximal_queue_lifetime` (RFC 5321
//! §4.5.4.1: retry at least 30 minutes apart, give up after 4-5 days).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The retry schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The wait after the 1st, 2nd, ... temporary failure; the last one repeats.
    pub waits: Vec<Duration>,
    /// How long a message may stay in the queue before a temporary failure ends it.
    pub max_age: Duration,
}

impl Default for RetrySchedule {
    /// 5 min, 15 min, 1 h, then every 4 h, for up to 5 days.
    fn default() -> Self {
        RetrySchedule {
            waits: [5 * 60, 15 * 60, 3600, 4 * 3600]
                .map(Duration::from_secs)
                .to_vec(),
            max_age: Duration::from_secs(5 * 24 * 3600),
        }
    }
}

/// What to do after a temporary failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Try again at this time (seconds since the Unix epoch).
    At(i64),
    /// The message has been queued too long: give up.
    Expired,
}

impl RetrySchedule {
    /// After the `attempts`-th attempt (1 for the first) failed at `now`, for a message queued
    /// at `queued_at`.
    pub fn after(&self, attempts: u32, now: i64, queued_at: i64) -> Retry {
        let index = (attempts.max(1) as usize - 1).min(self.waits.len().saturating_sub(1));
        let wait = self.waits.get(index).copied().unwrap_or(Duration::ZERO);
        let at = now.saturating_add(wait.as_secs() as i64);
        let deadline = queued_at.saturating_add(self.max_age.as_secs() as i64);
        if now >= deadline {
            Retry::Expired
        } else {
            Retry::At(at.min(deadline))
        }
    }
}

/// A duration in words for reasons: `5 days`, `4 h`, `15 min`, `30 s`.
pub fn in_words(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s >= 86_400 && s.is_multiple_of(86_400) => format!("{} days", s / 86_400),
        _ if s >= 3600 && s.is_multiple_of(3600) => format!("{} h", s / 3600),
        _ if s >= 60 && s.is_multiple_of(60) => format!("{} min", s / 60),
        _ => format!("{s} s"),
    }
}

/// A malformed duration or schedule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a duration such as 30s, 5m, 1h or 5d")]
pub struct BadDuration(pub String);

/// Parses `90`, `30s`, `5m`, `1h`, `5d`.
pub fn parse_duration(text: &str) -> Result<Duration, BadDuration> {
    let t = text.trim();
    let bad = || BadDuration(text.to_string());
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(factor)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

/// Parses a list of waits, `5m,15m,1h,4h`.
pub fn parse_waits(text: &str) -> Result<Vec<Duration>, BadDuration> {
    let waits = text
        .split(',')
        .map(parse_duration)
        .collect::<Result<Vec<_>, _>>()?;
    if waits.is_empty() {
        return Err(BadDuration(text.to_string()));
    }
    Ok(waits)
}

/// A list of waits as a command-line value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waits(pub Vec<Duration>);

impl FromStr for Waits {
    type Err = BadDuration;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_waits(s).map(Waits)
    }
}

impl fmt::Display for Waits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|d| format!("{}s", d.as_secs())).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_backs_off_then_repeats_and_expires_after_five_days() {
        let s = RetrySchedule::default();
        assert_eq!(s.after(1, 1000, 1000), Retry::At(1000 + 300));
        assert_eq!(s.after(2, 1000, 1000), Retry::At(1000 + 900));
        assert_eq!(s.after(3, 1000, 1000), Retry::At(1000 + 3600));
        assert_eq!(s.after(4, 1000, 1000), Retry::At(1000 + 4 * 3600));
        assert_eq!(s.after(40, 1000, 1000), Retry::At(1000 + 4 * 3600));
        // The last retry is at the deadline, not after it; after it, give up.
        let queued = 0;
        let near_end = 5 * 86_400 - 60;
        assert_eq!(s.after(30, near_end, queued), Retry::At(5 * 86_400));
        assert_eq!(s.after(31, 5 * 86_400, queued), Retry::Expired);
    }

    #[test]
    fn durations_and_lists_parse() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_duration("5 weeks").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(
            "1s,2s".parse::<Waits>().unwrap().0,
            [Duration::from_secs(1), Duration::from_secs(2)]
        );
        assert!("1s,,2s".parse::<Waits>().is_err());
        assert_eq!(in_words(Duration::from_secs(5 * 86_400)), "5 days");
        assert_eq!(in_words(Duration::from_secs(90)), "90 s");
    }
}
