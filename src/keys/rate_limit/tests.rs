use serde_json::json;

use super::*;

/// A Unix-ms instant mid-second, like a real clock.
const T0: i64 = 1_764_423_420_250;

fn rpm(n: u32) -> RateLimit {
    RateLimit { requests_per_minute: n, tokens_per_minute: None }
}

fn tpm(requests: u32, tokens: u64) -> RateLimit {
    RateLimit { requests_per_minute: requests, tokens_per_minute: Some(tokens) }
}

fn parse_err(value: serde_json::Value) -> String {
    RateLimit::parse(&value).unwrap_err().message.into_owned()
}

#[test]
fn admits_exactly_the_limit_in_any_sliding_minute() {
    let limit = rpm(3);
    let mut window = RateWindow::default();
    for at in [T0, T0 + 10_000, T0 + 20_000] {
        window.admit(&limit, at).unwrap();
    }
    let refused = window.admit(&limit, T0 + 30_000).unwrap_err();
    assert_eq!(refused, Refusal { exceeded: Exceeded::Requests, limit: 3, free_at_ms: T0 + WINDOW_MS });
    // One millisecond before the first request leaves, still full; at that instant, a slot.
    assert!(window.admit(&limit, T0 + WINDOW_MS - 1).is_err());
    window.admit(&limit, T0 + WINDOW_MS).unwrap();
    // Now the second request's slot is the next to free.
    assert_eq!(window.admit(&limit, T0 + WINDOW_MS).unwrap_err().free_at_ms, T0 + 10_000 + WINDOW_MS);
}

#[test]
fn refused_requests_take_no_slot() {
    let limit = rpm(1);
    let mut window = RateWindow::default();
    window.admit(&limit, T0).unwrap();
    for i in 0..100 {
        assert!(window.admit(&limit, T0 + i * 100).is_err());
    }
    window.admit(&limit, T0 + WINDOW_MS).unwrap();
    assert_eq!(window.requests.len(), 1);
}

#[test]
fn a_lowered_limit_waits_for_the_newest_requests_and_a_raised_one_admits_at_once() {
    let mut window = RateWindow::default();
    for i in 0..5 {
        window.admit(&rpm(5), T0 + i * 1_000).unwrap();
    }
    assert!(window.admit(&rpm(5), T0 + 5_000).is_err());
    window.admit(&rpm(6), T0 + 5_000).unwrap();
    // Six in the window, limit two: a slot frees when the second newest (T0 + 4 s) leaves.
    let refused = window.admit(&rpm(2), T0 + 6_000).unwrap_err();
    assert_eq!(refused.free_at_ms, T0 + 4_000 + WINDOW_MS);
    assert_eq!(window.requests.len(), 2, "the surplus is dropped, memory stays bounded by the limit");
    window.admit(&rpm(2), T0 + 4_000 + WINDOW_MS).unwrap();
}

#[test]
fn a_clock_stepping_back_keeps_the_log_ordered() {
    let limit = rpm(2);
    let mut window = RateWindow::default();
    window.admit(&limit, T0).unwrap();
    window.admit(&limit, T0 - 5_000).unwrap();
    let refused = window.admit(&limit, T0 - 4_000).unwrap_err();
    assert_eq!(refused.free_at_ms, T0 + WINDOW_MS);
    // Had the second entry kept its own (earlier) date, a slot would be free here.
    assert!(window.admit(&limit, T0 + WINDOW_MS - 1).is_err(), "the second entry is dated no earlier than the first");
    window.admit(&limit, T0 + WINDOW_MS).unwrap();
}

#[test]
fn tokens_refuse_at_the_limit_until_they_leave_the_window() {
    let limit = tpm(100, 1_000);
    let mut window = RateWindow::default();
    window.admit(&limit, T0).unwrap();
    window.add_tokens(600, T0);
    window.admit(&limit, T0 + 1).unwrap();
    window.add_tokens(399, T0 + 2_000);
    window.admit(&limit, T0 + 2_001).unwrap();
    window.add_tokens(1, T0 + 2_500);
    assert_eq!(window.tokens_in_window(T0 + 3_000), 1_000);
    let refused = window.admit(&limit, T0 + 3_000).unwrap_err();
    // The first slot (T0's second) leaves at the end of that second plus a minute, and the
    // count then falls to 400, below the limit.
    let first_slot_leaves = (T0 / 1000 + 1) * 1000 + WINDOW_MS;
    assert_eq!(refused, Refusal { exceeded: Exceeded::Tokens, limit: 1_000, free_at_ms: first_slot_leaves });
    assert!(window.admit(&limit, first_slot_leaves - 1).is_err());
    window.admit(&limit, first_slot_leaves).unwrap();
    assert_eq!(window.tokens_in_window(first_slot_leaves), 400);
    assert_eq!(window.tokens.len(), 1, "T0+2000 and T0+2500 share a one-second slot");
}

#[test]
fn tokens_are_never_forgotten_early_and_stay_bounded() {
    let mut window = RateWindow::default();
    // One settle every 10 ms for two minutes: at most 61 one-second slots.
    for i in 0..12_000 {
        window.add_tokens(1, T0 + i * 10);
        assert!(window.tokens.len() <= 61);
    }
    let now = T0 + 12_000 * 10;
    // Every token settled within the last minute is still counted (plus at most a second more).
    let counted = window.tokens_in_window(now);
    assert!((6_000..=6_100).contains(&counted), "{counted}");
    assert_eq!(window.tokens_in_window(now + WINDOW_MS + 1_000), 0);
}

#[test]
fn refusals_become_429s_with_rounded_up_retry_and_headers() {
    let refusal = Refusal { exceeded: Exceeded::Requests, limit: 10, free_at_ms: T0 + 41_200 };
    let err = refusal.into_error(T0);
    assert_eq!(err.kind, ErrorKind::RateLimited);
    assert_eq!(err.retry_after, Some(42));
    assert_eq!(err.rate_limit, Some(RateLimitHeaders { limit: 10, remaining: 0, reset: (T0 + 41_200) / 1000 + 1 }));
    assert!(err.message.contains("10 requests per minute"), "{}", err.message);
    let tokens = Refusal { exceeded: Exceeded::Tokens, limit: 5_000, free_at_ms: T0 }.into_error(T0);
    assert_eq!(tokens.retry_after, Some(1), "never Retry-After: 0");
    assert!(tokens.message.contains("5000 tokens per minute"), "{}", tokens.message);
}

#[test]
fn parses_the_documented_shape() {
    let both = json!({ "requests_per_minute": 60, "tokens_per_minute": 100_000 });
    assert_eq!(RateLimit::parse(&both).unwrap(), tpm(60, 100_000));
    assert_eq!(RateLimit::parse(&json!({ "requests_per_minute": 1 })).unwrap(), rpm(1));
    let null_tokens = json!({ "requests_per_minute": 5, "tokens_per_minute": null });
    assert_eq!(RateLimit::parse(&null_tokens).unwrap(), rpm(5));
    assert_eq!(RateLimit::parse(&both).unwrap().to_json(), both);
    assert_eq!(rpm(7).to_json(), json!({ "requests_per_minute": 7, "tokens_per_minute": null }));
}

#[test]
fn validation_errors_name_the_sub_field() {
    assert!(parse_err(json!({ "requests_per_minute": 0 })).contains("'rate_limit.requests_per_minute'"));
    assert!(parse_err(json!({ "requests_per_minute": -5 })).contains("positive integer"));
    assert!(parse_err(json!({ "requests_per_minute": 1.5 })).contains("'rate_limit.requests_per_minute'"));
    assert!(parse_err(json!({ "requests_per_minute": "60" })).contains("'rate_limit.requests_per_minute'"));
    assert!(parse_err(json!({ "requests_per_minute": MAX_REQUESTS_PER_MINUTE + 1 })).contains("at most 100000"));
    assert!(
        parse_err(json!({ "requests_per_minute": 5, "tokens_per_minute": 0 }))
            .contains("'rate_limit.tokens_per_minute'")
    );
    assert!(parse_err(json!({ "tokens_per_minute": 5 })).contains("'rate_limit.requests_per_minute' is required"));
    let unknown = parse_err(json!({ "requests_per_minute": 5, "requests_per_day": 100 }));
    assert!(unknown.contains("unknown field 'rate_limit.requests_per_day'"), "{unknown}");
    assert!(unknown.contains("requests_per_minute, tokens_per_minute"), "{unknown}");
    assert!(parse_err(json!(60)).contains("'rate_limit' must be an object"));
}

#[test]
fn database_columns_round_trip_and_reject_corruption() {
    assert_eq!(RateLimit::from_columns(None, None), Ok(None));
    assert_eq!(RateLimit::from_columns(Some(60), Some(1_000)), Ok(Some(tpm(60, 1_000))));
    assert_eq!(RateLimit::from_columns(Some(60), None), Ok(Some(rpm(60))));
    assert!(RateLimit::from_columns(None, Some(5)).is_err());
    assert!(RateLimit::from_columns(Some(0), None).is_err());
    assert!(RateLimit::from_columns(Some(5), Some(-1)).is_err());
}
