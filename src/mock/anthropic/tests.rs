//! The fake Anthropic API over real HTTP.

use std::time::Duration;

use serde_json::{Value, json};

use super::{ANSWER_PREFIX as GREETING, CACHED_TOKENS, THINKING_SIGNATURE, THINKING_TEXT, TOOL_USE_ID};
use crate::config::Config;
use crate::mock::{MOCK_API_KEY, MockOptions, MockUpstream};

async fn start() -> MockUpstream {
    MockUpstream::start(MockOptions { chunk_delay: Duration::ZERO, ..MockOptions::default() }).await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post(mock: &MockUpstream, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", mock.anthropic_base_url()))
        .header("x-api-key", MOCK_API_KEY)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn messages(mock: &MockUpstream, body: &Value) -> (u16, Value) {
    let response = post(mock, "/v1/messages", body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// `(event name, data)` of every SSE event.
fn events(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter(|chunk| !chunk.is_empty())
        .map(|chunk| {
            let mut name = String::new();
            let mut data = String::new();
            for line in chunk.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = v.to_owned();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = v.to_owned();
                }
            }
            (name, data)
        })
        .collect()
}

async fn stream(mock: &MockUpstream, mut body: Value) -> (reqwest::header::HeaderMap, Vec<(String, String)>) {
    body["stream"] = json!(true);
    let response = post(mock, "/v1/messages", &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let headers = response.headers().clone();
    (headers, events(&response.text().await.unwrap()))
}

fn parsed(events: &[(String, String)]) -> Vec<(String, Value)> {
    events.iter().map(|(name, data)| (name.clone(), serde_json::from_str(data).unwrap())).collect()
}

fn hello(model: &str, text: &str) -> Value {
    json!({ "model": model, "max_tokens": 1024, "messages": [{ "role": "user", "content": text }] })
}

fn weather_tool() -> Value {
    json!({ "name": "get_weather", "description": "Weather", "input_schema": { "type": "object", "properties": { "city": { "type": "string" } } } })
}

#[tokio::test]
async fn answers_text_in_the_messages_shape() {
    let mock = start().await;
    let body = json!({
        "model": "claude-sonnet-4-6",
        "max_tokens": 1024,
        "system": "Be brief.",
        "messages": [
            { "role": "user", "content": "first question" },
            { "role": "assistant", "content": [{ "type": "text", "text": "first answer" }] },
            { "role": "user", "content": [{ "type": "text", "text": "hi" }, { "type": "text", "text": "there" }] }
        ]
    });
    let response = post(&mock, "/v1/messages", &body).await;
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["request-id"].to_str().unwrap().to_owned();
    assert!(request_id.starts_with("req_mock"), "{request_id}");
    let m: Value = response.json().await.unwrap();
    assert!(m["id"].as_str().unwrap().starts_with("msg_mock"));
    assert_eq!(m["type"], "message");
    assert_eq!(m["role"], "assistant");
    assert_eq!(m["model"], "claude-sonnet-4-6");
    assert_eq!(m["content"], json!([{ "type": "text", "text": format!("{GREETING} hi there") }]));
    assert_eq!(m["stop_reason"], "end_turn");
    assert_eq!(m["stop_sequence"], Value::Null);
    // system 2 words; messages (2 + 3) + (2 + 3) + (2 + 3).
    assert_eq!(
        m["usage"],
        json!({
            "input_tokens": 17, "output_tokens": 12,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            "cache_creation": { "ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0 },
            "service_tier": "standard"
        })
    );
    let recorded = mock.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].path, "/v1/messages");
    assert_eq!(recorded[0].headers["x-api-key"], MOCK_API_KEY);
    assert_eq!(recorded[0].json(), body);
}

#[tokio::test]
async fn max_tokens_and_stop_sequences_end_the_answer() {
    let mock = start().await;
    let (_, m) =
        messages(&mock, &json!({ "model": "m", "max_tokens": 3, "messages": [{ "role": "user", "content": "x" }] }))
            .await;
    assert_eq!(m["content"][0]["text"], "Hello! This is");
    assert_eq!(m["stop_reason"], "max_tokens");
    assert_eq!(m["usage"]["output_tokens"], 3);

    let body = json!({ "model": "m", "max_tokens": 100, "stop_sequences": ["zzz", "mock"], "messages": [{ "role": "user", "content": "x" }] });
    let (_, m) = messages(&mock, &body).await;
    assert_eq!(m["content"][0]["text"], "Hello! This is the arouter");
    assert_eq!(m["stop_reason"], "stop_sequence");
    assert_eq!(m["stop_sequence"], "mock");
    assert_eq!(m["usage"]["output_tokens"], 5);

    let (_, m) =
        messages(&mock, &json!({ "model": "m", "max_tokens": 0, "messages": [{ "role": "user", "content": "x" }] }))
            .await;
    assert_eq!(m["content"], json!([]));
    assert_eq!(m["stop_reason"], "max_tokens");
}

#[tokio::test]
async fn calls_the_first_tool_unless_the_tool_was_answered() {
    let mock = start().await;
    let mut body = hello("claude-sonnet-4-6", "weather in Paris?");
    body["tools"] = json!([weather_tool(), { "name": "other", "input_schema": { "type": "object" } }]);
    let (status, m) = messages(&mock, &body).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(
        m["content"],
        json!([
            { "type": "text", "text": "Let me check." },
            { "type": "tool_use", "id": TOOL_USE_ID, "name": "get_weather", "input": { "input": "weather in Paris?" } }
        ])
    );
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(m["usage"]["output_tokens"], 13);

    // A forced tool: no preamble (the real API prefills), the named tool.
    body["tool_choice"] = json!({ "type": "tool", "name": "other" });
    let (_, m) = messages(&mock, &body).await;
    assert_eq!(
        m["content"],
        json!([{ "type": "tool_use", "id": TOOL_USE_ID, "name": "other", "input": { "input": "weather in Paris?" } }])
    );
    assert_eq!(m["usage"]["output_tokens"], 10);

    body["tool_choice"] = json!({ "type": "none" });
    let (_, m) = messages(&mock, &body).await;
    assert_eq!(m["stop_reason"], "end_turn");

    // The tool's result comes back: a text answer.
    body["tool_choice"] = json!({ "type": "auto" });
    body["messages"] = json!([
        { "role": "user", "content": "weather in Paris?" },
        { "role": "assistant", "content": [
            { "type": "text", "text": "Let me check." },
            { "type": "tool_use", "id": TOOL_USE_ID, "name": "get_weather", "input": { "city": "Paris" } }
        ] },
        { "role": "user", "content": [
            { "type": "tool_result", "tool_use_id": TOOL_USE_ID, "content": "sunny and warm" },
            { "type": "text", "text": "thanks" }
        ] }
    ]);
    let (status, m) = messages(&mock, &body).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["content"][0]["text"], format!("{GREETING} thanks"));
    assert_eq!(m["stop_reason"], "end_turn");
    // (3 + 3) + (3 + 3) + (thanks + "sunny and warm" = 4, + 3)
    assert_eq!(m["usage"]["input_tokens"], 19);
}

#[tokio::test]
async fn thinking_comes_first() {
    let mock = start().await;
    let mut body = hello("claude-opus-4-6", "hello");
    body["max_tokens"] = json!(2048);
    body["thinking"] = json!({ "type": "enabled", "budget_tokens": 1024 });
    let (status, m) = messages(&mock, &body).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(
        m["content"][0],
        json!({ "type": "thinking", "thinking": THINKING_TEXT, "signature": THINKING_SIGNATURE })
    );
    assert_eq!(m["content"][1], json!({ "type": "text", "text": format!("{GREETING} hello") }));
    assert_eq!(m["usage"]["output_tokens"], 11 + 8);
}

#[tokio::test]
async fn streams_the_real_event_sequence() {
    let mock = start().await;
    let (headers, raw) = stream(&mock, hello("claude-sonnet-4-6", "how are you")).await;
    assert!(headers["request-id"].to_str().unwrap().starts_with("req_mock"));
    let events = parsed(&raw);
    for (name, data) in &events {
        assert_eq!(data["type"], name.as_str(), "event name and data type agree");
    }
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let words = 13;
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(std::iter::repeat_n("content_block_delta", words));
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);

    let start = &events[0].1["message"];
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);
    assert_eq!(start["usage"]["input_tokens"], 6);
    assert_eq!(start["usage"]["output_tokens"], 1);
    assert_eq!(start["usage"]["cache_read_input_tokens"], 0);
    assert_eq!(events[1].1["content_block"], json!({ "type": "text", "text": "" }));

    let text: String = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| {
            assert_eq!(d["index"], 0);
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, format!("{GREETING} how are you"));

    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"], json!({ "stop_reason": "end_turn", "stop_sequence": null }));
    assert_eq!(delta["usage"]["output_tokens"], words);
    assert_eq!(delta["usage"]["input_tokens"], 6);

    let logs = mock.streams();
    assert_eq!(logs.len(), 1);
    assert!(logs[0].finished);
    assert_eq!(logs[0].chunks_sent, names.len());
}

#[tokio::test]
async fn streams_thinking_and_tool_use_blocks() {
    let mock = start().await;
    let mut body = hello("claude-sonnet-4-6", "weather in Paris?");
    body["max_tokens"] = json!(4096);
    body["thinking"] = json!({ "type": "enabled", "budget_tokens": 2048 });
    body["tools"] = json!([weather_tool()]);
    let (_, raw) = stream(&mock, body).await;
    let events = parsed(&raw);

    let starts: Vec<&Value> =
        events.iter().filter(|(n, _)| n == "content_block_start").map(|(_, d)| &d["content_block"]).collect();
    assert_eq!(
        starts,
        [
            &json!({ "type": "thinking", "thinking": "", "signature": "" }),
            &json!({ "type": "text", "text": "" }),
            &json!({ "type": "tool_use", "id": TOOL_USE_ID, "name": "get_weather", "input": {} }),
        ]
    );
    let deltas = |index: u64, kind: &str, field: &str| -> Vec<String> {
        events
            .iter()
            .filter(|(n, d)| n == "content_block_delta" && d["index"] == index && d["delta"]["type"] == kind)
            .map(|(_, d)| d["delta"][field].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(deltas(0, "thinking_delta", "thinking").concat(), THINKING_TEXT);
    assert_eq!(deltas(0, "signature_delta", "signature"), [THINKING_SIGNATURE]);
    assert_eq!(deltas(1, "text_delta", "text").concat(), "Let me check.");
    let fragments = deltas(2, "input_json_delta", "partial_json");
    assert!((3..=4).contains(&fragments.len()), "{fragments:?}");
    let input: Value = serde_json::from_str(&fragments.concat()).unwrap();
    assert_eq!(input, json!({ "input": "weather in Paris?" }));

    let stops = events.iter().filter(|(n, _)| n == "content_block_stop").count();
    assert_eq!(stops, 3);
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 3 + 10 + 8);
}

#[tokio::test]
async fn http_faults_use_anthropic_error_bodies() {
    let mock = start().await;
    for (model, status, kind) in [
        ("fault-500", 500, "api_error"),
        ("claude-fault-529", 529, "overloaded_error"),
        ("fault-429", 429, "rate_limit_error"),
        ("fault-400", 400, "invalid_request_error"),
        ("fault-401", 401, "authentication_error"),
    ] {
        let response = post(&mock, "/v1/messages", &hello(model, "hi")).await;
        assert_eq!(response.status().as_u16(), status, "{model}");
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(retry_after.as_deref(), (status == 429).then_some("7"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], kind);
        assert!(body["request_id"].as_str().unwrap().starts_with("req_mock"));
    }
    let response = post(&mock, "/v1/messages", &hello("fault-malformed", "hi")).await;
    assert_eq!(response.status(), 200);
    assert!(serde_json::from_str::<Value>(&response.text().await.unwrap()).is_err());
}

#[tokio::test]
async fn stream_faults_cut_or_error_midway() {
    let mock = start().await;
    let (_, raw) = stream(&mock, hello("fault-cut", "hi")).await;
    let names: Vec<&str> = raw.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["message_start", "content_block_start", "ping", "content_block_delta"]);

    let (_, raw) = stream(&mock, hello("fault-midstream-error", "hi")).await;
    let (last_name, last_data) = raw.last().unwrap();
    assert_eq!(last_name, "error");
    let last: Value = serde_json::from_str(last_data).unwrap();
    assert_eq!(last, json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } }));
    assert_eq!(raw.iter().filter(|(n, _)| n == "content_block_delta").count(), 2);
    assert!(!raw.iter().any(|(n, _)| n == "message_stop"));

    let (_, raw) = stream(&mock, hello("fault-malformed", "hi")).await;
    assert_eq!(raw.last().unwrap().1, "{not json");
}

#[tokio::test]
async fn hang_never_answers() {
    let mock = start().await;
    let body = hello("fault-hang", "hi");
    let sent = tokio::time::timeout(Duration::from_millis(200), post(&mock, "/v1/messages", &body));
    assert!(sent.await.is_err());
    assert_eq!(mock.requests().len(), 1, "recorded before hanging");
}

#[tokio::test]
async fn checks_key_and_version() {
    let mock = start().await;
    let url = format!("{}/v1/messages", mock.anthropic_base_url());
    let body = hello("m", "hi");
    let send = |key: Option<&'static str>, version: bool| {
        let mut request = client().post(&url).json(&body);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        if version {
            request = request.header("anthropic-version", "2023-06-01");
        }
        request.send()
    };
    let wrong = send(Some("sk-wrong"), true).await.unwrap();
    assert_eq!(wrong.status(), 401);
    let wrong: Value = wrong.json().await.unwrap();
    assert_eq!(wrong["error"], json!({ "type": "authentication_error", "message": "invalid x-api-key" }));
    assert_eq!(send(None, true).await.unwrap().status(), 401);
    let bearer = client().post(&url).bearer_auth(MOCK_API_KEY).header("anthropic-version", "2023-06-01").json(&body);
    assert_eq!(bearer.send().await.unwrap().status(), 401);
    let unversioned = send(Some(MOCK_API_KEY), false).await.unwrap();
    assert_eq!(unversioned.status(), 400);
    let unversioned: Value = unversioned.json().await.unwrap();
    assert_eq!(unversioned["error"]["message"], "anthropic-version header is required");
}

#[tokio::test]
async fn validates_like_the_real_api() {
    let mock = start().await;
    let user = |content: Value| json!({ "role": "user", "content": content });
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "model": "m", "messages": [user(json!("hi"))] }), "max_tokens: Field required"),
        (json!({ "model": "m", "max_tokens": 10 }), "messages: Field required"),
        (json!({ "model": "m", "max_tokens": 10, "messages": [] }), "messages: at least one message is required"),
        (
            json!({ "model": "m", "max_tokens": 10, "messages": [{ "role": "system", "content": "x" }] }),
            "messages.0.role: Input should be 'user' or 'assistant'",
        ),
        (
            json!({ "model": "m", "max_tokens": 10, "messages": [user(json!([{ "type": "text", "text": "" }]))] }),
            "messages: text content blocks must be non-empty",
        ),
        (
            json!({ "model": "m", "max_tokens": 10, "messages": [user(json!("  "))] }),
            "messages: text content blocks must contain non-whitespace text",
        ),
        (
            json!({ "model": "m", "max_tokens": 10, "messages": [user(json!("")), { "role": "assistant", "content": "ok" }] }),
            "messages.0: all messages must have non-empty content except for the optional final assistant message",
        ),
        (
            json!({ "model": "m", "max_tokens": 10, "temperature": 1.5, "messages": [user(json!("hi"))] }),
            "temperature: Input should be less than or equal to 1",
        ),
        (
            json!({ "model": "claude-sonnet-4-6", "max_tokens": 10, "temperature": 0.5, "top_p": 0.9, "messages": [user(json!("hi"))] }),
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
        ),
        (
            json!({ "model": "m", "max_tokens": 10, "stream_options": { "include_usage": true }, "messages": [user(json!("hi"))] }),
            "stream_options: Extra inputs are not permitted",
        ),
        (
            json!({ "model": "m", "max_tokens": 10, "messages": [user(json!([{ "type": "image_url", "image_url": {} }]))] }),
            "messages.0.content.0: Input tag 'image_url' found using 'type'",
        ),
        (
            json!({ "model": "m", "max_tokens": 10, "messages": [
                user(json!("hi")),
                { "role": "assistant", "content": [{ "type": "tool_use", "id": "toolu_1", "name": "t", "input": {} }] },
                user(json!("what?"))
            ] }),
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1.",
        ),
        (
            json!({ "model": "m", "max_tokens": 10, "messages": [user(json!([{ "type": "tool_result", "tool_use_id": "toolu_9", "content": "x" }]))] }),
            "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_9.",
        ),
        (
            json!({ "model": "m", "max_tokens": 10, "messages": [
                user(json!("hi")),
                { "role": "assistant", "content": [{ "type": "tool_use", "id": "toolu_1", "name": "t", "input": "{}" }] },
                user(json!([{ "type": "tool_result", "tool_use_id": "toolu_1", "content": "x" }]))
            ] }),
            "messages.1.content.0.tool_use.input: Input should be a valid dictionary",
        ),
        (
            json!({ "model": "m", "max_tokens": 10, "tools": [{ "type": "function", "function": { "name": "f" } }], "messages": [user(json!("hi"))] }),
            "tools.0: Input tag 'function' found using 'type'",
        ),
        (
            json!({ "model": "m", "max_tokens": 10, "tools": [weather_tool()], "tool_choice": "auto", "messages": [user(json!("hi"))] }),
            "tool_choice: Input should be a valid dictionary",
        ),
        (
            json!({ "model": "m", "max_tokens": 1024, "thinking": { "type": "enabled", "budget_tokens": 1024 }, "messages": [user(json!("hi"))] }),
            "`max_tokens` must be greater than `thinking.budget_tokens`.",
        ),
        (
            json!({ "model": "m", "max_tokens": 4096, "thinking": { "type": "enabled", "budget_tokens": 1024 }, "temperature": 0.2, "messages": [user(json!("hi"))] }),
            "`temperature` may only be set to 1 when thinking is enabled",
        ),
        (
            json!({ "model": "m", "max_tokens": 10, "messages": [user(json!("hi")), { "role": "assistant", "content": "Sure " }] }),
            "messages: final assistant content cannot end with trailing whitespace",
        ),
    ];
    for (body, message) in cases {
        let (status, error) = messages(&mock, &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error["type"], "error");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        let got = error["error"]["message"].as_str().unwrap();
        assert!(got.starts_with(message), "{body}: {got}");
    }
    // Accepted: a final assistant prefill, temperature with top_p on an older model.
    let prefill = json!({ "model": "claude-sonnet-4-20250514", "max_tokens": 10, "temperature": 0.5, "top_p": 0.9,
                          "messages": [user(json!("hi")), { "role": "assistant", "content": "Sure" }] });
    assert_eq!(messages(&mock, &prefill).await.0, 200);
}

#[tokio::test]
async fn cache_control_reports_cache_writes_then_reads() {
    let mock = start().await;
    let mut body = hello("claude-sonnet-4-6", "hi");
    body["system"] =
        json!([{ "type": "text", "text": "long shared prompt", "cache_control": { "type": "ephemeral" } }]);
    let (_, m) = messages(&mock, &body).await;
    assert_eq!(m["usage"]["cache_creation_input_tokens"], CACHED_TOKENS);
    assert_eq!(m["usage"]["cache_creation"]["ephemeral_5m_input_tokens"], CACHED_TOKENS);
    assert_eq!(m["usage"]["cache_read_input_tokens"], 0);
    assert_eq!(m["usage"]["input_tokens"], 3 + 1 + 3);

    body["metadata"] = json!({ "user_id": "cached-before" });
    let (_, raw) = stream(&mock, body).await;
    let events = parsed(&raw);
    let usage = &events[0].1["message"]["usage"];
    assert_eq!(usage["cache_read_input_tokens"], CACHED_TOKENS);
    assert_eq!(usage["cache_creation_input_tokens"], 0);
    assert_eq!(events[events.len() - 2].1["usage"]["cache_read_input_tokens"], CACHED_TOKENS);
}

#[tokio::test]
async fn counts_tokens_like_messages_does() {
    let mock = start().await;
    let body = json!({
        "model": "claude-sonnet-4-6",
        "system": "You are terse.",
        "messages": [{ "role": "user", "content": "count these four words" }]
    });
    let response = post(&mock, "/v1/messages/count_tokens", &body).await;
    assert_eq!(response.status(), 200);
    let counted: Value = response.json().await.unwrap();
    assert_eq!(counted, json!({ "input_tokens": 3 + 4 + 3 }));

    let mut full = body.clone();
    full["max_tokens"] = json!(100);
    let (_, m) = messages(&mock, &full).await;
    assert_eq!(m["usage"]["input_tokens"], counted["input_tokens"]);

    let rejected = post(&mock, "/v1/messages/count_tokens", &full).await;
    assert_eq!(rejected.status(), 400);
    let rejected: Value = rejected.json().await.unwrap();
    assert_eq!(rejected["error"]["message"], "max_tokens: Extra inputs are not permitted");
}

#[tokio::test]
async fn models_answer_in_the_shape_of_the_auth_header() {
    let mock = start().await;
    let url = format!("{}/v1/models", mock.anthropic_base_url());
    let anthropic: Value = client()
        .get(&url)
        .header("x-api-key", MOCK_API_KEY)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anthropic["has_more"], false);
    assert_eq!(anthropic["first_id"], "claude-sonnet-4-6");
    assert_eq!(anthropic["last_id"], "claude-haiku-4-5");
    let first = &anthropic["data"][0];
    assert_eq!(first["type"], "model");
    assert_eq!(first["display_name"], "Claude Sonnet 4.6");
    assert!(first["created_at"].as_str().unwrap().ends_with('Z'));

    let page: Value = client()
        .get(format!("{url}?limit=1&after_id=claude-sonnet-4-6"))
        .header("x-api-key", MOCK_API_KEY)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["first_id"], "claude-opus-4-6");
    assert_eq!(page["has_more"], true);

    let wrong = client().get(&url).header("x-api-key", "nope").header("anthropic-version", "2023-06-01");
    assert_eq!(wrong.send().await.unwrap().status(), 401);

    let openai: Value = client().get(&url).bearer_auth(MOCK_API_KEY).send().await.unwrap().json().await.unwrap();
    assert_eq!(openai["object"], "list");
    assert_eq!(openai["data"][0]["object"], "model");
}

#[tokio::test]
async fn configure_points_anthropic_at_the_mock() {
    let mock = start().await;
    let mut config = Config::for_tests();
    mock.configure(&mut config);
    let anthropic = config.provider("anthropic").unwrap();
    assert_eq!(anthropic.base_url, format!("http://{}", mock.addr()));
    assert_eq!(anthropic.api_key.as_ref().unwrap().0, MOCK_API_KEY);
    assert_eq!(config.provider("openai").unwrap().base_url, format!("http://{}/v1", mock.addr()));
}
