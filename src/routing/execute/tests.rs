use std::cell::RefCell;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::config::Config;
use crate::routing::resolve;

fn plan(models: &[&str]) -> Plan {
    let config = Config::for_tests();
    Plan { candidates: models.iter().map(|m| resolve(&config, &config.catalog, m).unwrap()).collect() }
}

fn resilience(policy: RetryPolicy) -> Resilience {
    Resilience::new(
        policy,
        BreakerPolicy { threshold: 3, cool_down: Duration::from_secs(30) },
        ["openai", "anthropic", "google"],
    )
}

fn upstream(status: u16, retry_after: Option<u64>) -> Failure {
    let err = crate::providers::ProviderError::Upstream {
        provider: "x".into(),
        status: reqwest::StatusCode::from_u16(status).unwrap(),
        message: None,
        retry_after,
        another_key: false,
    };
    Failure::from(err)
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(600)
}

/// Runs `plan` against a script of results per candidate; returns the outcome and every
/// attempt made, as candidate indexes.
async fn run(
    r: &Resilience,
    plan: &Plan,
    script: &[&[Result<(), Failure>]],
    deadline: Instant,
) -> (Result<usize, ApiError>, Vec<usize>) {
    let calls = RefCell::new(Vec::new());
    let result = r
        .execute(plan, deadline, |i| {
            let n = calls.borrow().iter().filter(|&&c| c == i).count();
            calls.borrow_mut().push(i);
            let outcome = script[i].get(n).cloned().unwrap_or_else(|| script[i].last().unwrap().clone());
            async move { outcome }
        })
        .await
        .map(|won| won.index);
    (result, calls.into_inner())
}

#[tokio::test(start_paused = true)]
async fn a_5xx_is_retried_then_the_next_candidate_answers() {
    let r = resilience(RetryPolicy::default());
    let p = plan(&["anthropic/claude-sonnet-4.6", "openai/gpt-5.4"]);
    let (result, calls) = run(&r, &p, &[&[Err(upstream(503, None))], &[Ok(())]], far()).await;
    assert_eq!(result.unwrap(), 1);
    assert_eq!(calls, [0, 0, 0, 1], "two retries on the first, then the fallback");
    assert_eq!(r.fallbacks.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn a_retry_that_succeeds_stays_on_the_first_candidate() {
    let r = resilience(RetryPolicy::default());
    let p = plan(&["openai/gpt-5.4", "anthropic/claude-sonnet-4.6"]);
    let (result, calls) = run(&r, &p, &[&[Err(upstream(502, None)), Ok(())], &[Ok(())]], far()).await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(calls, [0, 0]);
}

#[tokio::test(start_paused = true)]
async fn a_client_error_is_neither_retried_nor_sent_elsewhere() {
    let r = resilience(RetryPolicy::default());
    let p = plan(&["openai/gpt-5.4", "anthropic/claude-sonnet-4.6"]);
    let (result, calls) = run(&r, &p, &[&[Err(upstream(400, None))], &[Ok(())]], far()).await;
    assert_eq!(result.unwrap_err().status(), 400);
    assert_eq!(calls, [0]);
}

#[tokio::test(start_paused = true)]
async fn a_long_retry_after_falls_back_at_once_and_reaches_the_client_when_alone() {
    let r = resilience(RetryPolicy::default());
    let p = plan(&["openai/gpt-5.4", "anthropic/claude-sonnet-4.6"]);
    let (result, calls) = run(&r, &p, &[&[Err(upstream(429, Some(7)))], &[Ok(())]], far()).await;
    assert_eq!((result.unwrap(), calls), (1, vec![0, 1]));

    let alone = plan(&["openai/gpt-5.4"]);
    let (result, calls) = run(&r, &alone, &[&[Err(upstream(429, Some(7)))]], far()).await;
    let err = result.unwrap_err();
    assert_eq!((err.status().as_u16(), err.retry_after), (429, Some(7)));
    assert_eq!(calls, [0]);
}

#[tokio::test(start_paused = true)]
async fn a_short_retry_after_is_waited_out() {
    let r = resilience(RetryPolicy::default());
    let p = plan(&["openai/gpt-5.4"]);
    let started = Instant::now();
    let (result, calls) = run(&r, &p, &[&[Err(upstream(429, Some(2))), Ok(())]], far()).await;
    assert_eq!((result.unwrap(), calls), (0, vec![0, 0]));
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn timeouts_and_unusable_answers_fall_back_without_a_retry() {
    let r = resilience(RetryPolicy::default());
    let p = plan(&["openai/gpt-5.4", "anthropic/claude-sonnet-4.6", "google/gemini-2.5-flash"]);
    let timeout = Failure::from(crate::providers::ProviderError::Timeout { provider: "openai".into() });
    let invalid = Failure::invalid_answer(ApiError::new(ErrorKind::UpstreamFailed, "invalid"));
    let (result, calls) = run(&r, &p, &[&[Err(timeout)], &[Err(invalid)], &[Ok(())]], far()).await;
    assert_eq!((result.unwrap(), calls), (2, vec![0, 1, 2]));
}

#[tokio::test(start_paused = true)]
async fn the_request_deadline_bounds_attempts_and_backoff() {
    let r =
        resilience(RetryPolicy { base: Duration::from_secs(10), max: Duration::from_secs(10), ..Default::default() });
    let p = plan(&["openai/gpt-5.4"]);
    let deadline = Instant::now() + Duration::from_secs(1);
    let started = Instant::now();
    let calls = RefCell::new(0);
    let result = r
        .execute(&p, deadline, |_| {
            *calls.borrow_mut() += 1;
            async { Err::<(), _>(upstream(500, None)) }
        })
        .await;
    assert_eq!(result.unwrap_err().status(), 502);
    assert!(started.elapsed() <= Duration::from_secs(1));
    // A hanging attempt is cut at the deadline with a timeout.
    let hanging =
        r.execute(&p, Instant::now() + Duration::from_secs(2), |_| std::future::pending::<Result<(), Failure>>());
    let err = hanging.await.unwrap_err();
    assert_eq!(err.status().as_u16(), 504);
    assert!(err.message.contains("within the request timeout"));
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_is_skipped_and_probed_after_its_cool_down() {
    let r = resilience(RetryPolicy { max_retries: 0, ..Default::default() });
    let p = plan(&["anthropic/claude-sonnet-4.6", "openai/gpt-5.4"]);
    for _ in 0..3 {
        let (result, _) = run(&r, &p, &[&[Err(upstream(500, None))], &[Ok(())]], far()).await;
        assert_eq!(result.unwrap(), 1);
    }
    assert_eq!(r.health("anthropic").breaker.state(), crate::routing::breaker::CircuitState::Open);
    let (result, calls) = run(&r, &p, &[&[Ok(())], &[Ok(())]], far()).await;
    assert_eq!((result.unwrap(), calls), (1, vec![1]), "the open circuit gets no traffic");

    let alone = plan(&["anthropic/claude-sonnet-4.6"]);
    let (result, calls) = run(&r, &alone, &[&[Ok(())]], far()).await;
    let err = result.unwrap_err();
    assert_eq!(err.status().as_u16(), 503);
    assert_eq!(err.retry_after, Some(30));
    assert!(calls.is_empty());

    tokio::time::advance(Duration::from_secs(30)).await;
    let (result, calls) = run(&r, &p, &[&[Ok(())], &[Ok(())]], far()).await;
    assert_eq!((result.unwrap(), calls), (0, vec![0]), "the probe closes the circuit");
    assert_eq!(r.health("anthropic").breaker.state(), crate::routing::breaker::CircuitState::Closed);
    let mut metrics = String::new();
    r.render_metrics(&mut metrics);
    assert!(metrics.contains("arouter_circuit_skipped_total{provider=\"anthropic\"} 2"), "{metrics}");
    assert!(metrics.contains("arouter_upstream_attempts_total{provider=\"anthropic\",outcome=\"upstream_error\"} 3"));
}

#[tokio::test(start_paused = true)]
async fn a_fully_failing_provider_sees_at_most_about_1_2_times_the_requests() {
    let r = resilience(RetryPolicy { budget_ratio: 0.2, budget_reserve: 10.0, ..Default::default() });
    let p = plan(&["openai/gpt-5.4"]);
    let mut attempts = 0;
    for _ in 0..500 {
        let (_, calls) = run(&r, &p, &[&[Err(upstream(500, None))]], far()).await;
        attempts += calls.len();
        // Keep the breaker out of it: this measures the budget alone.
        r.health("openai").breaker.succeeded();
    }
    assert!(attempts <= 500 + 100 + 10, "{attempts} upstream attempts for 500 requests");
    assert!(attempts >= 600, "the budget is spent ({attempts})");
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_does_not_wedge_the_circuit() {
    let r = resilience(RetryPolicy { max_retries: 0, ..Default::default() });
    let p = plan(&["openai/gpt-5.4"]);
    for _ in 0..3 {
        let _ = run(&r, &p, &[&[Err(upstream(500, None))]], far()).await;
    }
    tokio::time::advance(Duration::from_secs(30)).await;
    let probe = r.execute(&p, far(), |_| std::future::pending::<Result<(), Failure>>());
    assert!(tokio::time::timeout(Duration::from_millis(10), probe).await.is_err(), "the probe hangs and is dropped");
    let (result, calls) = run(&r, &p, &[&[Ok(())]], far()).await;
    assert_eq!((result.unwrap(), calls), (0, vec![0]));
}

#[tokio::test(start_paused = true)]
async fn a_rejected_key_is_retried_at_once_when_the_provider_has_another() {
    let r = resilience(RetryPolicy::default());
    let p = plan(&["openai/gpt-5.4", "anthropic/claude-sonnet-4.6"]);
    let mut rejected = upstream(401, None);
    rejected.another_key = true;
    let started = Instant::now();
    let (result, calls) = run(&r, &p, &[&[Err(rejected), Ok(())], &[Ok(())]], far()).await;
    assert_eq!((result.unwrap(), calls), (0, vec![0, 0]), "the same provider, with its other key");
    assert_eq!(started.elapsed(), Duration::ZERO, "no backoff");
    // With a single key, a rejected credential goes to the next candidate instead.
    let (result, calls) = run(&r, &p, &[&[Err(upstream(401, None))], &[Ok(())]], far()).await;
    assert_eq!((result.unwrap(), calls), (1, vec![0, 1]));
}

#[test]
fn metrics_are_valid_prometheus_text_with_each_family_grouped() {
    let r = resilience(RetryPolicy::default());
    let mut out = String::new();
    r.render_metrics(&mut out);
    let mut typed = std::collections::HashSet::new();
    let mut current = String::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap().to_owned();
            assert!(typed.insert(name.clone()), "family {name} declared twice");
            current = name;
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            assert_eq!(name, current, "sample {line:?} outside its family");
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line:?}");
        }
    }
    for provider in ["anthropic", "google", "openai"] {
        assert!(out.contains(&format!("arouter_circuit_state{{provider=\"{provider}\"}} 0")), "{out}");
    }
    assert!(typed.contains("arouter_fallbacks_total"));
}
