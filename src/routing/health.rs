//! What the gateway knows about each provider's health: its circuit breaker, its retry budget,
//! its observed latency, and counters of what happened to the attempts sent to it. Built once
//! at start from the configured providers; `/metrics` renders it.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::breaker::{Breaker, BreakerPolicy, CircuitState};
use super::failure::FailureClass;
use super::retry::{RetryBudget, RetryPolicy};

/// Attempt outcomes counted per provider, in `/metrics` label order.
const OUTCOMES: [&str; 6] = ["ok", "client_error", "upstream_error", "timeout", "rate_limited", "unusable"];

/// One provider's health and counters.
#[derive(Debug)]
pub struct ProviderHealth {
    pub breaker: Breaker,
    pub budget: RetryBudget,
    /// Moving average of the time to a usable first byte, in microseconds (0: not seen yet).
    latency_us: AtomicU64,
    attempts: [AtomicU64; OUTCOMES.len()],
    pub(super) retries: AtomicU64,
    pub(super) budget_exhausted: AtomicU64,
    pub(super) skipped_open: AtomicU64,
}

impl ProviderHealth {
    pub fn new(retry: &RetryPolicy, breaker: BreakerPolicy) -> Self {
        Self {
            breaker: Breaker::new(breaker),
            budget: RetryBudget::new(retry),
            latency_us: AtomicU64::new(0),
            attempts: Default::default(),
            retries: AtomicU64::new(0),
            budget_exhausted: AtomicU64::new(0),
            skipped_open: AtomicU64::new(0),
        }
    }

    /// Counts an attempt's outcome (`None`: it succeeded).
    pub(super) fn count(&self, outcome: Option<FailureClass>) {
        let slot = match outcome {
            None => 0,
            Some(FailureClass::Client) => 1,
            Some(FailureClass::Upstream) => 2,
            Some(FailureClass::Timeout) => 3,
            Some(FailureClass::RateLimited) => 4,
            Some(FailureClass::Unusable) => 5,
        };
        self.attempts[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// Folds one observed first-byte latency into the moving average (weight 1/5).
    pub(super) fn observe_latency(&self, latency: Duration) {
        let sample = latency.as_micros().min(u128::from(u64::MAX)) as u64;
        let old = self.latency_us.load(Ordering::Relaxed);
        let new = if old == 0 { sample.max(1) } else { (old * 4 + sample) / 5 };
        self.latency_us.store(new, Ordering::Relaxed);
    }

    /// The moving average of first-byte latency, if any request has been answered.
    pub fn latency(&self) -> Option<Duration> {
        match self.latency_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    /// Writes this provider's series in the Prometheus text format.
    pub(super) fn render(&self, provider: &str, out: &mut String) {
        let state = self.breaker.state();
        let _ = writeln!(out, "arouter_circuit_state{{provider=\"{provider}\"}} {}", state as u8);
        let _ =
            writeln!(out, "arouter_circuit_open{{provider=\"{provider}\"}} {}", u8::from(state == CircuitState::Open));
        for (outcome, count) in OUTCOMES.iter().zip(&self.attempts) {
            let _ = writeln!(
                out,
                "arouter_upstream_attempts_total{{provider=\"{provider}\",outcome=\"{outcome}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let series = [
            ("arouter_upstream_retries_total", &self.retries),
            ("arouter_retry_budget_exhausted_total", &self.budget_exhausted),
            ("arouter_circuit_skipped_total", &self.skipped_open),
        ];
        for (name, value) in series {
            let _ = writeln!(out, "{name}{{provider=\"{provider}\"}} {}", value.load(Ordering::Relaxed));
        }
        if let Some(latency) = self.latency() {
            let _ = writeln!(
                out,
                "arouter_upstream_first_byte_seconds_avg{{provider=\"{provider}\"}} {:.6}",
                latency.as_secs_f64()
            );
        }
    }
}
