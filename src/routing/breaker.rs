//! A circuit breaker per provider: after `threshold` consecutive failures the provider gets no
//! traffic for `cool_down`; then one probe request is let through (half-open), and its result
//! closes the circuit or opens it again.
//!
//! Only failures that say the provider is unhealthy count (5xx, connection errors, timeouts);
//! a client error or a rate limit says it is up.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Breaker settings.
#[derive(Debug, Clone, Copy)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the circuit.
    pub threshold: u32,
    /// How long an open circuit refuses traffic before a probe.
    pub cool_down: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self { threshold: 5, cool_down: Duration::from_secs(30) }
    }
}

/// The state a breaker reports (and `/metrics` shows as 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}

#[derive(Debug)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is in flight; everyone else waits for its result.
    HalfOpen,
}

/// One provider's breaker.
#[derive(Debug)]
pub struct Breaker {
    policy: BreakerPolicy,
    state: Mutex<State>,
}

/// Whether a request may go to the provider now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send it.
    Allowed,
    /// Send it as the one probe of a half-open circuit.
    Probe,
    /// Skip the provider; it may be asked again after this long.
    Refused { retry_in: Duration },
}

impl Breaker {
    /// A closed breaker: traffic flows until `policy.threshold` consecutive failures.
    pub fn new(policy: BreakerPolicy) -> Self {
        Self { policy, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    /// Asks to send one request. An open circuit whose cool-down is over lets exactly one probe
    /// through.
    pub fn admit(&self) -> Admission {
        let mut state = self.state.lock().expect("breaker lock poisoned");
        match *state {
            State::Closed { .. } => Admission::Allowed,
            State::HalfOpen => Admission::Refused { retry_in: Duration::from_secs(1) },
            State::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *state = State::HalfOpen;
                    Admission::Probe
                } else {
                    Admission::Refused { retry_in: until - now }
                }
            }
        }
    }

    /// The provider answered (or refused the request for the client's own reasons).
    pub fn succeeded(&self) {
        *self.state.lock().expect("breaker lock poisoned") = State::Closed { failures: 0 };
    }

    /// The provider failed in a way that says it is unhealthy.
    pub fn failed(&self) {
        let mut state = self.state.lock().expect("breaker lock poisoned");
        let open = State::Open { until: Instant::now() + self.policy.cool_down };
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.policy.threshold => {
                State::Closed { failures: failures + 1 }
            }
            State::Closed { .. } | State::HalfOpen => open,
            // A request admitted before the circuit opened: keep the cool-down already running.
            State::Open { until } => State::Open { until },
        };
    }

    /// A probe ended without telling anything about the provider (the client went away):
    /// let the next request probe instead.
    pub fn probe_abandoned(&self) {
        let mut state = self.state.lock().expect("breaker lock poisoned");
        if matches!(*state, State::HalfOpen) {
            *state = State::Open { until: Instant::now() };
        }
    }

    /// The state now, for `/metrics`. An open circuit whose cool-down is over reads `Open` until
    /// a request comes to probe it.
    pub fn state(&self) -> CircuitState {
        match *self.state.lock().expect("breaker lock poisoned") {
            State::Closed { .. } => CircuitState::Closed,
            State::HalfOpen => CircuitState::HalfOpen,
            State::Open { .. } => CircuitState::Open,
        }
    }
}

#[cfg(test)]
mod tests;
