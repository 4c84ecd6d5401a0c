//! Anthropic end to end: OpenAI clients reaching Claude (translated), Anthropic clients on the
//! native `/v1/messages` surface (passthrough for Claude, translated for other providers), and
//! Anthropic-shaped errors. Always against the real mock upstream over HTTP.

use arouter::mock::anthropic::{ANSWER_PREFIX, THINKING_TEXT, TOOL_USE_ID};
use serde_json::{Value, json};

use crate::common::{Harness, assert_error, chat, sse_events};

const OPENAI_ANSWER: &str = "Hello! This is the arouter mock upstream. You said:";

fn messages_body(model: &str) -> Value {
    json!({ "model": model, "max_tokens": 256, "messages": [{ "role": "user", "content": "Hello!" }] })
}

/// A `/v1/messages` request the way the Anthropic SDK sends it.
fn anthropic_request(h: &Harness, key: &str, body: &Value) -> reqwest::RequestBuilder {
    h.http.post(h.url("/v1/messages")).header("x-api-key", key).header("anthropic-version", "2023-06-01").json(body)
}

/// `(event name, data)` pairs of an Anthropic SSE body.
async fn anthropic_events(response: reqwest::Response) -> Vec<(String, Value)> {
    let text = response.text().await.unwrap();
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let event = block.lines().find_map(|l| l.strip_prefix("event: ")).expect("every frame names its event");
            let data = block.lines().find_map(|l| l.strip_prefix("data: ")).expect("every frame has data");
            (event.to_owned(), serde_json::from_str(data).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn openai_clients_reach_claude_through_translation() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let body = json!({
        "model": "anthropic/claude-sonnet-4.6",
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "user", "content": "Hello!" }
        ],
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": "NEVER",
    });
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-generation-id"].to_str().unwrap().to_owned();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["id"], id.as_str());
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "anthropic/claude-sonnet-4.6");
    assert!(answer["system_fingerprint"].is_null() && answer.get("system_fingerprint").is_some());
    assert_eq!(answer["choices"][0]["message"]["role"], "assistant");
    assert_eq!(answer["choices"][0]["message"]["content"], format!("{ANSWER_PREFIX} Hello!"));
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(answer["choices"][0]["native_finish_reason"], "end_turn");
    let usage = &answer["usage"];
    assert_eq!(
        usage["total_tokens"],
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    assert!(usage["cost"].as_f64().unwrap() > 0.0);

    // What Anthropic received.
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.headers["x-api-key"], arouter::mock::MOCK_API_KEY);
    assert_eq!(sent.headers["anthropic-version"], "2023-06-01");
    assert!(sent.headers.get("authorization").is_none());
    let sent = sent.json();
    assert_eq!(sent["model"], "claude-sonnet-4-6");
    assert_eq!(sent["max_tokens"], 64000, "defaulted from the catalog");
    assert_eq!(sent["system"][0]["text"], "Be brief.");
    assert_eq!(sent["messages"], json!([{ "role": "user", "content": [{ "type": "text", "text": "Hello!" }] }]));
    assert_eq!(sent["temperature"], 0.5);
    assert!(sent.get("top_p").is_none(), "newer Claude models refuse temperature with top_p");
    assert_eq!(sent["stop_sequences"], json!(["NEVER"]));

    let record = h.generation(&id).await;
    assert_eq!((record.provider.as_str(), record.native_model.as_str()), ("anthropic", "claude-sonnet-4-6"));
    assert_eq!(record.usage.prompt_tokens, usage["prompt_tokens"].as_u64().unwrap());
    assert_eq!(record.cost_nano, (usage["cost"].as_f64().unwrap() * 1e9).round() as i64);
}

#[tokio::test]
async fn tool_calls_round_trip_between_openai_clients_and_claude() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let tools = json!([{ "type": "function", "function": {
        "name": "get_weather", "description": "Weather", "parameters": { "type": "object", "properties": { "input": { "type": "string" } } } } }]);
    let body = json!({ "model": "anthropic/claude-sonnet-4.6", "messages": [{ "role": "user", "content": "Paris?" }], "tools": tools, "tool_choice": "required" });
    let answer: Value = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap().json().await.unwrap();
    let call = &answer["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(call["id"], TOOL_USE_ID);
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({ "input": "Paris?" }));
    let sent = h.mock.requests().pop().unwrap().json();
    assert_eq!(sent["tool_choice"], json!({ "type": "any" }));
    assert_eq!(sent["tools"][0]["name"], "get_weather");
    assert_eq!(sent["tools"][0]["input_schema"]["type"], "object");

    // The next turn carries the result back; Anthropic gets it as a tool_result in a user turn.
    let follow_up = json!({ "model": "anthropic/claude-sonnet-4.6", "tools": tools, "messages": [
        { "role": "user", "content": "Paris?" },
        { "role": "assistant", "content": null, "tool_calls": [call] },
        { "role": "tool", "tool_call_id": TOOL_USE_ID, "content": "Sunny, 21°C" },
    ]});
    let response = h.post("/v1/chat/completions", &key).json(&follow_up).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let sent = h.mock.requests().pop().unwrap().json();
    let turns = sent["messages"].as_array().unwrap();
    assert_eq!(turns.len(), 3);
    assert_eq!(turns[1]["content"][0]["type"], "tool_use");
    assert_eq!(turns[1]["content"][0]["input"], json!({ "input": "Paris?" }));
    assert_eq!(turns[2]["role"], "user");
    assert_eq!(turns[2]["content"][0]["type"], "tool_result");
    assert_eq!(turns[2]["content"][0]["tool_use_id"], TOOL_USE_ID);
}

#[tokio::test]
async fn streams_from_claude_arrive_as_openai_chunks() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let mut body = chat("anthropic/claude-sonnet-4.6");
    body["stream"] = json!(true);
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let id = response.headers()["x-generation-id"].to_str().unwrap().to_owned();
    let events = sse_events(response).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert!(chunks.iter().all(|c| c["id"] == id.as_str()
        && c["object"] == "chat.completion.chunk"
        && c["model"] == "anthropic/claude-sonnet-4.6"));
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, format!("{ANSWER_PREFIX} Hello!"));
    let usage_chunk = chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert!(usage_chunk["usage"]["cost"].as_f64().unwrap() > 0.0);
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "stop"));
    let record = h.generation(&id).await;
    assert!(!record.usage_estimated);
    assert_eq!(record.usage.completion_tokens, usage_chunk["usage"]["completion_tokens"].as_u64().unwrap());
    assert!(h.mock.requests()[0].json()["stream"] == true);
}

#[tokio::test]
async fn streamed_tool_calls_and_thinking_from_claude() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let body = json!({
        "model": "anthropic/claude-sonnet-4.6", "stream": true, "max_tokens": 4000,
        "reasoning": { "max_tokens": 2048 },
        "messages": [{ "role": "user", "content": "Paris?" }],
        "tools": [{ "type": "function", "function": { "name": "get_weather", "parameters": { "type": "object" } } }],
    });
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let events = sse_events(response).await;
    let chunks: Vec<Value> =
        events.iter().filter(|e| *e != "[DONE]").map(|e| serde_json::from_str(e).unwrap()).collect();
    let reasoning: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["reasoning"].as_str()).collect();
    assert_eq!(reasoning, THINKING_TEXT);
    let calls: Vec<&Value> = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0)).collect();
    assert_eq!(calls[0]["index"], 0);
    assert_eq!(calls[0]["id"], TOOL_USE_ID);
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert!(calls[1..].iter().all(|c| c["index"] == 0 && c.get("id").is_none() && c["function"].get("name").is_none()));
    let arguments: String = calls.iter().filter_map(|c| c["function"]["arguments"].as_str()).collect();
    assert_eq!(serde_json::from_str::<Value>(&arguments).unwrap(), json!({ "input": "Paris?" }));
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
    let sent = h.mock.requests()[0].json();
    assert_eq!(sent["thinking"], json!({ "type": "enabled", "budget_tokens": 2048 }));
}

#[tokio::test]
async fn claude_failures_keep_the_openai_contract() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let overloaded = h.post("/v1/chat/completions", &key).json(&chat("anthropic/fault-529")).send().await.unwrap();
    assert_error(overloaded, 503, "server_error", "overloaded").await;
    let limited = h.post("/v1/chat/completions", &key).json(&chat("anthropic/fault-429")).send().await.unwrap();
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_error(limited, 429, "rate_limit_error", "rate limiting").await;
    let mut body = chat("anthropic/fault-midstream-error");
    body["stream"] = json!(true);
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let events = sse_events(response).await;
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "error");
    assert!(last["error"]["code"].as_u64().unwrap() >= 500);
    assert!(!events.iter().any(|e| e == "[DONE]"));
}

#[tokio::test]
async fn anthropic_clients_reach_claude_natively() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let body = r#"{"model":"claude-sonnet-4.6","max_tokens":256,"messages":[{"role":"user","content":"Hello!"}],"metadata":{"user_id":"u-1"}}"#;
    let response = h
        .http
        .post(h.url("/v1/messages"))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "prompt-caching-2024-07-31")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["request-id"].to_str().unwrap().starts_with("req_mock"));
    let id = response.headers()["x-generation-id"].to_str().unwrap().to_owned();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["content"][0]["text"], format!("{ANSWER_PREFIX} Hello!"));
    assert_eq!(answer["stop_reason"], "end_turn");

    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.headers["anthropic-beta"], "prompt-caching-2024-07-31");
    assert_eq!(sent.headers["x-api-key"], arouter::mock::MOCK_API_KEY, "the provider key, never the client's");
    assert_eq!(
        String::from_utf8(sent.body.to_vec()).unwrap(),
        r#"{"model":"claude-sonnet-4-6","max_tokens":256,"messages":[{"role":"user","content":"Hello!"}],"metadata":{"user_id":"u-1"}}"#,
        "same format: the client's bytes with only the model rewritten"
    );
    let record = h.generation(&id).await;
    assert_eq!(record.usage.prompt_tokens, answer["usage"]["input_tokens"].as_u64().unwrap());
    assert_eq!(record.usage.completion_tokens, answer["usage"]["output_tokens"].as_u64().unwrap());
    assert!(record.cost_nano > 0);
}

#[tokio::test]
async fn native_streams_pass_through_with_their_event_lines() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let mut body = messages_body("claude-sonnet-4.6");
    body["stream"] = json!(true);
    let response = anthropic_request(&h, &key, &body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-generation-id"].to_str().unwrap().to_owned();
    let events = anthropic_events(response).await;
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(names.contains(&"ping") && names.contains(&"content_block_delta") && names.contains(&"message_delta"));
    assert!(events.iter().all(|(name, data)| data["type"] == name.as_str()));
    let text: String = events.iter().filter_map(|(_, d)| d["delta"]["text"].as_str()).collect();
    assert_eq!(text, format!("{ANSWER_PREFIX} Hello!"));
    let record = h.generation(&id).await;
    assert!(record.streamed && !record.usage_estimated && record.cost_nano > 0);
    assert_eq!(record.finish_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn anthropic_clients_reach_openai_models_through_translation() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let mut body = messages_body("openai/gpt-5.4");
    body["system"] = json!("Be brief.");
    let response = anthropic_request(&h, &key, &body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["role"], "assistant");
    assert_eq!(answer["model"], "openai/gpt-5.4");
    assert_eq!(answer["content"][0]["type"], "text");
    assert_eq!(answer["content"][0]["text"], format!("{OPENAI_ANSWER} Hello!"));
    assert_eq!(answer["stop_reason"], "end_turn");
    assert!(answer["usage"]["input_tokens"].as_u64().unwrap() > 0);
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/chat/completions");
    let sent = sent.json();
    assert_eq!(sent["model"], "gpt-5.4");
    assert_eq!(sent["messages"][0], json!({ "role": "system", "content": "Be brief." }));
    assert_eq!(sent["max_completion_tokens"], 256);

    body["stream"] = json!(true);
    let response = anthropic_request(&h, &key, &body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let events = anthropic_events(response).await;
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(&names[names.len() - 2..], &["message_delta", "message_stop"]);
    let text: String = events.iter().filter_map(|(_, d)| d["delta"]["text"].as_str()).collect();
    assert_eq!(text, format!("{OPENAI_ANSWER} Hello!"));
    let (_, delta) = &events[events.len() - 2];
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn errors_on_the_native_surface_are_anthropic_shaped() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let check = |status: u16, kind: &'static str| {
        move |response: reqwest::Response| async move {
            assert_eq!(response.status().as_u16(), status);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["type"], "error", "{body}");
            assert_eq!(body["error"]["type"], kind, "{body}");
            assert!(body["error"]["message"].is_string());
        }
    };
    let unknown = anthropic_request(&h, "lr_live_0000", &messages_body("claude-sonnet-4.6")).send().await.unwrap();
    check(401, "authentication_error")(unknown).await;
    let no_messages =
        anthropic_request(&h, &key, &json!({ "model": "claude-sonnet-4.6", "max_tokens": 5 })).send().await.unwrap();
    check(400, "invalid_request_error")(no_messages).await;
    let no_max = anthropic_request(
        &h,
        &key,
        &json!({ "model": "claude-sonnet-4.6", "messages": [{ "role": "user", "content": "x" }] }),
    )
    .send()
    .await
    .unwrap();
    check(400, "invalid_request_error")(no_max).await;
    assert_eq!(h.upstream_calls(), 0, "bad input never reaches the upstream");
    let overloaded = anthropic_request(&h, &key, &messages_body("fault-529")).send().await.unwrap();
    check(503, "overloaded_error")(overloaded).await;
    let limited = anthropic_request(&h, &key, &messages_body("fault-429")).send().await.unwrap();
    assert_eq!(limited.headers()["retry-after"], "7");
    check(429, "rate_limit_error")(limited).await;
    let restricted = h.create_key(json!({ "name": "openai-only", "allowed_providers": ["openai"] })).await.0;
    let refused = anthropic_request(&h, &restricted, &messages_body("claude-sonnet-4.6")).send().await.unwrap();
    check(403, "permission_error")(refused).await;
}

#[tokio::test]
async fn count_tokens_is_native_for_claude_and_estimated_otherwise() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let body =
        json!({ "model": "claude-sonnet-4.6", "messages": [{ "role": "user", "content": "Hello there friend" }] });
    let native: Value = h
        .http
        .post(h.url("/v1/messages/count_tokens"))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(native["input_tokens"], 3 + 3, "the mock's count: 3 words + 3 per message");
    assert_eq!(h.mock.requests().pop().unwrap().path, "/v1/messages/count_tokens");
    let calls = h.upstream_calls();
    let estimate: Value = h
        .http
        .post(h.url("/v1/messages/count_tokens"))
        .header("x-api-key", &key)
        .json(&json!({ "model": "openai/gpt-5.4", "messages": body["messages"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(estimate["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(h.upstream_calls(), calls, "no upstream call for an estimate");
}
