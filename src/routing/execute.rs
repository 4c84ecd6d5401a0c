//! Running a plan: each candidate in order, retried with backoff while the failure allows it
//! and the provider's retry budget and the request's deadline have room, skipped while its
//! circuit is open. The executor is any async function from a candidate index to a result, so
//! this logic is tested without HTTP; the handlers pass one that sends the request upstream and
//! reads it up to the first byte the client would see.

use std::collections::HashMap;
use std::fmt::Write;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::breaker::{Admission, BreakerPolicy};
use super::failure::{Failure, FailureClass};
use super::health::ProviderHealth;
use super::plan::Plan;
use super::retry::RetryPolicy;
use crate::error::{ApiError, ErrorKind};

/// Retry, fallback and circuit-breaking state for every provider; one per gateway.
#[derive(Debug)]
pub struct Resilience {
    policy: RetryPolicy,
    providers: HashMap<String, ProviderHealth>,
    /// For a provider missing from `providers` (never configured); keeps lookups infallible.
    unknown: ProviderHealth,
    fallbacks: AtomicU64,
}

/// The attempt that produced an answer.
#[derive(Debug)]
pub struct Won<T> {
    pub value: T,
    /// Index of the candidate that answered.
    pub index: usize,
}

/// Clears a half-open probe if its attempt is dropped unfinished (the client went away), so
/// the circuit is not left waiting for a result that never comes.
struct ProbeGuard<'a> {
    health: &'a ProviderHealth,
    armed: bool,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.health.breaker.probe_abandoned();
        }
    }
}

impl Resilience {
    /// One health entry per configured provider slug in `providers`, built once at start.
    pub fn new<'a>(policy: RetryPolicy, breaker: BreakerPolicy, providers: impl IntoIterator<Item = &'a str>) -> Self {
        let providers =
            providers.into_iter().map(|id| (id.to_owned(), ProviderHealth::new(&policy, breaker))).collect();
        Self { policy, providers, unknown: ProviderHealth::new(&policy, breaker), fallbacks: AtomicU64::new(0) }
    }

    /// The provider's health; slugs never configured share one spare entry, so lookups cannot
    /// fail.
    pub fn health(&self, provider: &str) -> &ProviderHealth {
        self.providers.get(provider).unwrap_or(&self.unknown)
    }

    /// Observed first-byte latency of a provider (for `sort: latency` and `:nitro`).
    pub fn latency(&self, provider: &str) -> Option<Duration> {
        self.health(provider).latency()
    }

    /// Tries the plan's candidates in order until one answers. `attempt(i)` sends the request
    /// to candidate `i` and resolves when the answer is usable (or fails). Nothing runs past
    /// `deadline`. The error is the last candidate's, or 503 when every circuit was open.
    pub async fn execute<T, F, Fut>(&self, plan: &Plan, deadline: Instant, mut attempt: F) -> Result<Won<T>, ApiError>
    where
        F: FnMut(usize) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut last: Option<Failure> = None;
        let mut open_for: Option<Duration> = None;
        for (index, route) in plan.candidates.iter().enumerate() {
            let health = self.health(&route.provider);
            let admission = health.breaker.admit();
            if let Admission::Refused { retry_in } = admission {
                health.skipped_open.fetch_add(1, Ordering::Relaxed);
                open_for = Some(open_for.map_or(retry_in, |d| d.min(retry_in)));
                continue;
            }
            if last.is_some() {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
            }
            health.budget.deposit();
            let mut probe = ProbeGuard { health, armed: admission == Admission::Probe };
            let mut retry = 0;
            loop {
                let started = Instant::now();
                let result = match tokio::time::timeout_at(deadline, attempt(index)).await {
                    Ok(result) => result,
                    Err(_) => Err(Failure::new(
                        ApiError::new(
                            ErrorKind::UpstreamTimeout,
                            format!("provider '{}' did not answer within the request timeout", route.provider),
                        ),
                        FailureClass::Timeout,
                    )),
                };
                probe.armed = false;
                let failure = match result {
                    Ok(value) => {
                        health.count(None);
                        health.breaker.succeeded();
                        health.observe_latency(started.elapsed());
                        return Ok(Won { value, index });
                    }
                    Err(failure) => failure,
                };
                health.count(Some(failure.class));
                tracing::debug!(provider = %route.provider, class = ?failure.class, status = failure.error.status().as_u16(), retry, "upstream attempt failed");
                match failure.class {
                    FailureClass::Upstream | FailureClass::Timeout => health.breaker.failed(),
                    FailureClass::Client | FailureClass::RateLimited => health.breaker.succeeded(),
                    FailureClass::Unusable => {}
                }
                if failure.class == FailureClass::Client {
                    return Err(failure.error);
                }
                if let Some(wait) = self.retry_wait(health, &failure, retry, deadline) {
                    health.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                    retry += 1;
                    continue;
                }
                last = Some(failure);
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        Err(match last {
            Some(failure) => failure.error,
            None => ApiError::new(
                ErrorKind::Unavailable,
                "no provider is available for this request: every candidate is failing and its circuit is open",
            )
            .with_retry_after(open_for.map(|d| d.as_secs().max(1))),
        })
    }

    /// How long to wait before retrying the same candidate, if it should be retried at all.
    fn retry_wait(
        &self,
        health: &ProviderHealth,
        failure: &Failure,
        retry: u32,
        deadline: Instant,
    ) -> Option<Duration> {
        if retry >= self.policy.max_retries {
            return None;
        }
        if failure.another_key {
            // Another upstream key of the same provider is in rotation: ask again at once (the
            // budget still bounds it).
            return health.budget.withdraw().then_some(Duration::ZERO);
        }
        let retryable = matches!(failure.class, FailureClass::Upstream | FailureClass::RateLimited);
        if !retryable {
            return None;
        }
        if health.breaker.state() != super::breaker::CircuitState::Closed {
            return None;
        }
        let wait = self.policy.backoff(retry, failure.retry_after)?;
        if Instant::now() + wait >= deadline {
            return None;
        }
        if !health.budget.withdraw() {
            health.budget_exhausted.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(wait)
    }

    /// Every provider's series and the gateway-wide ones, in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let mut providers: Vec<(&str, &ProviderHealth)> =
            self.providers.iter().map(|(id, h)| (id.as_str(), h)).collect();
        providers.sort_by_key(|(id, _)| *id);
        ProviderHealth::render_all(&providers, out);
        let _ = writeln!(out, "# HELP arouter_fallbacks_total Requests sent on to a later candidate.");
        let _ = writeln!(out, "# TYPE arouter_fallbacks_total counter");
        let _ = writeln!(out, "arouter_fallbacks_total {}", self.fallbacks.load(Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests;
