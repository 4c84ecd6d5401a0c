//! Wall-clock time behind a seam, so tests can move time (key expiry, limit periods) instead of
//! waiting for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// The source of "now" for everything that compares against wall-clock time.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A clock that only moves when told to; holds Unix milliseconds.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at `start`.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Self::Manual(Arc::new(AtomicI64::new(start.timestamp_millis())))
    }

    /// The current time: the system's, or wherever a manual clock stands.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Manual(ms) => Utc
                .timestamp_millis_opt(ms.load(Ordering::Relaxed))
                .single()
                .expect("manual clock holds a valid timestamp"),
        }
    }

    /// Moves a manual clock forward; a no-op on the system clock.
    pub fn advance(&self, by: chrono::Duration) {
        if let Self::Manual(ms) = self {
            ms.fetch_add(by.num_milliseconds(), Ordering::Relaxed);
        }
    }
}

/// The timestamp format used in every JSON body: RFC 3339, UTC, `Z`, millisecond precision.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
