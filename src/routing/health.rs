//! What the gateway knows about each provider's health: its circuit breaker, its retry budget,
//! its observed latency, and counters of what happened to the attempts sent to it. Built once
//! at start from the configured providers; `/metrics` renders it.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::breaker::{Breaker, BreakerPolicy};
use super::failure::FailureClass;
use super::retry::{RetryBudget, RetryPolicy};

/// Attempt outcomes counted per provider, in `/metrics` label order.
const OUTCOMES: [&str; 6] = ["ok", "client_error", "upstream_error", "timeout", "rate_limited", "unusable"];

/// Picks one counter out of a provider's health.
type Counter = fn(&ProviderHealth) -> &AtomicU64;

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
    /// A provider with a closed circuit, a full retry budget and no latency seen yet.
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

    /// Writes every provider's series in the Prometheus text format, one family at a time
    /// (the format wants each family's samples together, after its `HELP` and `TYPE`).
    pub(super) fn render_all(providers: &[(&str, &ProviderHealth)], out: &mut String) {
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(out, "arouter_circuit_state", "gauge", "Circuit breaker per provider: 0 closed, 1 half-open, 2 open.");
        for (provider, health) in providers {
            let _ = writeln!(out, "arouter_circuit_state{{provider=\"{provider}\"}} {}", health.breaker.state() as u8);
        }
        family(out, "arouter_upstream_attempts_total", "counter", "Upstream attempts by provider and outcome.");
        for (provider, health) in providers {
            for (outcome, count) in OUTCOMES.iter().zip(&health.attempts) {
                let count = count.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "arouter_upstream_attempts_total{{provider=\"{provider}\",outcome=\"{outcome}\"}} {count}"
                );
            }
        }
        let counters: [(&str, &str, Counter); 3] = [
            ("arouter_upstream_retries_total", "Retries of the same provider.", |h| &h.retries),
            ("arouter_retry_budget_exhausted_total", "Retries refused by the provider's retry budget.", |h| {
                &h.budget_exhausted
            }),
            ("arouter_circuit_skipped_total", "Candidates skipped because their circuit was open.", |h| {
                &h.skipped_open
            }),
        ];
        for (name, help, value) in counters {
            family(out, name, "counter", help);
            for (provider, health) in providers {
                let _ = writeln!(out, "{name}{{provider=\"{provider}\"}} {}", value(health).load(Ordering::Relaxed));
            }
        }
        let name = "arouter_upstream_first_byte_seconds_avg";
        family(out, name, "gauge", "Moving average of the time to a usable first byte.");
        for (provider, health) in providers {
            if let Some(latency) = health.latency() {
                let _ = writeln!(out, "{name}{{provider=\"{provider}\"}} {:.6}", latency.as_secs_f64());
            }
        }
    }
}
