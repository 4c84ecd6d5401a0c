//! Per-key rate limits: `rate_limit{requests_per_minute, tokens_per_minute}` set through the
//! management API, persisted, and enforced at admission on every inference endpoint with a 429
//! in each surface's shape, `Retry-After` and `X-RateLimit-*`, before anything reaches the
//! upstream. Time moves by the manual clock, never by sleeping.

use std::time::Duration;

use arouter::mock::MockOptions;
use chrono::Duration as Span;
use serde_json::{Value, json};

use crate::common::{Harness, chat, sse_events};

const CHAT: &str = "/v1/chat/completions";

fn patch_key(h: &Harness, hash: &str, body: Value) -> reqwest::RequestBuilder {
    h.http.patch(h.url(&format!("/api/v1/keys/{hash}"))).bearer_auth(&h.mgmt_key).json(&body)
}

/// Creates a key with `rate_limit`; returns (plaintext, hash).
async fn limited_key(h: &Harness, rate_limit: Value) -> (String, String) {
    let (key, data) = h.create_key(json!({ "name": "limited", "rate_limit": rate_limit })).await;
    assert_eq!(data["rate_limit"]["requests_per_minute"], rate_limit["requests_per_minute"], "{data}");
    (key, data["hash"].as_str().unwrap().to_owned())
}

async fn send_chat(h: &Harness, key: &str) -> reqwest::Response {
    h.post(CHAT, key).json(&chat("openai/gpt-5.4")).send().await.unwrap()
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "{:?}", response.headers());
    response.json().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

/// Asserts the 429 headers: `Retry-After`, `X-RateLimit-Limit`, `-Remaining: 0`, and `-Reset`
/// (Unix seconds) as the moment `retry_after` seconds from the manual clock's now, within the
/// second the rounding allows.
fn assert_limit_headers(h: &Harness, response: &reqwest::Response, limit: u64, retry_after: u64) {
    assert_eq!(response.status(), 429);
    assert_eq!(header(response, "retry-after"), Some(retry_after.to_string().as_str()));
    assert_eq!(header(response, "x-ratelimit-limit"), Some(limit.to_string().as_str()));
    assert_eq!(header(response, "x-ratelimit-remaining"), Some("0"));
    let reset: i64 = header(response, "x-ratelimit-reset").unwrap().parse().unwrap();
    let now = h.clock.now().timestamp();
    let retry = retry_after as i64;
    assert!((now + retry - 1..=now + retry + 1).contains(&reset), "reset {reset}, now {now}, retry {retry}");
}

/// Asserts an OpenAI-shaped 429 and returns its message.
async fn openai_429(response: reqwest::Response) -> String {
    let body = json_of(response, 429).await;
    assert_eq!((body["error"]["type"].clone(), body["error"]["code"].clone()), (json!("rate_limit_error"), json!(429)));
    body["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn rate_limit_round_trips_through_create_patch_clear_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rates.db").display());
    let h = Harness::on_database(&url, MockOptions::default(), |_| {}).await;
    let mgmt = h.mgmt_key.clone();
    let both = json!({ "requests_per_minute": 60, "tokens_per_minute": 100_000 });
    let (key_a, hash_a) = limited_key(&h, both.clone()).await;
    let (_, hash_b) = limited_key(&h, both.clone()).await;
    let (_, hash_c) = limited_key(&h, json!({ "requests_per_minute": 9 })).await;
    let (_, plain) = h.create_key(json!({ "name": "plain" })).await;
    assert_eq!(plain["rate_limit"], Value::Null);

    let one = json_of(h.get(&format!("/api/v1/keys/{hash_a}"), &mgmt).send().await.unwrap(), 200).await;
    assert_eq!(one["data"]["rate_limit"], both);
    let list = json_of(h.get("/api/v1/keys", &mgmt).send().await.unwrap(), 200).await;
    let listed = list["data"].as_array().unwrap().iter().find(|k| k["hash"] == hash_a.as_str()).unwrap().clone();
    assert_eq!(listed["rate_limit"], both);
    // The current-key endpoint keeps OpenRouter's deprecated fields and adds the limit itself.
    let me = json_of(h.get("/api/v1/key", &key_a).send().await.unwrap(), 200).await;
    let rate = &me["data"]["rate_limit"];
    assert_eq!((rate["requests"].clone(), rate["interval"].clone()), (json!(60), json!("1m")), "{rate}");
    assert_eq!((rate["requests_per_minute"].clone(), rate["tokens_per_minute"].clone()), (json!(60), json!(100_000)));
    assert!(rate["note"].is_string());

    // PATCH replaces the whole limit (an omitted tokens_per_minute is none), other PATCHes keep
    // it, and null clears it.
    let patched = json_of(
        patch_key(&h, &hash_b, json!({ "rate_limit": { "requests_per_minute": 5 } })).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(patched["data"]["rate_limit"], json!({ "requests_per_minute": 5, "tokens_per_minute": null }));
    let renamed = json_of(patch_key(&h, &hash_b, json!({ "name": "renamed" })).send().await.unwrap(), 200).await;
    assert_eq!(renamed["data"]["rate_limit"]["requests_per_minute"], 5);
    let cleared = json_of(patch_key(&h, &hash_c, json!({ "rate_limit": null })).send().await.unwrap(), 200).await;
    assert_eq!(cleared["data"]["rate_limit"], Value::Null);
    h.stop().await;

    // A restart loads each key's limit from the database.
    let h = Harness::on_database(&url, MockOptions::default(), |_| {}).await;
    let get = |hash: String| h.get(&format!("/api/v1/keys/{hash}"), &mgmt).send();
    assert_eq!(json_of(get(hash_a).await.unwrap(), 200).await["data"]["rate_limit"], both);
    let b = json_of(get(hash_b).await.unwrap(), 200).await;
    assert_eq!(b["data"]["rate_limit"], json!({ "requests_per_minute": 5, "tokens_per_minute": null }));
    assert_eq!(json_of(get(hash_c).await.unwrap(), 200).await["data"]["rate_limit"], Value::Null);
    let me = json_of(h.get("/v1/key", &key_a).send().await.unwrap(), 200).await;
    assert_eq!(me["data"]["rate_limit"]["requests_per_minute"], 60);
    h.stop().await;
}

#[tokio::test]
async fn invalid_rate_limits_are_400s_naming_the_field_and_change_nothing() {
    let h = Harness::start().await;
    let (_, hash) = limited_key(&h, json!({ "requests_per_minute": 7 })).await;
    let cases = [
        (json!(60), "'rate_limit' must be an object"),
        (json!({ "requests_per_minute": 0 }), "'rate_limit.requests_per_minute' must be a positive integer"),
        (json!({ "requests_per_minute": -1 }), "'rate_limit.requests_per_minute'"),
        (json!({ "requests_per_minute": 2.5 }), "'rate_limit.requests_per_minute'"),
        (json!({ "requests_per_minute": "60" }), "'rate_limit.requests_per_minute'"),
        (json!({ "requests_per_minute": 100_001 }), "at most 100000"),
        (json!({ "requests_per_minute": 5, "tokens_per_minute": 0 }), "'rate_limit.tokens_per_minute'"),
        (json!({ "tokens_per_minute": 1000 }), "'rate_limit.requests_per_minute' is required"),
        (json!({ "requests_per_minute": 5, "requests": 5 }), "unknown field 'rate_limit.requests'"),
    ];
    for (rate_limit, fragment) in cases {
        for request in [
            h.post("/api/v1/keys", &h.mgmt_key).json(&json!({ "name": "bad", "rate_limit": rate_limit })),
            patch_key(&h, &hash, json!({ "rate_limit": rate_limit })),
        ] {
            let body = json_of(request.send().await.unwrap(), 400).await;
            assert_eq!(body["error"]["type"], "invalid_request_error");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
    }
    let list = json_of(h.get("/api/v1/keys", &h.mgmt_key).send().await.unwrap(), 200).await;
    let regular: Vec<&Value> = list["data"].as_array().unwrap().iter().filter(|k| k["key_type"] == "regular").collect();
    assert_eq!(regular.len(), 1, "no key was created: {list}");
    assert_eq!(regular[0]["rate_limit"], json!({ "requests_per_minute": 7, "tokens_per_minute": null }));
}

#[tokio::test]
async fn requests_over_the_limit_get_429s_that_never_reach_the_upstream_until_the_window_moves() {
    let h = Harness::start().await;
    let (key, _) = limited_key(&h, json!({ "requests_per_minute": 3 })).await;
    let mut cost = 0.0;
    for _ in 0..3 {
        cost += json_of(send_chat(&h, &key).await, 200).await["usage"]["cost"].as_f64().unwrap();
    }
    assert_eq!(h.upstream_calls(), 3);
    for _ in 0..5 {
        let refused = send_chat(&h, &key).await;
        assert_limit_headers(&h, &refused, 3, 60);
        let message = openai_429(refused).await;
        assert!(message.contains("rate limit exceeded") && message.contains("3 requests per minute"), "{message}");
    }
    assert_eq!(h.upstream_calls(), 3, "refused requests reach no upstream");

    // Twenty seconds on, the oldest request has forty seconds left in the window.
    h.clock.advance(Span::seconds(20));
    let refused = send_chat(&h, &key).await;
    assert_limit_headers(&h, &refused, 3, 40);
    // A minute after the first three, they have all left the window.
    h.clock.advance(Span::seconds(40));
    for _ in 0..3 {
        cost += json_of(send_chat(&h, &key).await, 200).await["usage"]["cost"].as_f64().unwrap();
    }
    assert_limit_headers(&h, &send_chat(&h, &key).await, 3, 60);
    assert_eq!(h.upstream_calls(), 6);
    // Refusals cost nothing: the key's usage is exactly the six answers.
    let me = json_of(h.get("/api/v1/key", &key).send().await.unwrap(), 200).await;
    assert!((me["data"]["usage"].as_f64().unwrap() - cost).abs() < 1e-12, "{me} vs {cost}");
}

#[tokio::test]
async fn every_inference_surface_refuses_in_its_own_shape() {
    let h = Harness::start().await;
    let text = json!({ "contents": [{ "parts": [{ "text": "Hello!" }] }] });
    let embed = json!({ "content": { "parts": [{ "text": "hello" }] } });
    let batch =
        json!({ "requests": [{ "model": "models/gemini-embedding-001", "content": { "parts": [{ "text": "a" }] } }] });
    let messages = json!({ "model": "claude-sonnet-4.6", "max_tokens": 64, "messages": [{ "role": "user", "content": "Hello!" }] });
    let cases: Vec<(&str, Value, &str)> = vec![
        (CHAT, chat("openai/gpt-5.4"), "openai"),
        ("/api/v1/chat/completions", chat("anthropic/claude-sonnet-4.6"), "openai"),
        ("/v1/embeddings", json!({ "model": "openai/text-embedding-3-small", "input": "Hello!" }), "openai"),
        ("/v1/messages", messages.clone(), "anthropic"),
        (
            "/v1/messages/count_tokens",
            json!({ "model": "claude-sonnet-4.6", "messages": messages["messages"] }),
            "anthropic",
        ),
        ("/v1beta/models/gemini-2.5-flash:countTokens", text.clone(), "gemini"),
        ("/v1beta/models/gemini-2.5-flash:generateContent", text.clone(), "gemini"),
        ("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", text, "gemini"),
        ("/v1beta/models/gemini-embedding-001:embedContent", embed, "gemini"),
        ("/v1beta/models/gemini-embedding-001:batchEmbedContents", batch, "gemini"),
    ];
    for (i, (path, body, shape)) in cases.into_iter().enumerate() {
        let (key, _) = limited_key(&h, json!({ "requests_per_minute": 1 })).await;
        let send = || {
            h.http
                .post(h.url(path))
                .header("x-api-key", &key)
                .header("x-goog-api-key", &key)
                .header("anthropic-version", "2023-06-01")
                .json(&body)
                .send()
        };
        let first = send().await.unwrap();
        assert_eq!(first.status(), 200, "{path}: {}", first.text().await.unwrap());
        assert_eq!(h.upstream_calls(), i + 1, "{path}");
        let refused = send().await.unwrap();
        assert_limit_headers(&h, &refused, 1, 60);
        let error: Value = refused.json().await.unwrap();
        match shape {
            "openai" => assert_eq!(error["error"]["type"], "rate_limit_error", "{path}: {error}"),
            "anthropic" => {
                assert_eq!(
                    (error["type"].clone(), error["error"]["type"].clone()),
                    (json!("error"), json!("rate_limit_error"))
                )
            }
            _ => assert_eq!(
                (error["error"]["code"].clone(), error["error"]["status"].clone()),
                (json!(429), json!("RESOURCE_EXHAUSTED")),
                "{path}: {error}"
            ),
        }
        assert!(error.to_string().contains("allows 1 request per minute"), "{path}: {error}");
        assert_eq!(h.upstream_calls(), i + 1, "{path}: the refused request reached the upstream");
    }
}

#[tokio::test]
async fn tokens_per_minute_refuse_after_a_heavy_request_until_its_tokens_leave_the_window() {
    let h = Harness::start().await;
    let (key, _) = limited_key(&h, json!({ "requests_per_minute": 100, "tokens_per_minute": 10 })).await;
    // The mock answers 10 words to a 4-token prompt: 14 tokens, over the limit by itself.
    let answer = json_of(send_chat(&h, &key).await, 200).await;
    assert_eq!(answer["usage"]["total_tokens"], 14);
    let record = h.generation(answer["id"].as_str().unwrap()).await;
    assert_eq!(record.usage.total_tokens(), 14);
    let refused = send_chat(&h, &key).await;
    // Tokens count in one-second slots dated at their end: 60 s plus under a second.
    assert_limit_headers(&h, &refused, 10, 61);
    let message = openai_429(refused).await;
    assert!(message.contains("10 tokens per minute"), "{message}");
    assert_eq!(h.upstream_calls(), 1);
    h.clock.advance(Span::seconds(59));
    assert_eq!(send_chat(&h, &key).await.status(), 429);
    h.clock.advance(Span::seconds(2));
    assert_eq!(json_of(send_chat(&h, &key).await, 200).await["usage"]["total_tokens"], 14);
    assert_eq!(h.upstream_calls(), 2);

    // A stream's tokens count once it settles.
    let (key, _) = limited_key(&h, json!({ "requests_per_minute": 100, "tokens_per_minute": 10 })).await;
    let mut body = chat("openai/gpt-5.4");
    body["stream"] = json!(true);
    let events = sse_events(h.post(CHAT, &key).json(&body).send().await.unwrap()).await;
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    let record = h.generation(first["id"].as_str().unwrap()).await;
    assert!(record.streamed && record.usage.total_tokens() >= 10, "{record:?}");
    let message = openai_429(h.post(CHAT, &key).json(&body).send().await.unwrap()).await;
    assert!(message.contains("10 tokens per minute"), "{message}");
    assert_eq!(h.upstream_calls(), 3);
}

#[tokio::test]
async fn fifty_concurrent_requests_on_a_ten_per_minute_key_send_exactly_ten_upstream() {
    // Slow answers, so the requests really are in flight together.
    let options = MockOptions { first_byte_delay: Duration::from_millis(150), ..MockOptions::default() };
    let h = Harness::with(options, |_| {}).await;
    let (key, _) = limited_key(&h, json!({ "requests_per_minute": 10 })).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let request = h.post(CHAT, &key).json(&chat("openai/gpt-5.4"));
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
                (status, retry_after)
            })
        })
        .collect();
    let mut ok = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            (200, _) => ok += 1,
            (429, retry_after) => {
                assert_eq!(retry_after.as_deref(), Some("60"));
                refused += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, refused), (10, 40));
    assert_eq!(h.upstream_calls(), 10);
}

#[tokio::test]
async fn keys_without_a_limit_and_management_keys_are_not_limited() {
    let h = Harness::start().await;
    let (limited, _) = limited_key(&h, json!({ "requests_per_minute": 1 })).await;
    assert_eq!(send_chat(&h, &limited).await.status(), 200);
    assert_eq!(send_chat(&h, &limited).await.status(), 429);
    // Another key, and the limited key's own non-inference calls, carry on.
    let free = h.api_key().await;
    for _ in 0..30 {
        assert_eq!(send_chat(&h, &free).await.status(), 200);
    }
    for _ in 0..5 {
        assert_eq!(h.get("/api/v1/key", &limited).send().await.unwrap().status(), 200);
    }
    for _ in 0..30 {
        assert_eq!(h.get("/api/v1/keys", &h.mgmt_key).send().await.unwrap().status(), 200);
    }
    assert_eq!(h.upstream_calls(), 31);
}

#[tokio::test]
async fn a_patch_takes_effect_on_the_next_request() {
    let h = Harness::start().await;
    let (key, hash) = limited_key(&h, json!({ "requests_per_minute": 2 })).await;
    let patch = |body: Value| async { json_of(patch_key(&h, &hash, body).send().await.unwrap(), 200).await };
    for _ in 0..2 {
        assert_eq!(send_chat(&h, &key).await.status(), 200);
    }
    assert_limit_headers(&h, &send_chat(&h, &key).await, 2, 60);
    // Raised: one more fits into the same minute.
    patch(json!({ "rate_limit": { "requests_per_minute": 3 } })).await;
    assert_eq!(send_chat(&h, &key).await.status(), 200);
    assert_limit_headers(&h, &send_chat(&h, &key).await, 3, 60);
    // Cleared: no limit at all.
    patch(json!({ "rate_limit": null })).await;
    for _ in 0..5 {
        assert_eq!(send_chat(&h, &key).await.status(), 200);
    }
    // Set again: the minute's earlier requests still count against it.
    patch(json!({ "rate_limit": { "requests_per_minute": 1 } })).await;
    assert_limit_headers(&h, &send_chat(&h, &key).await, 1, 60);
    // A token limit added by PATCH applies to what settles from then on.
    h.clock.advance(Span::seconds(60));
    patch(json!({ "rate_limit": { "requests_per_minute": 50, "tokens_per_minute": 5 } })).await;
    assert_eq!(send_chat(&h, &key).await.status(), 200);
    assert_limit_headers(&h, &send_chat(&h, &key).await, 5, 61);
    assert_eq!(h.upstream_calls(), 2 + 1 + 5 + 1);
}

#[tokio::test]
async fn a_key_with_a_spend_limit_refused_for_its_rate_holds_no_budget() {
    let h = Harness::start().await;
    let (key, data) =
        h.create_key(json!({ "name": "both", "limit": 1, "rate_limit": { "requests_per_minute": 1 } })).await;
    let cost = json_of(send_chat(&h, &key).await, 200).await["usage"]["cost"].as_f64().unwrap();
    for _ in 0..3 {
        let refused = send_chat(&h, &key).await;
        assert_limit_headers(&h, &refused, 1, 60);
        openai_429(refused).await;
    }
    let hash = arouter::keys::KeyHash::parse_hex(data["hash"].as_str().unwrap()).unwrap();
    let cached = h.state.keys.get(&hash).unwrap();
    assert_eq!(cached.spend.lock().unwrap().reserved(), 0, "a refused request left a hold behind");
    let me = json_of(h.get("/api/v1/key", &key).send().await.unwrap(), 200).await;
    assert!((me["data"]["limit_remaining"].as_f64().unwrap() - (1.0 - cost)).abs() < 1e-12, "{me}");
    assert_eq!(h.upstream_calls(), 1);
}
