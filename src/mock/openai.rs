//! The fake OpenAI API: `/v1/chat/completions`, `/v1/embeddings`, and the OpenAI shape of
//! `/v1/models`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{MockState, digest_hex, hang_if_asked, sse_response};

/// The OpenAI routes (`/v1/models` is shared and lives in `super::router`).
pub(super) fn routes() -> Router<Arc<MockState>> {
    Router::new().route("/v1/chat/completions", post(chat)).route("/v1/embeddings", post(embeddings))
}

fn error(status: StatusCode, message: &str, kind: &str) -> Response {
    (status, axum::Json(json!({ "error": { "message": message, "type": kind, "param": null, "code": null } })))
        .into_response()
}

/// Records the request, checks the provider key, applies the first-byte delay.
async fn admit(
    state: &MockState,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, Response> {
    state.record(method, uri, headers, body);
    let presented = headers.get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or_default());
    let accepted = match presented {
        None => state.options.keyless,
        Some(auth) => auth.strip_prefix("Bearer ").is_some_and(|key| state.accepts(key)),
    };
    if !accepted {
        return Err((
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "error": { "message": "Incorrect API key provided", "type": "invalid_request_error", "param": null, "code": "invalid_api_key" } })),
        )
            .into_response());
    }
    state.first_byte_delay().await;
    serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("We could not parse the JSON body of your request: {e}"),
            "invalid_request_error",
        )
    })
}

/// A fault named in the model, as a response; `None` to answer normally.
async fn fault(model: &str) -> Option<Response> {
    hang_if_asked(model).await;
    let fault = |status, message: &str, kind: &str| Some(error(status, message, kind));
    if model.contains("fault-500") {
        return fault(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server had an error while processing your request.",
            "server_error",
        );
    }
    if model.contains("fault-503") {
        return fault(
            StatusCode::SERVICE_UNAVAILABLE,
            "The engine is currently overloaded, please try again later.",
            "server_error",
        );
    }
    if model.contains("fault-400") {
        return fault(StatusCode::BAD_REQUEST, "mock: this request was rejected as invalid", "invalid_request_error");
    }
    if model.contains("fault-429") {
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Rate limit reached for requests", "requests");
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("7"));
        return Some(response);
    }
    None
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count().max(1) as u64
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p.get("text")?.as_str()).collect::<Vec<_>>().join(" "),
        _ => String::new(),
    }
}

/// Deterministic prompt token count: words of every message plus 3 per message.
fn prompt_tokens(messages: &[Value]) -> u64 {
    messages.iter().map(|m| words(&text_of(m.get("content").unwrap_or(&Value::Null))) + 3).sum()
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// What the mock will answer to a chat request.
struct Answer {
    words: Vec<String>,
    tool_call: Option<(String, String)>,
    finish_reason: &'static str,
    prompt_tokens: u64,
}

fn answer(request: &Value, extra_words: usize) -> Answer {
    let empty = Vec::new();
    let messages = request.get("messages").and_then(Value::as_array).unwrap_or(&empty);
    let last_user =
        messages.iter().rev().find(|m| m["role"] == "user").map(|m| text_of(&m["content"])).unwrap_or_default();
    let prompt_tokens = prompt_tokens(messages);
    let tools = request.get("tools").and_then(Value::as_array).filter(|t| !t.is_empty());
    let wants_tools = request.get("tool_choice").and_then(Value::as_str) != Some("none");
    let last_is_user = messages.last().is_some_and(|m| m["role"] == "user");
    if let (Some(tools), true, true) = (tools, wants_tools, last_is_user) {
        let name = tools[0]["function"]["name"].as_str().unwrap_or("tool").to_owned();
        let arguments = json!({ "input": last_user }).to_string();
        return Answer {
            words: Vec::new(),
            tool_call: Some((name, arguments)),
            finish_reason: "tool_calls",
            prompt_tokens,
        };
    }
    let text = format!("Hello! This is the arouter mock upstream. You said: {last_user}");
    let mut words: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    words.extend((0..extra_words).map(|i| format!("word{i}")));
    let limit = request.get("max_completion_tokens").or_else(|| request.get("max_tokens")).and_then(Value::as_u64);
    let mut finish_reason = "stop";
    if let Some(limit) = limit.filter(|&l| (l as usize) < words.len()) {
        words.truncate(limit as usize);
        finish_reason = "length";
    }
    Answer { words, tool_call: None, finish_reason, prompt_tokens }
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 0 },
        "completion_tokens_details": { "reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0 }
    })
}

async fn chat(
    State(state): State<Arc<MockState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(&state, method, &uri, &headers, &body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let model = request["model"].as_str().unwrap_or("").to_owned();
    if let Some(response) = fault(&model).await {
        return response;
    }
    let answer = answer(&request, state.options.extra_words);
    let id = format!("chatcmpl-mock{}", digest_hex(&[&body]));
    let completion_tokens = if answer.tool_call.is_some() { 12 } else { answer.words.len() as u64 };
    let report_usage = !model.contains("fault-no-usage");
    if request["stream"] == true {
        let include_usage = report_usage && request["stream_options"]["include_usage"] == true;
        let frames =
            stream_frames(&id, &model, &answer, include_usage.then(|| usage(answer.prompt_tokens, completion_tokens)));
        return stream_response(state, frames, &model);
    }
    if model.contains("fault-malformed") {
        return (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "<html>this is not json</html>")
            .into_response();
    }
    let message = match &answer.tool_call {
        Some((name, arguments)) => json!({
            "role": "assistant", "content": null, "refusal": null, "annotations": [],
            "tool_calls": [{ "id": "call_mock_1", "type": "function", "function": { "name": name, "arguments": arguments } }]
        }),
        None => json!({ "role": "assistant", "content": answer.words.join(" "), "refusal": null, "annotations": [] }),
    };
    let mut body = json!({
        "id": id,
        "object": "chat.completion",
        "created": now_secs(),
        "model": model,
        "choices": [{ "index": 0, "message": message, "logprobs": null, "finish_reason": answer.finish_reason }],
        "service_tier": "default",
        "system_fingerprint": "fp_mock",
    });
    if report_usage {
        body["usage"] = usage(answer.prompt_tokens, completion_tokens);
    }
    axum::Json(body).into_response()
}

/// The SSE frames of a streamed answer, in OpenAI's order.
fn stream_frames(id: &str, model: &str, answer: &Answer, usage: Option<Value>) -> Vec<String> {
    let created = now_secs();
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_mock", "service_tier": "default",
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
            "usage": null,
        })
        .to_string()
    };
    let mut frames = vec![chunk(json!({ "role": "assistant", "content": "", "refusal": null }), Value::Null)];
    match &answer.tool_call {
        Some((name, arguments)) => {
            frames.push(chunk(
                json!({ "tool_calls": [{ "index": 0, "id": "call_mock_1", "type": "function", "function": { "name": name, "arguments": "" } }] }),
                Value::Null,
            ));
            let middle = arguments.len() / 2;
            let middle = (middle..arguments.len()).find(|&i| arguments.is_char_boundary(i)).unwrap_or(arguments.len());
            for part in [&arguments[..middle], &arguments[middle..]] {
                frames.push(chunk(
                    json!({ "tool_calls": [{ "index": 0, "function": { "arguments": part } }] }),
                    Value::Null,
                ));
            }
        }
        None => {
            for (i, word) in answer.words.iter().enumerate() {
                let text = if i == 0 { word.clone() } else { format!(" {word}") };
                frames.push(chunk(json!({ "content": text }), Value::Null));
            }
        }
    }
    frames.push(chunk(json!({}), answer.finish_reason.into()));
    if let Some(usage) = usage {
        frames.push(
            json!({ "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                    "system_fingerprint": "fp_mock", "choices": [], "usage": usage })
            .to_string(),
        );
    }
    frames.push("[DONE]".to_owned());
    frames
}

fn stream_response(state: Arc<MockState>, mut frames: Vec<String>, model: &str) -> Response {
    if model.contains("fault-cut") {
        frames.truncate(3);
    } else if model.contains("fault-midstream-error") {
        frames.truncate(3);
        frames.push(json!({ "error": { "message": "The server had an error while processing your request.", "type": "server_error" } }).to_string());
    } else if model.contains("fault-malformed") {
        frames.truncate(2);
        frames.push("{not json".to_owned());
    }
    sse_response(state, frames.into_iter().map(|frame| format!("data: {frame}\n\n")).collect(), &[])
}

/// A deterministic unit vector for `text` (shared with the Gemini mock).
pub(super) fn embedding(text: &str, dimensions: usize) -> Vec<f32> {
    let mut values = Vec::with_capacity(dimensions);
    let mut seed = Sha256::digest(text.as_bytes()).to_vec();
    while values.len() < dimensions {
        for pair in seed.chunks(2) {
            if values.len() == dimensions {
                break;
            }
            values.push((f32::from(u16::from_le_bytes([pair[0], pair[1]])) / 32768.0) - 1.0);
        }
        seed = Sha256::digest(&seed).to_vec();
    }
    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt().max(f32::EPSILON);
    values.iter().map(|v| v / norm).collect()
}

async fn embeddings(
    State(state): State<Arc<MockState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(&state, method, &uri, &headers, &body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let model = request["model"].as_str().unwrap_or("").to_owned();
    if let Some(response) = fault(&model).await {
        return response;
    }
    let inputs: Vec<String> = match &request["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if items.iter().all(Value::is_string) => {
            items.iter().map(|v| v.as_str().unwrap_or("").to_owned()).collect()
        }
        Value::Array(items) if items.iter().all(Value::is_number) => vec![Value::Array(items.clone()).to_string()],
        Value::Array(items) => items.iter().map(Value::to_string).collect(),
        _ => return error(StatusCode::BAD_REQUEST, "'input' is required", "invalid_request_error"),
    };
    let dimensions = request["dimensions"].as_u64().unwrap_or(8).clamp(1, 4096) as usize;
    let base64 = request["encoding_format"] == "base64";
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let vector = embedding(text, dimensions);
            let encoded = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({ "object": "embedding", "index": index, "embedding": encoded })
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|t| words(t)).sum();
    axum::Json(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens }
    }))
    .into_response()
}

pub(super) fn models() -> Response {
    let data: Vec<Value> = ["gpt-5.4", "gpt-5.4-mini", "text-embedding-3-small"]
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "created": 1_700_000_000, "owned_by": "mock" }))
        .collect();
    axum::Json(json!({ "object": "list", "data": data })).into_response()
}
