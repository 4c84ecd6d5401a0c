use std::time::Duration;

use super::*;

#[test]
fn backoff_grows_exponentially_with_jitter_and_is_capped() {
    let policy =
        RetryPolicy { base: Duration::from_millis(100), max: Duration::from_millis(350), ..Default::default() };
    for _ in 0..200 {
        assert!(policy.backoff(0, None).unwrap() <= Duration::from_millis(100));
        assert!(policy.backoff(1, None).unwrap() <= Duration::from_millis(200));
        assert!(policy.backoff(5, None).unwrap() <= Duration::from_millis(350));
        assert!(policy.backoff(40, None).unwrap() <= Duration::from_millis(350), "large retry counts do not overflow");
    }
    let spread: std::collections::HashSet<_> = (0..50).map(|_| policy.backoff(2, None).unwrap()).collect();
    assert!(spread.len() > 10, "backoff is jittered");
}

#[test]
fn retry_after_is_honoured_up_to_the_limit() {
    let policy = RetryPolicy { max_retry_after: Duration::from_secs(5), ..Default::default() };
    assert!(policy.backoff(0, Some(Duration::from_secs(3))).unwrap() >= Duration::from_secs(3));
    assert_eq!(policy.backoff(0, Some(Duration::from_secs(7))), None, "a long Retry-After is not waited out");
}

#[test]
fn the_budget_allows_a_reserve_then_a_fraction_of_first_attempts() {
    let policy = RetryPolicy { budget_ratio: 0.2, budget_reserve: 3.0, ..Default::default() };
    let budget = RetryBudget::new(&policy);
    let mut retries = 0;
    for _ in 0..100 {
        budget.deposit();
        if budget.withdraw() {
            retries += 1;
        }
    }
    // 3 from the reserve plus one per five first attempts.
    assert!((22..=23).contains(&retries), "{retries} retries for 100 requests");
}

#[test]
fn the_budget_saves_up_no_more_than_its_reserve() {
    let policy = RetryPolicy { budget_ratio: 0.5, budget_reserve: 2.0, ..Default::default() };
    let budget = RetryBudget::new(&policy);
    (0..100).for_each(|_| budget.deposit());
    assert!(budget.withdraw() && budget.withdraw());
    assert!(!budget.withdraw());
}
