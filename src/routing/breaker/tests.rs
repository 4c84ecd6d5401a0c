use std::time::Duration;

use super::*;

fn breaker() -> Breaker {
    Breaker::new(BreakerPolicy { threshold: 3, cool_down: Duration::from_secs(10) })
}

#[tokio::test(start_paused = true)]
async fn opens_after_consecutive_failures_and_probes_after_the_cool_down() {
    let b = breaker();
    b.failed();
    b.failed();
    assert_eq!(b.admit(), Admission::Allowed, "two failures are below the threshold");
    b.failed();
    assert_eq!(b.state(), CircuitState::Open);
    assert!(matches!(b.admit(), Admission::Refused { retry_in } if retry_in == Duration::from_secs(10)));
    tokio::time::advance(Duration::from_secs(9)).await;
    assert!(matches!(b.admit(), Admission::Refused { retry_in } if retry_in == Duration::from_secs(1)));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(b.admit(), Admission::Probe);
    assert_eq!(b.state(), CircuitState::HalfOpen);
    assert!(matches!(b.admit(), Admission::Refused { .. }), "only one probe at a time");
    b.succeeded();
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(b.admit(), Admission::Allowed);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_opens_the_circuit_again() {
    let b = breaker();
    (0..3).for_each(|_| b.failed());
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(b.admit(), Admission::Probe);
    b.failed();
    assert_eq!(b.state(), CircuitState::Open);
    assert!(matches!(b.admit(), Admission::Refused { retry_in } if retry_in == Duration::from_secs(10)));
}

#[tokio::test(start_paused = true)]
async fn a_success_resets_the_failure_count() {
    let b = breaker();
    b.failed();
    b.failed();
    b.succeeded();
    b.failed();
    b.failed();
    assert_eq!(b.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_probe_lets_the_next_request_probe() {
    let b = breaker();
    (0..3).for_each(|_| b.failed());
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(b.admit(), Admission::Probe);
    b.probe_abandoned();
    assert_eq!(b.admit(), Admission::Probe);
}
