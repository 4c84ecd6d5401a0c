//! Fallbacks, retries, timeouts and circuit breaking, end to end against the mock upstream's
//! fault modes: what the client got, what the upstream received, and what was charged.

use std::time::{Duration, Instant};

use arouter::config::Config;
use arouter::mock::{MockOptions, Recorded};
use serde_json::{Value, json};

use super::common::{Harness, assert_error, chat, sse_events};

/// Short timeouts and backoff, so faults resolve in milliseconds.
fn quick(config: &mut Config) {
    config.retry.base = Duration::from_millis(5);
    config.retry.max = Duration::from_millis(20);
    config.timeouts.first_byte = Duration::from_millis(800);
    config.timeouts.idle = Duration::from_millis(600);
    config.timeouts.total = Duration::from_secs(10);
    // Prices for the fault models whose streams are charged.
    let priced = |id: &str| arouter::catalog::RawModel {
        id: id.into(),
        prompt: Some("1".into()),
        completion: Some("2".into()),
        ..Default::default()
    };
    let models = ["openai/fault-silent", "openai/fault-endless", "anthropic/fault-silent"];
    config.catalog.merge(models.into_iter().map(priced).collect()).unwrap();
}

async fn harness(tweak: impl FnOnce(&mut Config)) -> Harness {
    let options = MockOptions { chunk_delay: Duration::from_millis(5), ..MockOptions::default() };
    Harness::with(options, |config| {
        quick(config);
        tweak(config);
    })
    .await
}

/// The model each upstream request named (body `model`, or the Gemini path's).
fn upstream_models(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .map(|r| match r.path.strip_prefix("/v1beta/models/") {
            Some(rest) => rest.split(':').next().unwrap().to_owned(),
            None => r.json()["model"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

fn with_models(model: &str, models: &[&str]) -> Value {
    let mut body = chat(model);
    body["models"] = json!(models);
    body
}

/// Nothing private in what the client sees.
fn assert_clean(h: &Harness, text: &str) {
    assert!(!text.contains(arouter::mock::MOCK_API_KEY), "{text}");
    assert!(!text.contains(&h.mock.addr().to_string()), "{text}");
    assert!(!text.contains("127.0.0.1"), "{text}");
}

#[tokio::test]
async fn a_failing_model_is_retried_then_the_next_answers_and_only_it_is_charged() {
    let h = harness(|_| {}).await;
    let key = h.api_key().await;
    let body = with_models("openai/fault-503", &["anthropic/claude-sonnet-4.6"]);
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["model"], "anthropic/claude-sonnet-4.6", "the answering model is named");
    assert!(answer["choices"][0]["message"]["content"].as_str().unwrap().contains("arouter mock Anthropic"));
    assert_eq!(upstream_models(&h.mock.requests()), ["fault-503", "fault-503", "fault-503", "claude-sonnet-4-6"]);
    let record = h.generation(answer["id"].as_str().unwrap()).await;
    assert_eq!(
        (record.model.as_str(), record.provider.as_str(), record.status),
        ("anthropic/claude-sonnet-4.6", "anthropic", 200)
    );
    assert!(record.cost_nano > 0);
    let cost = answer["usage"]["cost"].as_f64().unwrap();
    let key_state: Value = h.get("/api/v1/key", &key).send().await.unwrap().json().await.unwrap();
    assert_eq!(key_state["data"]["usage"].as_f64().unwrap(), cost, "the key paid for the answer alone");
}

#[tokio::test]
async fn fallback_works_on_every_surface_and_when_streaming() {
    let h = harness(|_| {}).await;
    let key = h.api_key().await;

    // Anthropic surface: Claude overloaded (529) → GPT, translated back to Anthropic's format.
    let body = json!({ "model": "fault-529", "models": ["openai/gpt-5.4"], "max_tokens": 50,
        "messages": [{ "role": "user", "content": "Hello!" }] });
    let response = h.post("/v1/messages", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["model"], "openai/gpt-5.4");
    let sent = h.mock.requests();
    assert_eq!(upstream_models(&sent), ["fault-529", "fault-529", "fault-529", "gpt-5.4"]);
    assert!(sent[0].json().get("models").is_none(), "routing fields never reach the upstream");

    // Gemini surface: a failing Gemini model → Claude, streamed, as Gemini SSE.
    let body = json!({ "contents": [{ "role": "user", "parts": [{ "text": "Hello!" }] }],
        "models": ["anthropic/claude-sonnet-4.6"] });
    let url = "/v1beta/models/fault-500:streamGenerateContent?alt=sse";
    let response = h.post(url, &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // Gemini frames end in CRLF.
    let raw = response.text().await.unwrap();
    let events: Vec<&str> = raw.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|e| e["candidates"][0]["content"]["parts"][0]["text"].as_str().map(str::to_owned))
        .collect();
    assert!(text.contains("arouter mock Anthropic"), "{events:?}");
    let models = upstream_models(&h.mock.requests());
    assert_eq!(&models[4..], ["fault-500", "fault-500", "fault-500", "claude-sonnet-4-6"]);

    // OpenAI surface, streamed: the failing first candidate is invisible to the client.
    let mut body = with_models("anthropic/fault-500", &["google/gemini-2.5-flash"]);
    body["stream"] = json!(true);
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let events = sse_events(response).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["model"], "google/gemini-2.5-flash");
    assert!(events.iter().all(|e| !e.contains("\"error\"")), "{events:?}");
}

#[tokio::test]
async fn a_400_is_never_retried_or_sent_elsewhere() {
    let h = harness(|_| {}).await;
    let key = h.api_key().await;
    let body = with_models("openai/fault-400", &["anthropic/claude-sonnet-4.6"]);
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_error(response, 400, "invalid_request_error", "mock: this request was rejected").await;
    assert_eq!(upstream_models(&h.mock.requests()), ["fault-400"]);
}

#[tokio::test]
async fn a_429_falls_back_or_reaches_the_client_with_retry_after() {
    let h = harness(|_| {}).await;
    let key = h.api_key().await;
    let response = h.post("/v1/chat/completions", &key).json(&chat("openai/fault-429")).send().await.unwrap();
    assert_eq!(response.headers()["retry-after"], "7");
    let body = assert_error(response, 429, "rate_limit_error", "rate limiting").await;
    assert_clean(&h, &body.to_string());
    assert_eq!(h.upstream_calls(), 1, "a Retry-After longer than the gateway waits is not retried");

    let body = with_models("openai/fault-429", &["google/gemini-2.5-flash"]);
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(upstream_models(&h.mock.requests())[1..], ["fault-429", "gemini-2.5-flash"]);
}

#[tokio::test]
async fn a_transient_failure_is_retried_on_the_same_provider() {
    let h = harness(|_| {}).await;
    let key = h.api_key().await;
    let response = h.post("/v1/chat/completions", &key).json(&chat("openai/fault-flaky-2")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(h.upstream_calls(), 3, "two 503s, then the answer");
    let record = h.generation(answer["id"].as_str().unwrap()).await;
    assert_eq!(record.status, 200);
    // 502 is retried too.
    let response = h.post("/v1/chat/completions", &key).json(&chat("openai/fault-502")).send().await.unwrap();
    let body = assert_error(response, 502, "server_error", "upstream request failed").await;
    assert_clean(&h, &body.to_string());
    assert_eq!(h.upstream_calls(), 6);
}

#[tokio::test]
async fn connection_refused_and_reset_fall_back_and_never_name_the_host() {
    // A port nothing listens on, and one that accepts and drops every connection.
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let resetting = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let reset_addr = resetting.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = resetting.accept().await {
            drop(socket);
        }
    });
    for (addr, name) in [(refused, "refused"), (reset_addr, "reset")] {
        let h = harness(|config| {
            config.provider_mut("anthropic").unwrap().base_url = format!("http://{addr}");
        })
        .await;
        let key = h.api_key().await;
        let body = with_models("anthropic/claude-sonnet-4.6", &["openai/gpt-5.4"]);
        let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200, "{name}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["model"], "openai/gpt-5.4");

        let response =
            h.post("/v1/chat/completions", &key).json(&chat("anthropic/claude-sonnet-4.6")).send().await.unwrap();
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"]["code"], 502, "{name}: {text}");
        assert!(body["error"]["message"].as_str().unwrap().contains("could not reach provider 'anthropic'"), "{text}");
        assert!(!text.contains(&addr.to_string()), "{name}: the upstream address leaked: {text}");
    }
}

#[tokio::test]
async fn a_slow_first_byte_times_out_with_504_or_falls_back() {
    let h = harness(|_| {}).await;
    let key = h.api_key().await;
    let started = Instant::now();
    let response = h.post("/v1/chat/completions", &key).json(&chat("openai/fault-slow-3000")).send().await.unwrap();
    assert_error(response, 504, "server_error", "did not answer in time").await;
    // Cut at the 800 ms first-byte timeout, and not retried (a retry would take as long again).
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());

    let mut body = with_models("openai/fault-slow-3000", &["anthropic/claude-sonnet-4.6"]);
    body["stream"] = json!(true);
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let events = sse_events(response).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn a_malformed_answer_is_a_502_and_not_asked_again() {
    let h = harness(|_| {}).await;
    let key = h.api_key().await;
    let response = h.post("/v1/chat/completions", &key).json(&chat("openai/fault-malformed")).send().await.unwrap();
    assert_error(response, 502, "server_error", "").await;
    assert_eq!(h.upstream_calls(), 1);
    let body = with_models("openai/fault-malformed", &["google/gemini-2.5-flash"]);
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(upstream_models(&h.mock.requests())[1..], ["fault-malformed", "gemini-2.5-flash"]);
}

#[tokio::test]
async fn no_fallback_once_the_first_byte_was_sent() {
    let h = harness(|_| {}).await;
    let key = h.api_key().await;
    let mut body = with_models("openai/fault-cut", &["anthropic/claude-sonnet-4.6"]);
    body["stream"] = json!(true);
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let events = sse_events(response).await;
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "error", "{events:?}");
    assert_eq!(upstream_models(&h.mock.requests()), ["fault-cut"]);
}

#[tokio::test]
async fn a_silent_stream_is_cut_at_the_idle_timeout_and_charged() {
    let h = harness(|config| config.timeouts.keep_alive = Duration::from_millis(200)).await;
    let key = h.api_key().await;
    for (path, body) in [
        (
            "/v1/chat/completions",
            json!({ "model": "openai/fault-silent", "stream": true,
            "messages": [{ "role": "user", "content": "Hello!" }] }),
        ),
        (
            "/v1/messages",
            json!({ "model": "fault-silent", "stream": true, "max_tokens": 20,
            "messages": [{ "role": "user", "content": "Hello!" }] }),
        ),
    ] {
        let started = Instant::now();
        let response = h.post(path, &key).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let id = response.headers()["x-generation-id"].to_str().unwrap().to_owned();
        let text = response.text().await.unwrap();
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(600) && elapsed < Duration::from_secs(3), "{elapsed:?}");
        assert!(text.contains("sent nothing for"), "{path}: {text}");
        assert!(text.contains(if path == "/v1/messages" { "event: ping" } else { ": keep-alive" }), "{text}");
        let record = h.generation(&id).await;
        assert_eq!(record.finish_reason.as_deref(), Some("error"), "{path}");
        assert!(record.usage.completion_tokens > 0 && record.cost_nano > 0, "{path}: charged for what it produced");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(h.mock.streams().iter().all(|s| s.dropped_at.is_some()), "the upstream streams were closed");
}

#[tokio::test]
async fn a_stream_that_never_ends_is_cut_at_the_total_timeout() {
    let h = harness(|config| config.timeouts.total = Duration::from_millis(1500)).await;
    let key = h.api_key().await;
    let body =
        json!({ "model": "openai/fault-endless", "stream": true, "messages": [{ "role": "user", "content": "Hi" }] });
    let started = Instant::now();
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    let id = response.headers()["x-generation-id"].to_str().unwrap().to_owned();
    let events = sse_events(response).await;
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(events.len() > 20, "it streamed until cut: {}", events.len());
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(last["error"]["message"].as_str().unwrap().contains("time limit"), "{last}");
    let record = h.generation(&id).await;
    assert!(record.usage_estimated && record.cost_nano > 0, "{record:?}");
}

#[tokio::test]
async fn an_open_circuit_is_skipped_shown_in_metrics_and_probed_after_the_cool_down() {
    let h = harness(|config| {
        config.retry.max_retries = 0;
        config.breaker.threshold = 2;
        config.breaker.cool_down = Duration::from_millis(700);
    })
    .await;
    let key = h.api_key().await;
    for _ in 0..2 {
        let response = h.post("/v1/chat/completions", &key).json(&chat("openai/fault-500")).send().await.unwrap();
        assert_eq!(response.status(), 502);
    }
    let metrics = h.http.get(h.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("arouter_circuit_state{provider=\"openai\"} 2"), "{metrics}");

    // A healthy OpenAI model is skipped too while the circuit is open; the fallback answers.
    let body = with_models("openai/gpt-5.4", &["anthropic/claude-sonnet-4.6"]);
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["model"], "anthropic/claude-sonnet-4.6");
    let response = h.post("/v1/chat/completions", &key).json(&chat("openai/gpt-5.4")).send().await.unwrap();
    assert!(response.headers().contains_key("retry-after"));
    assert_error(response, 503, "server_error", "circuit is open").await;
    assert_eq!(h.upstream_calls(), 3, "no traffic to the open provider");

    tokio::time::sleep(Duration::from_millis(750)).await;
    let response = h.post("/v1/chat/completions", &key).json(&chat("openai/gpt-5.4")).send().await.unwrap();
    assert_eq!(response.status(), 200, "the probe goes through and closes the circuit");
    let metrics = h.http.get(h.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("arouter_circuit_state{provider=\"openai\"} 0"), "{metrics}");
    assert!(
        metrics.contains("arouter_fallbacks_total 0")
            || metrics.contains("arouter_circuit_skipped_total{provider=\"openai\"} 2")
    );
}

#[tokio::test]
async fn retries_against_a_fully_failing_provider_stay_within_the_budget() {
    let h = harness(|config| {
        config.breaker.threshold = 10_000;
        config.retry.budget_reserve = 5.0;
    })
    .await;
    let key = h.api_key().await;
    let requests = 60;
    for _ in 0..requests {
        let response = h.post("/v1/chat/completions", &key).json(&chat("openai/fault-500")).send().await.unwrap();
        assert_eq!(response.status(), 502);
    }
    let seen = h.upstream_calls();
    assert!(seen <= requests + requests / 5 + 5 + 1, "{seen} upstream requests for {requests}");
    assert!(seen > requests, "some retries were made");
    let metrics = h.http.get(h.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("arouter_retry_budget_exhausted_total{provider=\"openai\"} 0"), "{metrics}");
}

#[tokio::test]
async fn provider_preferences_and_variants_choose_the_order() {
    let h = harness(|_| {}).await;
    let key = h.api_key().await;
    let ask = |body: Value| h.post("/v1/chat/completions", &key).json(&body).send();

    // `:floor` puts the cheapest candidate first (Gemini Flash is cheaper than both).
    let body = with_models("openai/gpt-5.4:floor", &["anthropic/claude-sonnet-4.6", "google/gemini-2.5-flash"]);
    let answer: Value = ask(body).await.unwrap().json().await.unwrap();
    assert_eq!(answer["model"], "google/gemini-2.5-flash");

    // `order` moves the named providers to the front; `only` filters.
    let mut body = with_models("openai/gpt-5.4", &["anthropic/claude-sonnet-4.6"]);
    body["provider"] = json!({ "order": ["anthropic"] });
    let answer: Value = ask(body.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(answer["model"], "anthropic/claude-sonnet-4.6");
    body["provider"] = json!({ "only": ["openai"] });
    let answer: Value = ask(body).await.unwrap().json().await.unwrap();
    assert_eq!(answer["model"], "openai/gpt-5.4");

    // `allow_fallbacks: false`: the first candidate's failure is the answer.
    let mut body = with_models("openai/fault-503", &["anthropic/claude-sonnet-4.6"]);
    body["provider"] = json!({ "allow_fallbacks": false });
    let response = ask(body).await.unwrap();
    assert_error(response, 503, "server_error", "overloaded").await;
    let sent = upstream_models(&h.mock.requests());
    assert_eq!(sent.iter().filter(|m| *m == "fault-503").count(), 3, "retried, not sent elsewhere: {sent:?}");
    assert_eq!(sent.iter().filter(|m| *m == "claude-sonnet-4-6").count(), 1, "only the `order` request: {sent:?}");

    // A key limited to one provider never falls back to another.
    let (limited, _) = h.create_key(json!({ "name": "openai only", "allowed_providers": ["openai"] })).await;
    let body = with_models("anthropic/claude-sonnet-4.6", &["openai/gpt-5.4"]);
    let response = h.post("/v1/chat/completions", &limited).json(&body).send().await.unwrap();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["model"], "openai/gpt-5.4", "the disallowed candidate is dropped");
    let body = with_models("anthropic/claude-sonnet-4.6", &["google/gemini-2.5-flash"]);
    let response = h.post("/v1/chat/completions", &limited).json(&body).send().await.unwrap();
    assert_error(response, 403, "forbidden_error", "provider 'anthropic' is not allowed").await;
}
