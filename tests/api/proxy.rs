//! The raw provider proxy `POST /{provider}/v1/…`: native requests forwarded untouched with the
//! provider key in place of the client's, answers passed back as they are, and every request
//! admitted, charged and recorded like any other.

use arouter::mock::MOCK_API_KEY;
use arouter::usage::GenerationRecord;
use serde_json::{Value, json};

use crate::common::{Harness, assert_error, chat, sse_events};

fn openai_body(stream: bool) -> Value {
    json!({
        "model": "gpt-5.4",
        "messages": [{ "role": "user", "content": "Hello!" }],
        "stream": stream,
        "stream_options": if stream { json!({ "include_usage": true }) } else { Value::Null },
        "some_future_field": { "kept": true },
    })
}

async fn generation_of(h: &Harness, response: &reqwest::Response) -> GenerationRecord {
    h.generation(response.headers()["x-generation-id"].to_str().unwrap()).await
}

/// The client's own credentials never reach the upstream.
fn assert_no_client_key(sent: &arouter::mock::Recorded, client_key: &str) {
    for (name, value) in &sent.headers {
        assert!(!value.to_str().unwrap_or_default().contains(client_key), "client key forwarded in {name}");
    }
    assert!(!sent.query.as_deref().unwrap_or_default().contains(client_key), "client key in the query");
}

#[tokio::test]
async fn openai_chat_is_forwarded_as_is_and_charged_from_its_usage() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let body = serde_json::to_vec(&openai_body(false)).unwrap();
    let response = h
        .post("/openai/v1/chat/completions", &key)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let record = generation_of(&h, &response).await;
    let answer: Value = response.json().await.unwrap();
    // The upstream's answer, not rewritten: its own id and native model name.
    assert_eq!(answer["model"], "gpt-5.4");
    assert_ne!(answer["id"], record.id.as_str());

    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.body, body, "the body is forwarded byte for byte");
    assert_eq!(sent.headers["authorization"], format!("Bearer {MOCK_API_KEY}").as_str());
    assert_no_client_key(&sent, &key);

    let usage = &answer["usage"];
    assert_eq!(record.usage.prompt_tokens, usage["prompt_tokens"].as_u64().unwrap());
    assert_eq!(record.usage.completion_tokens, usage["completion_tokens"].as_u64().unwrap());
    // gpt-5.4: $2.50 / M prompt, $15 / M completion.
    let expected = record.usage.prompt_tokens as i64 * 2_500 + record.usage.completion_tokens as i64 * 15_000;
    assert!(expected > 0);
    assert_eq!((record.cost_nano, record.usage_estimated), (expected, false));
    assert_eq!(
        (record.provider.as_str(), record.model.as_str(), record.api.as_str()),
        ("openai", "openai/gpt-5.4", "proxy")
    );
    assert_eq!(record.status, 200);
}

#[tokio::test]
async fn openai_streams_pass_through_and_are_charged_from_the_usage_chunk() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let response = h.post("/openai/v1/chat/completions", &key).json(&openai_body(true)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let id = response.headers()["x-generation-id"].to_str().unwrap().to_owned();
    let events = sse_events(response).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let usage_chunk: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    let record = h.generation(&id).await;
    assert_eq!(record.usage.completion_tokens, usage_chunk["usage"]["completion_tokens"].as_u64().unwrap());
    assert!(record.streamed && !record.usage_estimated && record.cost_nano > 0);
    assert_eq!(h.mock.requests().pop().unwrap().json()["stream"], true);
}

#[tokio::test]
async fn anthropic_messages_through_the_proxy_use_the_gateway_key() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let body =
        json!({ "model": "claude-sonnet-4-6", "max_tokens": 64, "messages": [{ "role": "user", "content": "Hi" }] });
    let response = h
        .http
        .post(h.url("/anthropic/v1/messages"))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "tools-2024-04-04")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let record = generation_of(&h, &response).await;
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["type"], "message");

    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.headers["x-api-key"], MOCK_API_KEY);
    assert_eq!(sent.headers.get_all("anthropic-version").iter().count(), 1);
    assert_eq!(sent.headers["anthropic-beta"], "tools-2024-04-04");
    assert_no_client_key(&sent, &key);

    assert_eq!(record.usage.prompt_tokens, answer["usage"]["input_tokens"].as_u64().unwrap());
    assert_eq!(record.usage.completion_tokens, answer["usage"]["output_tokens"].as_u64().unwrap());
    assert_eq!(record.model, "anthropic/claude-sonnet-4-6");
    assert!(record.cost_nano > 0, "priced from the catalog by its native id");
}

#[tokio::test]
async fn gemini_generate_content_through_the_proxy() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let body = json!({ "contents": [{ "role": "user", "parts": [{ "text": "Hi" }] }] });
    let url = h.url(&format!("/google/v1beta/models/gemini-2.5-flash:generateContent?key={key}"));
    let response = h.http.post(url).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let record = generation_of(&h, &response).await;
    let answer: Value = response.json().await.unwrap();

    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(sent.headers["x-goog-api-key"], MOCK_API_KEY);
    assert_eq!(sent.query, None);
    assert_no_client_key(&sent, &key);

    assert_eq!(record.usage.prompt_tokens, answer["usageMetadata"]["promptTokenCount"].as_u64().unwrap());
    assert_eq!((record.model.as_str(), record.streamed), ("google/gemini-2.5-flash", false));
    assert!(record.cost_nano > 0);

    // Streamed over SSE: the query is kept, without the key.
    let url = h.url(&format!("/google/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key={key}"));
    let response = h.http.post(url).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-generation-id"].to_str().unwrap().to_owned();
    assert!(!sse_events(response).await.is_empty());
    assert_eq!(h.mock.requests().pop().unwrap().query.as_deref(), Some("alt=sse"));
    let record = h.generation(&id).await;
    assert!(record.streamed && record.cost_nano > 0 && !record.usage_estimated);
}

#[tokio::test]
async fn upstream_errors_come_back_as_they_are_and_cost_nothing() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let body = json!({ "model": "gpt-fault-400", "messages": [{ "role": "user", "content": "x" }] });
    let response = h.post("/openai/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let record = generation_of(&h, &response).await;
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["message"], "mock: this request was rejected as invalid", "{answer}");
    assert_eq!((record.status, record.cost_nano), (400, 0));
}

#[tokio::test]
async fn the_proxy_refuses_like_every_other_route() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let body = openai_body(false);

    let no_key = h.http.post(h.url("/openai/v1/chat/completions")).json(&body).send().await.unwrap();
    assert_error(no_key, 401, "authentication_error", "missing").await;

    let (anthropic_only, _) = h.create_key(json!({ "name": "a", "allowed_providers": ["anthropic"] })).await;
    let refused = h.post("/openai/v1/chat/completions", &anthropic_only).json(&body).send().await.unwrap();
    assert_error(refused, 403, "forbidden_error", "provider 'openai' is not allowed").await;
    // On the Anthropic format, the gateway's refusals are Anthropic-shaped.
    let (openai_only, _) = h.create_key(json!({ "name": "o", "allowed_providers": ["openai"] })).await;
    let claude = json!({ "model": "claude-sonnet-4-6", "max_tokens": 8, "messages": [] });
    let refused = h.post("/anthropic/v1/messages", &openai_only).json(&claude).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["type"], "permission_error");

    // A spend limit applies: the reservation needs a price, so an unpriced model (or a body
    // without one) is refused before anything is sent.
    let (limited, _) = h.create_key(json!({ "name": "l", "limit": 1 })).await;
    let unpriced = json!({ "model": "gpt-unlisted", "messages": [] });
    let refused = h.post("/openai/v1/chat/completions", &limited).json(&unpriced).send().await.unwrap();
    assert_error(refused, 403, "forbidden_error", "model 'openai/gpt-unlisted' has no price").await;
    let refused = h.post("/openai/v1/chat/completions", &limited).body("not json").send().await.unwrap();
    assert_error(refused, 403, "forbidden_error", "no price").await;

    let unknown = h.post("/nosuch/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_error(unknown, 404, "not_found_error", "no route for POST /nosuch/v1/chat/completions").await;
    let outside = h.post("/openai/chat/completions", &key).json(&body).send().await.unwrap();
    assert_error(outside, 404, "not_found_error", "under /v1").await;
    let get = h.get("/openai/v1/models", &key).send().await.unwrap();
    assert_error(get, 404, "not_found_error", "forwards POST").await;
    // HTTP clients resolve dot segments themselves; a raw request sends them as they are.
    let escape = raw_post(&h, "/openai/v1/%2e%2E/admin", &key).await;
    assert!(escape.starts_with("HTTP/1.1 400") && escape.contains("'..'"), "{escape}");
    assert_eq!(h.upstream_calls(), 0, "no refused request reached the upstream");

    // The static routes still win over the catch-all.
    assert_eq!(h.http.get(h.url("/healthz")).send().await.unwrap().status(), 200);
    let native = h.post("/v1/chat/completions", &key).json(&crate::common::chat("openai/gpt-5.4")).send().await;
    assert_eq!(native.unwrap().json::<Value>().await.unwrap()["model"], "openai/gpt-5.4");
}

/// A POST written by hand, so the path reaches the gateway exactly as given.
async fn raw_post(h: &Harness, path: &str, key: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn an_upstream_error_body_never_carries_the_provider_key() {
    // A provider key that the mock rejects and whose text its 401 body happens to contain.
    let leaky = "Incorrect API key";
    let h = Harness::with(arouter::mock::MockOptions::default(), |config| {
        config.provider_mut("openai").unwrap().api_key = Some(arouter::config::Secret(leaky.into()));
    })
    .await;
    let key = h.api_key().await;
    let response = h.post("/openai/v1/chat/completions", &key).json(&openai_body(false)).send().await.unwrap();
    assert_eq!(response.status(), 401, "the upstream's own status");
    let text = response.text().await.unwrap();
    assert!(!text.contains(leaky), "{text}");
    assert!(text.contains("[redacted] provided"), "{text}");
    assert_eq!(h.mock.requests().pop().unwrap().headers["authorization"], format!("Bearer {leaky}").as_str());
}

#[tokio::test]
async fn unknown_paths_under_the_api_prefixes_are_not_found_and_reach_no_upstream() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let body = chat("openai/gpt-5.4");
    // `/v1/…` and `/api/v1/…` look like `/{provider}/{*rest}` to the router; they must not be
    // taken for providers named `v1` or `api`.
    for path in ["/v1/nosuch", "/api/v1/nosuch", "/v1beta/nosuch", "/api/v1/keys/a/b", "/v1"] {
        let response = h.post(path, &key).json(&body).send().await.unwrap();
        assert_error(response, 404, "not_found_error", &format!("no route for POST {path}")).await;
    }
    assert_eq!(h.upstream_calls(), 0);
}
