//! Gemini end to end: OpenAI and Anthropic clients reaching Gemini (translated), Gemini clients
//! on the native `/v1beta` surface (passthrough for Google models, translated for others),
//! embeddings, Google-shaped errors, and image URLs fetched only when it is safe.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arouter::mock::gemini::{ANSWER_PREFIX, THOUGHT_SIGNATURE, THOUGHTS_TOKENS};
use serde_json::{Value, json};

use crate::common::{Harness, assert_error, chat, sse_events};

const ANTHROPIC_ANSWER: &str = "Hello! This is the arouter mock Anthropic upstream. You said:";

/// The `data:` payloads of an SSE body, whatever its line endings (Gemini uses CRLF).
async fn data_lines(response: reqwest::Response) -> Vec<Value> {
    let text = response.text().await.unwrap();
    text.lines()
        .filter_map(|line| line.trim_end_matches('\r').strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

fn contents(text: &str) -> Value {
    json!({ "contents": [{ "role": "user", "parts": [{ "text": text }] }] })
}

#[tokio::test]
async fn openai_clients_reach_gemini_through_translation() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let body = json!({ "model": "google/gemini-2.5-flash", "messages": [
        { "role": "system", "content": "Be brief." }, { "role": "user", "content": "Hello!" } ], "max_tokens": 50 });
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-generation-id"].to_str().unwrap().to_owned();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["model"], "google/gemini-2.5-flash");
    assert_eq!(answer["choices"][0]["message"]["content"], format!("{ANSWER_PREFIX} Hello!"));
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(answer["choices"][0]["native_finish_reason"], "STOP");
    let usage = &answer["usage"];
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], THOUGHTS_TOKENS);
    assert_eq!(usage["completion_tokens"], 10 + 1 + THOUGHTS_TOKENS, "answer words plus thoughts (pitfall 19)");

    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(sent.query, None, "the provider key never goes in the URL");
    assert_eq!(sent.headers["x-goog-api-key"], arouter::mock::MOCK_API_KEY);
    let sent = sent.json();
    assert_eq!(sent["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert_eq!(sent["contents"], json!([{ "role": "user", "parts": [{ "text": "Hello!" }] }]));
    assert_eq!(sent["generationConfig"]["maxOutputTokens"], 50);
    assert!(sent.get("model").is_none());
    let record = h.generation(&id).await;
    assert_eq!((record.provider.as_str(), record.native_model.as_str()), ("google", "gemini-2.5-flash"));
    assert!(record.cost_nano > 0 && !record.usage_estimated);
}

#[tokio::test]
async fn tool_calls_round_trip_with_their_thought_signature() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let tools = json!([{ "type": "function", "function": { "name": "get_weather", "parameters": {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": false,
        "properties": { "input": { "type": "string", "const": "Paris?" } }, "required": ["input"] } } }]);
    let body = json!({ "model": "google/gemini-2.5-flash", "tools": tools, "messages": [{ "role": "user", "content": "Paris?" }] });
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200, "the schema reaches Gemini cleaned");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["choices"][0]["finish_reason"], "tool_calls",
        "Gemini's STOP with a call is a tool call (pitfall 4)"
    );
    let call = answer["choices"][0]["message"]["tool_calls"][0].clone();
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({ "input": "Paris?" })
    );
    let declared = &h.mock.requests().pop().unwrap().json()["tools"][0]["functionDeclarations"][0];
    assert!(!declared.to_string().contains("additionalProperties") && !declared.to_string().contains("$schema"));

    // Replaying the call: Gemini insists on the thought signature it issued (pitfall 12).
    let follow_up = json!({ "model": "google/gemini-2.5-flash", "tools": tools, "messages": [
        { "role": "user", "content": "Paris?" },
        { "role": "assistant", "content": null, "tool_calls": [call] },
        { "role": "tool", "tool_call_id": call["id"], "content": "Sunny" } ] });
    let response = h.post("/v1/chat/completions", &key).json(&follow_up).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let sent = h.mock.requests().pop().unwrap().json();
    assert_eq!(sent["contents"][1]["parts"][0]["thoughtSignature"], THOUGHT_SIGNATURE);
    assert_eq!(sent["contents"][2]["parts"][0]["functionResponse"]["name"], "get_weather");
}

#[tokio::test]
async fn streams_from_gemini_arrive_as_openai_chunks() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let mut body = chat("google/gemini-2.5-flash");
    body["stream"] = json!(true);
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let events = sse_events(response).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, format!("{ANSWER_PREFIX} Hello!"));
    assert_eq!(chunks.last().unwrap()["choices"], json!([]));
    assert!(chunks.last().unwrap()["usage"]["cost"].as_f64().unwrap() > 0.0);
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent");
    assert_eq!(sent.query.as_deref(), Some("alt=sse"));
}

#[tokio::test]
async fn the_documented_native_call_works_with_every_key_transport() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let by_query = h
        .http
        .post(h.url(&format!("/v1beta/models/gemini-2.5-flash:generateContent?key={key}")))
        .json(&json!({ "contents": [{ "parts": [{ "text": "Hello!" }] }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
    let id = by_query.headers()["x-generation-id"].to_str().unwrap().to_owned();
    let answer: Value = by_query.json().await.unwrap();
    assert_eq!(
        answer["candidates"][0]["content"]["parts"].as_array().unwrap().last().unwrap()["text"],
        format!("{ANSWER_PREFIX} Hello!")
    );
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.query, None, "the client's ?key= is not forwarded");
    assert_eq!(
        sent.json(),
        json!({ "contents": [{ "parts": [{ "text": "Hello!" }] }] }),
        "same format: forwarded untouched"
    );
    let record = h.generation(&id).await;
    assert_eq!(record.usage.prompt_tokens, answer["usageMetadata"]["promptTokenCount"].as_u64().unwrap());
    assert!(record.cost_nano > 0);

    // google-genai's header, and the newer SDKs' /v1 base path.
    for path in ["/v1beta/models/gemini-2.5-flash:generateContent", "/v1/models/gemini-2.5-flash:generateContent"] {
        let response =
            h.http.post(h.url(path)).header("x-goog-api-key", &key).json(&contents("Hi")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn native_streams_come_as_sse_or_as_a_json_array() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let sse = h
        .http
        .post(h.url("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"))
        .header("x-goog-api-key", &key)
        .json(&contents("Hello!"))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    let id = sse.headers()["x-generation-id"].to_str().unwrap().to_owned();
    let chunks = data_lines(sse).await;
    let text: String = chunks
        .iter()
        .flat_map(|c| c["candidates"][0]["content"]["parts"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["thought"] != true)
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, format!("{ANSWER_PREFIX} Hello!"));
    let record = h.generation(&id).await;
    assert!(record.streamed && !record.usage_estimated && record.cost_nano > 0);

    let array = h
        .http
        .post(h.url("/v1beta/models/gemini-2.5-flash:streamGenerateContent"))
        .header("x-goog-api-key", &key)
        .json(&contents("Hello!"))
        .send()
        .await
        .unwrap();
    assert_eq!(array.status(), 200);
    let parsed: Vec<Value> = serde_json::from_str(&array.text().await.unwrap()).unwrap();
    assert_eq!(parsed.len(), chunks.len());
}

#[tokio::test]
async fn count_tokens_embeddings_and_models_on_the_native_surface() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let count: Value = h
        .http
        .post(h.url("/v1beta/models/gemini-2.5-flash:countTokens"))
        .header("x-goog-api-key", &key)
        .json(&contents("Hello there"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count["totalTokens"], 2 + 3);
    let single: Value = h
        .http
        .post(h.url("/v1beta/models/gemini-embedding-001:embedContent"))
        .header("x-goog-api-key", &key)
        .json(&json!({ "content": { "parts": [{ "text": "hello" }] } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(single["embedding"]["values"].as_array().unwrap().len(), 8);
    let batch = h
        .http
        .post(h.url("/v1beta/models/gemini-embedding-001:batchEmbedContents"))
        .header("x-goog-api-key", &key)
        .json(&json!({ "requests": [
            { "model": "models/gemini-embedding-001", "content": { "parts": [{ "text": "a" }] } },
            { "model": "models/gemini-embedding-001", "content": { "parts": [{ "text": "b" }] } } ] }))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status(), 200);
    let batch: Value = batch.json().await.unwrap();
    assert_eq!(batch["embeddings"].as_array().unwrap().len(), 2);
    let models: Value =
        h.http.get(h.url(&format!("/v1beta/models?key={key}"))).send().await.unwrap().json().await.unwrap();
    assert!(models["models"].as_array().unwrap().iter().any(|m| m["name"] == "models/gemini-2.5-flash"));
    assert!(models["models"].as_array().unwrap().iter().any(|m| m["name"] == "models/anthropic/claude-sonnet-4.6"));
}

#[tokio::test]
async fn gemini_clients_reach_other_providers_and_others_reach_gemini() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let response = h
        .http
        .post(h.url("/v1beta/models/anthropic/claude-sonnet-4.6:generateContent"))
        .header("x-goog-api-key", &key)
        .json(&contents("Hello!"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["candidates"][0]["content"]["parts"][0]["text"], format!("{ANTHROPIC_ANSWER} Hello!"));
    assert_eq!(answer["candidates"][0]["finishReason"], "STOP");
    assert_eq!(h.mock.requests().pop().unwrap().path, "/v1/messages");

    let streamed = h
        .http
        .post(h.url("/v1beta/models/openai/gpt-5.4:streamGenerateContent?alt=sse"))
        .header("x-goog-api-key", &key)
        .json(&contents("Hello!"))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 200);
    let chunks = data_lines(streamed).await;
    assert_eq!(chunks.last().unwrap()["candidates"][0]["finishReason"], "STOP", "{chunks:?}");
    assert!(chunks.last().unwrap()["usageMetadata"]["promptTokenCount"].as_u64().unwrap() > 0);

    let via_messages = h
        .http
        .post(h.url("/v1/messages"))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({ "model": "google/gemini-2.5-flash", "max_tokens": 100, "messages": [{ "role": "user", "content": "Hello!" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(via_messages.status(), 200);
    let message: Value = via_messages.json().await.unwrap();
    assert_eq!(message["type"], "message");
    let text: String = message["content"].as_array().unwrap().iter().filter_map(|b| b["text"].as_str()).collect();
    assert_eq!(text, format!("{ANSWER_PREFIX} Hello!"));
}

#[tokio::test]
async fn openai_embeddings_for_google_models_use_batch_embed_contents() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let response = h
        .post("/v1/embeddings", &key)
        .json(&json!({ "model": "google/gemini-embedding-001", "input": ["a", "b"], "dimensions": 4 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-generation-id"].to_str().unwrap().to_owned();
    let list: Value = response.json().await.unwrap();
    assert_eq!(list["object"], "list");
    assert_eq!(list["model"], "google/gemini-embedding-001");
    assert_eq!(list["data"][1]["index"], 1);
    assert_eq!(list["data"][0]["embedding"].as_array().unwrap().len(), 4);
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1beta/models/gemini-embedding-001:batchEmbedContents");
    assert_eq!(sent.json()["requests"][1]["outputDimensionality"], 4);
    let record = h.generation(&id).await;
    assert!(record.usage_estimated && record.cost_nano > 0);
    let tokens = h
        .post("/v1/embeddings", &key)
        .json(&json!({ "model": "google/gemini-embedding-001", "input": [1, 2] }))
        .send()
        .await
        .unwrap();
    assert_error(tokens, 400, "invalid_request_error", "token ids").await;
}

#[tokio::test]
async fn errors_on_the_native_surface_are_google_shaped() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let url = |model: &str| h.url(&format!("/v1beta/models/{model}:generateContent"));
    let unknown = h
        .http
        .post(url("gemini-2.5-flash"))
        .header("x-goog-api-key", "lr_live_nope")
        .json(&contents("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(
        (body["error"]["code"].clone(), body["error"]["status"].clone()),
        (json!(401), json!("UNAUTHENTICATED"))
    );
    let empty = h
        .http
        .post(url("gemini-2.5-flash"))
        .header("x-goog-api-key", &key)
        .json(&json!({ "contents": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);
    assert_eq!(empty.json::<Value>().await.unwrap()["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(h.upstream_calls(), 0);
    let limited =
        h.http.post(url("fault-429")).header("x-goog-api-key", &key).json(&contents("x")).send().await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_eq!(limited.json::<Value>().await.unwrap()["error"]["status"], "RESOURCE_EXHAUSTED");
}

#[tokio::test]
async fn a_bad_gemini_provider_key_is_the_gateways_fault() {
    let h = Harness::with(Default::default(), |config| {
        config.provider_mut("google").unwrap().api_key = Some(arouter::config::Secret("AIza-wrong".into()));
    })
    .await;
    let key = h.api_key().await;
    let response = h.post("/v1/chat/completions", &key).json(&chat("google/gemini-2.5-flash")).send().await.unwrap();
    let body = assert_error(response, 502, "server_error", "rejected the gateway's credentials").await;
    assert!(!body.to_string().contains("AIza-wrong"));
}

/// A TCP listener that only counts the connections it is offered.
async fn canary() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, count)
}

fn image_chat(url: &str) -> Value {
    json!({ "model": "google/gemini-2.5-flash", "messages": [{ "role": "user", "content": [
        { "type": "text", "text": "What is this?" }, { "type": "image_url", "image_url": { "url": url } } ] }] })
}

#[tokio::test]
async fn image_urls_for_gemini_are_never_fetched_from_private_addresses() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let (port, connections) = canary().await;
    for url in [
        format!("https://127.0.0.1:{port}/cat.png"),
        format!("http://127.0.0.1:{port}/cat.png"),
        "https://169.254.169.254/latest/meta-data/iam".to_owned(),
        format!("https://localhost:{port}/cat.png"),
        format!("https://[::1]:{port}/cat.png"),
    ] {
        let response = h.post("/v1/chat/completions", &key).json(&image_chat(&url)).send().await.unwrap();
        let body = assert_error(response, 400, "invalid_request_error", "image URL refused").await;
        assert!(body["error"]["message"].is_string());
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0, "no connection was even attempted");
    assert_eq!(h.upstream_calls(), 0);
}

#[tokio::test]
async fn allowed_image_urls_reach_gemini_as_inline_bytes() {
    // A local image server, reachable because this test relaxes the policy (https and public
    // addresses are required by default).
    let png: &'static [u8] = b"\x89PNG\r\n\x1a\n0000";
    let app = axum::Router::new()
        .route("/cat.png", axum::routing::get(move || async move { ([("content-type", "image/png")], png) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let h = Harness::with(Default::default(), |config| {
        config.fetch.allow_http = true;
        config.fetch.allow_private = true;
    })
    .await;
    let key = h.api_key().await;
    let response = h
        .post("/v1/chat/completions", &key)
        .json(&image_chat(&format!("http://127.0.0.1:{port}/cat.png")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let sent = h.mock.requests().pop().unwrap().json();
    let inline = &sent["contents"][0]["parts"][1]["inlineData"];
    assert_eq!(inline["mimeType"], "image/png");
    use base64::Engine;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(inline["data"].as_str().unwrap()).unwrap(), png);
}

#[tokio::test]
async fn v1_models_answers_in_the_shape_of_the_client() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let gemini: Value =
        h.http.get(h.url("/v1/models")).header("x-goog-api-key", &key).send().await.unwrap().json().await.unwrap();
    assert!(gemini["models"].as_array().unwrap().iter().any(|m| m["name"] == "models/gemini-2.5-flash"), "{gemini}");
    let openai: Value = h.get("/v1/models", &key).send().await.unwrap().json().await.unwrap();
    assert!(openai["data"].as_array().unwrap().iter().any(|m| m["id"] == "openai/gpt-5.4"));
    let one: Value = h
        .http
        .get(h.url("/v1/models/gemini-2.5-flash"))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["name"], "models/gemini-2.5-flash");
    let retrieved: Value = h.get("/v1/models/openai/gpt-5.4", &key).send().await.unwrap().json().await.unwrap();
    assert_eq!(retrieved["id"], "openai/gpt-5.4");
    assert_eq!(h.get("/v1/models/nope/nothing", &key).send().await.unwrap().status(), 404);
    assert_eq!(h.http.get(h.url("/v1/models")).send().await.unwrap().status(), 401);
}
