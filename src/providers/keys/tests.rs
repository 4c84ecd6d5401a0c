use super::*;

fn pool(weights: &[u32]) -> KeyPool {
    let keys = weights
        .iter()
        .enumerate()
        .map(|(i, &weight)| UpstreamKey { name: format!("KEY_{i}"), secret: Secret(format!("sk-{i}")), weight })
        .collect();
    KeyPool::new("openai", keys, Duration::from_secs(60))
}

fn counts(pool: &KeyPool, n: usize, now: Instant) -> Vec<usize> {
    let mut counts = vec![0; pool.keys.len()];
    for _ in 0..n {
        counts[pool.pick(now).unwrap()] += 1;
    }
    counts
}

#[test]
fn weights_split_requests_exactly_and_evenly_spread() {
    let pool = pool(&[3, 1]);
    let now = Instant::now();
    let order: Vec<usize> = (0..8).map(|_| pool.pick(now).unwrap()).collect();
    assert_eq!(order, [0, 0, 1, 0, 0, 0, 1, 0]);
    assert_eq!(counts(&pool, 400, now), [300, 100]);
    assert_eq!(counts(&self::pool(&[1, 1, 2]), 40, now), [10, 10, 20]);
}

#[test]
fn no_key_and_one_key() {
    let now = Instant::now();
    assert_eq!(pool(&[]).pick(now), None);
    let single = pool(&[5]);
    single.report(0, StatusCode::UNAUTHORIZED, None, now);
    assert_eq!(single.pick(now), Some(0), "a lone key is never taken out");
}

#[test]
fn a_rejected_key_sits_out_its_cooldown() {
    let pool = pool(&[3, 1]);
    let now = Instant::now();
    pool.report(0, StatusCode::UNAUTHORIZED, None, now);
    assert_eq!(counts(&pool, 10, now + Duration::from_secs(59)), [0, 10]);
    assert_eq!(counts(&pool, 40, now + Duration::from_secs(60)), [30, 10], "back after 60 s");
    pool.report(1, StatusCode::FORBIDDEN, None, now);
    assert_eq!(counts(&pool, 5, now + Duration::from_secs(1)), [5, 0]);
}

#[test]
fn a_rate_limited_key_sits_out_until_retry_after() {
    let pool = pool(&[1, 1]);
    let now = Instant::now();
    pool.report(1, StatusCode::TOO_MANY_REQUESTS, Some(7), now);
    assert_eq!(counts(&pool, 4, now + Duration::from_secs(6)), [4, 0]);
    assert_eq!(counts(&pool, 4, now + Duration::from_secs(7)), [2, 2]);
    pool.report(0, StatusCode::TOO_MANY_REQUESTS, None, now);
    assert_eq!(counts(&pool, 2, now + DEFAULT_THROTTLE - Duration::from_millis(1)), [0, 2]);
}

#[test]
fn other_statuses_leave_the_key_in() {
    let pool = pool(&[1, 1]);
    let now = Instant::now();
    for status in [StatusCode::OK, StatusCode::BAD_REQUEST, StatusCode::INTERNAL_SERVER_ERROR] {
        pool.report(0, status, None, now);
    }
    assert_eq!(counts(&pool, 4, now), [2, 2]);
}

#[test]
fn when_every_key_is_out_the_soonest_back_is_used() {
    let pool = pool(&[1, 1, 1]);
    let now = Instant::now();
    pool.report(0, StatusCode::UNAUTHORIZED, None, now);
    pool.report(1, StatusCode::TOO_MANY_REQUESTS, Some(3), now);
    pool.report(2, StatusCode::TOO_MANY_REQUESTS, Some(9), now);
    assert_eq!(counts(&pool, 3, now), [0, 3, 0]);
    // A later, shorter Retry-After never shortens a longer pause.
    pool.report(0, StatusCode::TOO_MANY_REQUESTS, Some(1), now);
    assert_eq!(counts(&pool, 2, now + Duration::from_secs(2)), [0, 2, 0]);
}

#[test]
fn debug_output_never_shows_a_key() {
    let shown = format!("{:?}", pool(&[1, 2]));
    assert!(!shown.contains("sk-0") && !shown.contains("sk-1"), "{shown}");
}
