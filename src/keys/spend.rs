//! Spend per key and per UTC period, in nano-USD integers.
//!
//! A period's usage is a bucket tagged with the period's start. Adding to a bucket whose start
//! is older than the current period starts it afresh, and reading an old bucket yields 0, so
//! resets happen by arithmetic on the timestamp, never by a timer that could be missed.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};

/// When a key's limit starts over. Daily at 00:00 UTC, weekly on Monday, monthly on the 1st.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitReset {
    Daily,
    Weekly,
    Monthly,
}

impl LimitReset {
    /// The name stored in the database and used in the API (`daily`, `weekly`, `monthly`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }

    /// Reads a stored or client-sent name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "daily" => Some(Self::Daily),
            "weekly" => Some(Self::Weekly),
            "monthly" => Some(Self::Monthly),
            _ => None,
        }
    }

    /// Start (00:00 UTC) of the period that contains `at`.
    pub fn period_start(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let day = at.date_naive();
        let first = match self {
            Self::Daily => day,
            Self::Weekly => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
            Self::Monthly => day.with_day(1).expect("day 1 exists in every month"),
        };
        Utc.from_utc_datetime(&first.and_time(NaiveTime::MIN))
    }
}

/// Spend inside one period, tagged with the period's start (Unix seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Bucket {
    start: i64,
    nano: i64,
}

impl Bucket {
    fn value_at(self, start: i64) -> i64 {
        if self.start == start { self.nano } else { 0 }
    }

    fn add(&mut self, start: i64, nano: i64) {
        if start > self.start {
            *self = Bucket { start, nano: 0 };
        }
        if start == self.start {
            self.nano = self.nano.saturating_add(nano);
        }
        // An addition dated in an older period than the bucket (a late ledger entry) only
        // counts towards the lifetime total.
    }
}

/// A key's spend: lifetime and the current day, week and month, plus what requests in flight
/// have reserved but not yet settled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spend {
    total: i64,
    daily: Bucket,
    weekly: Bucket,
    monthly: Bucket,
    /// Worst-case cost held by requests in flight (runtime only, never stored).
    reserved: i64,
}

/// A snapshot of spend as shown in the key object, all in nano-USD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpendView {
    /// Lifetime spend, what a limit without `limit_reset` is measured against.
    pub total: i64,
    /// Spend in the UTC day containing the `now` the view was taken at; `weekly` and `monthly`
    /// likewise.
    pub daily: i64,
    pub weekly: i64,
    pub monthly: i64,
}

impl SpendView {
    /// The spend a limit with this reset is measured against.
    pub fn for_reset(&self, reset: Option<LimitReset>) -> i64 {
        match reset {
            None => self.total,
            Some(LimitReset::Daily) => self.daily,
            Some(LimitReset::Weekly) => self.weekly,
            Some(LimitReset::Monthly) => self.monthly,
        }
    }
}

fn start_secs(reset: LimitReset, at: DateTime<Utc>) -> i64 {
    reset.period_start(at).timestamp()
}

impl Spend {
    /// Rebuilds spend from ledger sums computed for the periods that contain `now`.
    pub fn from_sums(now: DateTime<Utc>, sums: SpendView) -> Self {
        Self {
            total: sums.total,
            daily: Bucket { start: start_secs(LimitReset::Daily, now), nano: sums.daily },
            weekly: Bucket { start: start_secs(LimitReset::Weekly, now), nano: sums.weekly },
            monthly: Bucket { start: start_secs(LimitReset::Monthly, now), nano: sums.monthly },
            reserved: 0,
        }
    }

    /// Budget held by requests in flight.
    pub fn reserved(&self) -> i64 {
        self.reserved
    }

    /// Holds `nano` for a request in flight.
    pub fn hold(&mut self, nano: i64) {
        self.reserved = self.reserved.saturating_add(nano);
    }

    /// Gives back a hold.
    pub fn release(&mut self, nano: i64) {
        self.reserved = (self.reserved - nano).max(0);
    }

    /// Adds a settled cost dated `at`.
    pub fn add(&mut self, nano: i64, at: DateTime<Utc>) {
        self.total = self.total.saturating_add(nano);
        self.daily.add(start_secs(LimitReset::Daily, at), nano);
        self.weekly.add(start_secs(LimitReset::Weekly, at), nano);
        self.monthly.add(start_secs(LimitReset::Monthly, at), nano);
    }

    /// Spend as seen at `now`: buckets of past periods read as 0.
    pub fn view(&self, now: DateTime<Utc>) -> SpendView {
        SpendView {
            total: self.total,
            daily: self.daily.value_at(start_secs(LimitReset::Daily, now)),
            weekly: self.weekly.value_at(start_secs(LimitReset::Weekly, now)),
            monthly: self.monthly.value_at(start_secs(LimitReset::Monthly, now)),
        }
    }
}

/// Nano-USD per USD.
pub const NANO_PER_USD: i64 = 1_000_000_000;

/// Nano-USD as the USD number shown in JSON.
pub fn nano_to_usd(nano: i64) -> f64 {
    nano as f64 / NANO_PER_USD as f64
}

/// A USD amount from JSON as nano-USD, rounded to the nearest nano; `None` if out of range.
pub fn usd_to_nano(usd: f64) -> Option<i64> {
    let nano = (usd * NANO_PER_USD as f64).round();
    (nano.is_finite() && nano.abs() < 9.0e18).then_some(nano as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn period_starts_follow_utc_calendar() {
        let t = at("2026-11-29T13:37:00Z"); // a Sunday
        assert_eq!(LimitReset::Daily.period_start(t), at("2026-11-29T00:00:00Z"));
        assert_eq!(LimitReset::Weekly.period_start(t), at("2026-11-23T00:00:00Z"));
        assert_eq!(LimitReset::Monthly.period_start(t), at("2026-11-01T00:00:00Z"));
        let monday = at("2026-11-30T00:00:00Z");
        assert_eq!(LimitReset::Weekly.period_start(monday), monday);
        assert_eq!(LimitReset::Monthly.period_start(at("2028-02-29T23:59:59Z")), at("2028-02-01T00:00:00Z"));
    }

    #[test]
    fn buckets_roll_over_without_a_timer() {
        let mut spend = Spend::default();
        spend.add(5, at("2026-01-31T23:59:59Z"));
        let before = spend.view(at("2026-01-31T23:59:59.999Z"));
        assert_eq!((before.daily, before.weekly, before.monthly, before.total), (5, 5, 5, 5));
        let after = spend.view(at("2026-02-01T00:00:00Z")); // a Sunday: same week
        assert_eq!((after.daily, after.weekly, after.monthly, after.total), (0, 5, 0, 5));
        spend.add(7, at("2026-02-02T10:00:00Z")); // Monday
        let v = spend.view(at("2026-02-02T10:00:00Z"));
        assert_eq!((v.daily, v.weekly, v.monthly, v.total), (7, 7, 7, 12));
    }

    #[test]
    fn usd_conversion_is_exact_for_cents() {
        assert_eq!(usd_to_nano(150.0), Some(150 * NANO_PER_USD));
        assert_eq!(usd_to_nano(0.01), Some(10_000_000));
        assert_eq!(usd_to_nano(f64::INFINITY), None);
        assert_eq!(nano_to_usd(1_500_000_000), 1.5);
    }
}
