//! Retries: how many per request, how long to wait between them (exponential backoff with
//! full jitter, or the upstream's `Retry-After`), and a budget per provider so that a provider
//! that fails every request sees at most about `1 + ratio` times the client request rate —
//! never a retry storm (the linkerd / Envoy retry budget).

use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;

/// Retry settings.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries of one candidate within one request (after its first attempt).
    pub max_retries: u32,
    /// First backoff ceiling; doubles with each retry.
    pub base: Duration,
    /// Largest backoff ceiling.
    pub max: Duration,
    /// Longest `Retry-After` the gateway waits out itself; a longer one sends the request to
    /// the next candidate, or back to the client as 429 with that `Retry-After`.
    pub max_retry_after: Duration,
    /// Retries earned per first attempt (0.2: retries add at most 20 % load).
    pub budget_ratio: f64,
    /// Retries a provider may spend before any request earned them (a burst allowance), and
    /// the most the budget saves up.
    pub budget_reserve: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base: Duration::from_millis(200),
            max: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(5),
            budget_ratio: 0.2,
            budget_reserve: 10.0,
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based): a random duration up to
    /// `min(max, base × 2^retry)`, and never less than the upstream's `Retry-After`.
    /// `None` when the upstream asks for a longer wait than the gateway is willing to hold the
    /// request.
    pub fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let ceiling = self.base.saturating_mul(1u32 << retry.min(16)).min(self.max);
        let jittered = Duration::from_nanos(rand::rng().random_range(0..=ceiling.as_nanos() as u64));
        match retry_after {
            Some(wait) if wait > self.max_retry_after => None,
            Some(wait) => Some(jittered.max(wait)),
            None => Some(jittered),
        }
    }
}

/// Retries a provider has earned: each first attempt deposits `ratio`, each retry spends one.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    cap: f64,
    tokens: Mutex<f64>,
}

impl RetryBudget {
    /// A budget that starts full (`budget_reserve` retries), so a fresh provider can retry at once.
    pub fn new(policy: &RetryPolicy) -> Self {
        Self { ratio: policy.budget_ratio, cap: policy.budget_reserve, tokens: Mutex::new(policy.budget_reserve) }
    }

    /// A first attempt was sent: it earns a fraction of a retry.
    pub fn deposit(&self) {
        let mut tokens = self.tokens.lock().expect("budget lock poisoned");
        *tokens = (*tokens + self.ratio).min(self.cap);
    }

    /// Takes one retry from the budget; false when none is left.
    pub fn withdraw(&self) -> bool {
        let mut tokens = self.tokens.lock().expect("budget lock poisoned");
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests;
