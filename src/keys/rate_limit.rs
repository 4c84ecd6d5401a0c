//! Per-key rate limits: requests per minute and, optionally, tokens per minute, over a sliding
//! 60-second window kept in memory.
//!
//! Requests are an exact sliding log: the admission times of the last minute, at most
//! `requests_per_minute` of them (older ones leave as the window moves, and a lowered limit
//! drops the surplus), so a key is admitted exactly when fewer than `requests_per_minute`
//! requests were admitted in the last 60 s, and a refusal can say to the millisecond when a
//! slot frees. Checking and taking a slot happen under one lock, so concurrent requests can
//! never overshoot.
//!
//! Tokens are counted when a request settles (its actual usage is known only then), in
//! one-second slots, so the count needs at most 61 entries however busy the key is. A slot is
//! dated at its end, which errs on the side of the limit: tokens leave the window up to a
//! second late, never early. A key whose count is at or over `tokens_per_minute` is refused
//! until the count falls below it.

use std::collections::VecDeque;

use serde_json::{Value, json};

use crate::error::{ApiError, ErrorKind, RateLimitHeaders};

/// The window both limits are measured over.
pub const WINDOW_MS: i64 = 60_000;

/// Largest `requests_per_minute` accepted. The request log holds up to this many timestamps
/// (8 bytes each) per key, so the cap bounds its memory (800 KB for a key at full rate).
pub const MAX_REQUESTS_PER_MINUTE: u64 = 100_000;

/// Largest `tokens_per_minute` accepted (it must fit the database's signed 64-bit integer).
pub const MAX_TOKENS_PER_MINUTE: u64 = 1_000_000_000_000;

/// Sub-fields of `rate_limit` a client may send.
const FIELDS: &str = "requests_per_minute, tokens_per_minute";

/// A key's configured rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests admitted per sliding minute; always set when a key has a rate limit.
    pub requests_per_minute: u32,
    /// Tokens (prompt + completion) settled per sliding minute; `None` is no token limit.
    pub tokens_per_minute: Option<u64>,
}

fn bad(message: String) -> ApiError {
    ApiError::bad_request(message)
}

/// A positive integer no larger than `max`, named `rate_limit.{field}` in the error.
fn positive(field: &str, value: &Value, max: u64) -> Result<u64, ApiError> {
    value
        .as_u64()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| bad(format!("'rate_limit.{field}' must be a positive integer of at most {max}, got {value}")))
}

impl RateLimit {
    /// Parses the `rate_limit` object of a key create or PATCH body. The object replaces the
    /// key's whole rate limit: `requests_per_minute` is required, `tokens_per_minute` optional.
    pub fn parse(value: &Value) -> Result<Self, ApiError> {
        let object = value.as_object().ok_or_else(|| {
            bad(format!("'rate_limit' must be an object such as {{\"requests_per_minute\": 60}} or null, got {value}"))
        })?;
        let mut requests = None;
        let mut tokens = None;
        for (field, value) in object {
            match field.as_str() {
                "requests_per_minute" => requests = Some(positive(field, value, MAX_REQUESTS_PER_MINUTE)?),
                "tokens_per_minute" if value.is_null() => tokens = None,
                "tokens_per_minute" => tokens = Some(positive(field, value, MAX_TOKENS_PER_MINUTE)?),
                other => return Err(bad(format!("unknown field 'rate_limit.{other}'; accepted fields: {FIELDS}"))),
            }
        }
        let requests = requests.ok_or_else(|| bad("'rate_limit.requests_per_minute' is required".into()))?;
        let requests_per_minute = u32::try_from(requests).expect("capped below u32::MAX");
        Ok(Self { requests_per_minute, tokens_per_minute: tokens })
    }

    /// Rebuilds a limit from its database columns; `None` when the key has none.
    pub fn from_columns(rpm: Option<i64>, tpm: Option<i64>) -> Result<Option<Self>, String> {
        let Some(rpm) = rpm else {
            return match tpm {
                None => Ok(None),
                Some(_) => Err("rate_limit_tpm without rate_limit_rpm".into()),
            };
        };
        let requests_per_minute = u32::try_from(rpm).ok().filter(|&n| n > 0).ok_or(format!("rate_limit_rpm {rpm}"))?;
        let tokens_per_minute =
            tpm.map(|t| u64::try_from(t).ok().filter(|&n| n > 0).ok_or(format!("rate_limit_tpm {t}"))).transpose()?;
        Ok(Some(Self { requests_per_minute, tokens_per_minute }))
    }

    /// The limit as the key object shows it (the shape it is set with).
    pub fn to_json(self) -> Value {
        json!({ "requests_per_minute": self.requests_per_minute, "tokens_per_minute": self.tokens_per_minute })
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    Requests,
    Tokens,
}

/// A refused request: the limit it hit and when it could next be admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub exceeded: Exceeded,
    /// The limit that was hit, in its own unit (requests or tokens per minute).
    pub limit: u64,
    /// Unix milliseconds at which the key falls below the limit again.
    pub free_at_ms: i64,
}

impl Refusal {
    /// The 429 for the client: `Retry-After` in whole seconds (rounded up, so retrying then
    /// succeeds) and the `X-RateLimit-*` values, `Reset` in Unix seconds.
    pub fn into_error(self, now_ms: i64) -> ApiError {
        let retry_after = u64::try_from((self.free_at_ms - now_ms).max(1)).unwrap_or(1).div_ceil(1000);
        let unit = match (self.exceeded, self.limit) {
            (Exceeded::Requests, 1) => "request",
            (Exceeded::Requests, _) => "requests",
            (Exceeded::Tokens, 1) => "token",
            (Exceeded::Tokens, _) => "tokens",
        };
        let headers =
            RateLimitHeaders { limit: self.limit, remaining: 0, reset: (self.free_at_ms + 999).div_euclid(1000) };
        ApiError::new(
            ErrorKind::RateLimited,
            format!(
                "rate limit exceeded: this API key allows {} {unit} per minute; retry in {retry_after} s",
                self.limit
            ),
        )
        .with_retry_after(Some(retry_after))
        .with_rate_limit(headers)
    }
}

/// What a key's limits have seen in the last minute. Shared by a key's configurations across
/// PATCHes (like its spend), so changing a limit keeps the history it is measured against.
#[derive(Debug, Default)]
pub struct RateWindow {
    /// When each request admitted in the window leaves it (Unix ms), oldest first.
    requests: VecDeque<i64>,
    /// Tokens settled per one-second slot, keyed by when the slot leaves the window, oldest
    /// first.
    tokens: VecDeque<(i64, u64)>,
    /// Sum of `tokens`.
    token_sum: u64,
}

impl RateWindow {
    /// Admits a request at `now_ms` and takes a request slot for it, or says which limit refuses
    /// it. A refused request takes nothing.
    pub fn admit(&mut self, limit: &RateLimit, now_ms: i64) -> Result<(), Refusal> {
        if let Some(tpm) = limit.tokens_per_minute {
            self.expire_tokens(now_ms);
            if self.token_sum >= tpm {
                return Err(Refusal { exceeded: Exceeded::Tokens, limit: tpm, free_at_ms: self.tokens_free_at(tpm) });
            }
        }
        while self.requests.front().is_some_and(|&until| until <= now_ms) {
            self.requests.pop_front();
        }
        let rpm = limit.requests_per_minute as usize;
        // After a lowered limit only the newest `rpm` entries matter: the oldest of them is
        // the one whose leaving frees a slot.
        while self.requests.len() > rpm {
            self.requests.pop_front();
        }
        if let Some(&oldest) = self.requests.front().filter(|_| self.requests.len() >= rpm) {
            return Err(Refusal {
                exceeded: Exceeded::Requests,
                limit: u64::from(limit.requests_per_minute),
                free_at_ms: oldest,
            });
        }
        // Kept in order even if the wall clock steps back.
        let until = self.requests.back().map_or(now_ms + WINDOW_MS, |&last| last.max(now_ms + WINDOW_MS));
        self.requests.push_back(until);
        Ok(())
    }

    /// Counts `tokens` settled at `now_ms`.
    pub fn add_tokens(&mut self, tokens: u64, now_ms: i64) {
        if tokens == 0 {
            return;
        }
        self.expire_tokens(now_ms);
        let until = (now_ms.div_euclid(1000) + 1) * 1000 + WINDOW_MS;
        match self.tokens.back_mut() {
            // Same slot, or the clock stepped back: add to the newest slot (counted longer).
            Some((last, count)) if *last >= until => *count = count.saturating_add(tokens),
            _ => self.tokens.push_back((until, tokens)),
        }
        self.token_sum = self.token_sum.saturating_add(tokens);
    }

    /// Tokens counted in the window at `now_ms`.
    pub fn tokens_in_window(&mut self, now_ms: i64) -> u64 {
        self.expire_tokens(now_ms);
        self.token_sum
    }

    fn expire_tokens(&mut self, now_ms: i64) {
        while let Some(&(until, count)) = self.tokens.front() {
            if until > now_ms {
                break;
            }
            self.token_sum = self.token_sum.saturating_sub(count);
            self.tokens.pop_front();
        }
    }

    /// When enough slots have left the window for the count to fall below `tpm`.
    fn tokens_free_at(&self, tpm: u64) -> i64 {
        let mut left = self.token_sum;
        let newest = self.tokens.back().map_or(0, |&(until, _)| until);
        self.tokens
            .iter()
            .find_map(|&(until, count)| {
                left = left.saturating_sub(count);
                (left < tpm).then_some(until)
            })
            .unwrap_or(newest)
    }
}

#[cfg(test)]
mod tests;
