//! The fake Anthropic Messages API: `POST /v1/messages`, `POST /v1/messages/count_tokens`, and
//! the Anthropic shape of `GET /v1/models` (the shared `/v1/models` route in `super` picks it
//! when the request carries `x-api-key`).
//!
//! Everything is deterministic:
//!
//! * Auth: `x-api-key: <MockOptions::api_key>` (401 `authentication_error` when missing or wrong)
//!   and an `anthropic-version` header (400 `invalid_request_error` when missing).
//! * Validation as the real API does it, with its messages: `model`, `max_tokens` (not on
//!   count_tokens), non-empty `messages` with roles `user`/`assistant`, unknown top-level /
//!   message / block fields ("Extra inputs are not permitted"), unknown block `type`s, empty or
//!   whitespace-only text blocks, empty content (except a final assistant prefill), trailing
//!   whitespace in a final assistant prefill, `tool_use.input` must be an object, tool ids must
//!   match `^[a-zA-Z0-9_-]+$`, `tool_use`/`tool_result` pairing between consecutive messages,
//!   custom tools need a valid unique `name` and an object `input_schema`, `tool_choice` is an
//!   object, `temperature`/`top_p` in 0..=1 and not both on Opus 4.1 / any 4.5+ model,
//!   `thinking.budget_tokens` >= 1024 and < `max_tokens`, thinking forbids a `temperature` other
//!   than 1 and a forced `tool_choice`.
//! * Answer: "Hello! This is the arouter mock Anthropic upstream. You said: {last user text}",
//!   where the last user text is the string content, or the text blocks joined with a space
//!   (tool_result blocks skipped), of the last `user` message. Words are whitespace-split;
//!   `MockOptions::extra_words` appends `word0 word1 …`. The answer stops before the first word
//!   containing any of `stop_sequences` (`stop_reason: "stop_sequence"`, `stop_sequence` set),
//!   else is cut to `max_tokens` words (`"max_tokens"`), else `"end_turn"`.
//! * Tools: when `tools` is non-empty, `tool_choice.type` is not `none` and the last user message
//!   has no `tool_result` block, the answer is a `tool_use` block `{id: "toolu_mock_1", name:
//!   <tool_choice.name for type "tool", else tools[0].name>, input: {"input": <last user
//!   text>}}`, preceded by a text block "Let me check." unless `tool_choice` forces the tool
//!   (`any`/`tool`, where the real API prefills and writes no text); `stop_reason: "tool_use"`.
//! * Thinking: with `thinking.type == "enabled"` the first block is
//!   `{type: "thinking", thinking: THINKING_TEXT, signature: "sig_mock_1"}`.
//! * Usage: `input_tokens` = words of the system text + for each message (words of its text
//!   blocks or string content + words of the text inside its tool_result blocks + 3); tool_use,
//!   thinking, images and tool definitions count nothing. `output_tokens` = answer words (the
//!   text block), + 10 for a tool call, + 8 for thinking. Prompt caching: when the top-level
//!   request, a system block, a message block or a tool carries `cache_control`, the response
//!   reports 100 extra prompt tokens, as `cache_read_input_tokens: 100` if the raw body contains
//!   the string "cached-before", else as `cache_creation_input_tokens: 100` (split in
//!   `cache_creation` by the first `cache_control.ttl`, "1h" or else 5m); both are 0 otherwise.
//!   `input_tokens` never includes them (Anthropic's `input_tokens` is the uncached part).
//! * Streaming: `event: <type>\ndata: <json>\n\n` in the real order: `message_start` (usage with
//!   `output_tokens: 1`), `content_block_start` of the first block, `ping`, then per block its
//!   deltas and `content_block_stop` (text: one `text_delta` per word, the words after the first
//!   with a leading space; thinking: two `thinking_delta`s then a `signature_delta`; tool_use:
//!   starts with `input: {}`, then an empty `input_json_delta` and three non-empty fragments),
//!   `message_delta` (`stop_reason`, `stop_sequence`, and cumulative usage: `input_tokens`, the
//!   cache fields and the final `output_tokens`, as the API sends today), `message_stop`.
//! * Ids: `msg_mock<hex>` from the request body, `request-id: req_mock<hex>` on every response
//!   (and `request_id` in error bodies).
//!
//! Faults (model name contains): `fault-500` 500 `api_error`, `fault-529` 529
//! `overloaded_error`, `fault-429` 429 `rate_limit_error` with `retry-after: 7`, `fault-400` 400
//! `invalid_request_error`, `fault-401` 401 `authentication_error`, `fault-hang` never answers;
//! `fault-malformed`: a 200 non-JSON body, or in a stream `data: {not json` right after the first
//! `content_block_start`; `fault-cut`: the stream ends right after the first `text_delta`;
//! `fault-midstream-error`: after two `text_delta`s an `event: error` with `overloaded_error`,
//! then the stream closes. HTTP faults apply after auth and validation, to count_tokens too.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

use super::{MockState, digest_hex, hang_if_asked, sse_response};

#[cfg(test)]
mod tests;

/// The header the Anthropic API reads the key from (and `/v1/models` dispatches on).
pub(super) const API_KEY_HEADER: &str = "x-api-key";
const VERSION_HEADER: &str = "anthropic-version";
const REQUEST_ID_HEADER: &str = "request-id";

/// The answer is this, a space, and the last user text.
pub const ANSWER_PREFIX: &str = "Hello! This is the arouter mock Anthropic upstream. You said:";
/// The text of the thinking block when `thinking` is enabled.
pub const THINKING_TEXT: &str = "The user said hello. I should greet them.";
/// The signature of that thinking block.
pub const THINKING_SIGNATURE: &str = "sig_mock_1";
/// The id of the tool call the mock makes.
pub const TOOL_USE_ID: &str = "toolu_mock_1";
/// The text block before a tool call (when the tool is not forced).
pub const TOOL_PREAMBLE: &str = "Let me check.";
/// Prompt tokens reported as cache creation or read when the request uses `cache_control`.
pub const CACHED_TOKENS: u64 = 100;

/// `/v1/models` answers from this list, newest first: (id, display name, created_at).
const MODELS: &[(&str, &str, &str)] = &[
    ("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z"),
    ("claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z"),
    ("claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-15T00:00:00Z"),
];

/// Top-level fields `/v1/messages` accepts.
const MESSAGES_FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "system",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "metadata",
    "service_tier",
    "output_config",
    "cache_control",
    "container",
    "inference_geo",
];

/// Top-level fields `/v1/messages/count_tokens` accepts.
const COUNT_TOKENS_FIELDS: &[&str] =
    &["model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "cache_control"];

/// The Anthropic routes (`/v1/models` is shared and lives in `super::router`).
pub(super) fn routes() -> Router<Arc<MockState>> {
    Router::new().route("/v1/messages", post(messages)).route("/v1/messages/count_tokens", post(count_tokens))
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// An error in Anthropic's shape.
fn error(status: StatusCode, kind: &str, message: &str, request_id: &str) -> Response {
    let body = json!({ "type": "error", "error": { "type": kind, "message": message }, "request_id": request_id });
    with_request_id((status, axum::Json(body)).into_response(), request_id)
}

fn invalid(message: &str, request_id: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", message, request_id)
}

/// Checks `x-api-key` and `anthropic-version`; the error response when they are wrong.
fn auth_error(state: &MockState, headers: &HeaderMap, request_id: &str) -> Option<Response> {
    let unauthorized = |message| error(StatusCode::UNAUTHORIZED, "authentication_error", message, request_id);
    match headers.get(API_KEY_HEADER).map(|v| v.to_str().unwrap_or_default()) {
        None => Some(unauthorized("x-api-key header is required")),
        Some(key) if !state.accepts(key) => Some(unauthorized("invalid x-api-key")),
        Some(_) if !headers.contains_key(VERSION_HEADER) => {
            Some(invalid("anthropic-version header is required", request_id))
        }
        Some(_) => None,
    }
}

/// Records the request, authenticates it, waits the first-byte delay and parses the body.
async fn admit(
    state: &MockState,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    request_id: &str,
) -> Result<Map<String, Value>, Response> {
    state.record(method, uri, headers, body);
    if let Some(response) = auth_error(state, headers, request_id) {
        return Err(response);
    }
    state.first_byte_delay().await;
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(request)) => Ok(request),
        Ok(_) => Err(invalid("body: Input should be a valid dictionary", request_id)),
        Err(e) => Err(invalid(&format!("There was an error parsing the body of your request: {e}"), request_id)),
    }
}

fn request_id(uri: &Uri, body: &[u8]) -> String {
    format!("req_mock{}", digest_hex(&[b"request-id", uri.path().as_bytes(), body]))
}

/// A fault named in the model, as a response; `None` to answer normally.
async fn fault(model: &str, request_id: &str) -> Option<Response> {
    hang_if_asked(model).await;
    let faults: [(&str, u16, &str, &str); 5] = [
        ("fault-500", 500, "api_error", "Internal server error"),
        ("fault-529", 529, "overloaded_error", "Overloaded"),
        (
            "fault-429",
            429,
            "rate_limit_error",
            "This request would exceed the rate limit for your organization of 50 requests per minute. \
             Please try again later.",
        ),
        ("fault-400", 400, "invalid_request_error", "mock: this request was rejected as invalid"),
        ("fault-401", 401, "authentication_error", "invalid x-api-key"),
    ];
    let (name, status, kind, message) = faults.into_iter().find(|(name, ..)| model.contains(name))?;
    let mut response =
        error(StatusCode::from_u16(status).expect("fault statuses are valid"), kind, message, request_id);
    if name == "fault-429" {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
    }
    Some(response)
}

fn malformed(request_id: &str) -> Response {
    with_request_id(
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "<html>this is not json</html>").into_response(),
        request_id,
    )
}

async fn messages(
    State(state): State<Arc<MockState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = request_id(&uri, &body);
    let request = match admit(&state, method, &uri, &headers, &body, &request_id).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    if let Err(message) = validate(&request, Endpoint::Messages) {
        return invalid(&message, &request_id);
    }
    let model = request["model"].as_str().unwrap_or_default().to_owned();
    if let Some(response) = fault(&model, &request_id).await {
        return response;
    }
    let reply = reply(&request, &body, state.options.extra_words);
    let id = format!("msg_mock{}", digest_hex(&[&body]));
    if request.get("stream") == Some(&Value::Bool(true)) {
        let events = stream_events(&id, &model, &reply);
        return stream_response(state, events, &model, &request_id);
    }
    if model.contains("fault-malformed") {
        return malformed(&request_id);
    }
    let content: Vec<Value> = reply.blocks.iter().map(Block::json).collect();
    let message = json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": reply.stop_sequence,
        "usage": reply.usage.json(reply.usage.output),
    });
    with_request_id(axum::Json(message).into_response(), &request_id)
}

async fn count_tokens(
    State(state): State<Arc<MockState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = request_id(&uri, &body);
    let request = match admit(&state, method, &uri, &headers, &body, &request_id).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    if let Err(message) = validate(&request, Endpoint::CountTokens) {
        return invalid(&message, &request_id);
    }
    let model = request["model"].as_str().unwrap_or_default();
    if let Some(response) = fault(model, &request_id).await {
        return response;
    }
    if model.contains("fault-malformed") {
        return malformed(&request_id);
    }
    with_request_id(axum::Json(json!({ "input_tokens": input_tokens(&request) })).into_response(), &request_id)
}

/// `GET /v1/models` for a request with `x-api-key`: `limit` (default 20), `after_id`, `before_id`.
pub(super) fn models(state: &MockState, uri: &Uri, headers: &HeaderMap) -> Response {
    let request_id = request_id(uri, b"");
    if let Some(response) = auth_error(state, headers, &request_id) {
        return response;
    }
    let query: Vec<(&str, &str)> =
        uri.query().unwrap_or_default().split('&').filter_map(|pair| pair.split_once('=')).collect();
    let param = |name: &str| query.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let limit = match param("limit").map(str::parse::<usize>) {
        None => 20,
        Some(Ok(limit @ 1..=1000)) => limit,
        Some(_) => return invalid("limit: Input should be between 1 and 1000", &request_id),
    };
    let position = |id: &str| MODELS.iter().position(|(model, ..)| *model == id);
    let (mut start, mut end) = (0, MODELS.len());
    if let Some(after) = param("after_id") {
        start = position(after).map_or(MODELS.len(), |i| i + 1);
    }
    if let Some(before) = param("before_id") {
        end = position(before).unwrap_or(0);
        start = start.max(end.saturating_sub(limit));
    }
    let page = &MODELS[start.min(end)..end.min(start + limit)];
    let data: Vec<Value> = page
        .iter()
        .map(|(id, name, created)| json!({ "type": "model", "id": id, "display_name": name, "created_at": created }))
        .collect();
    let body = json!({
        "data": data,
        "has_more": start + page.len() < end,
        "first_id": page.first().map(|m| m.0),
        "last_id": page.last().map(|m| m.0),
    });
    with_request_id(axum::Json(body).into_response(), &request_id)
}

// ---------------------------------------------------------------------------------------------
// Validation

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Messages,
    CountTokens,
}

const EMPTY_TEXT: &str = "text content blocks must be non-empty";
const BLANK_TEXT: &str = "text content blocks must contain non-whitespace text";
const ID_PATTERN: &str = "String should match pattern '^[a-zA-Z0-9_-]+$'";

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && valid_id(name)
}

/// Opus 4.1 and every 4.5+ model reject `temperature` together with `top_p`.
fn sampling_is_exclusive(model: &str) -> bool {
    let Some(rest) = model.strip_prefix("claude-") else { return false };
    let mut parts = rest.split('-');
    let family = parts.next().unwrap_or_default();
    if !matches!(family, "opus" | "sonnet" | "haiku") {
        return false;
    }
    let Some(major) = parts.next().and_then(|p| p.parse::<u32>().ok()) else { return false };
    // A date suffix (`claude-sonnet-4-20250514`) is not a minor version.
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok()).filter(|&m| m < 100).unwrap_or(0);
    (major, minor) >= (4, 5) || (family == "opus" && (major, minor) >= (4, 1))
}

fn check_fields(object: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), String> {
    match object.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(extra) => Err(format!("{path}{extra}: Extra inputs are not permitted")),
        None => Ok(()),
    }
}

fn check_text(text: &str, path: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("{path}: {EMPTY_TEXT}"));
    }
    if text.trim().is_empty() {
        return Err(format!("{path}: {BLANK_TEXT}"));
    }
    Ok(())
}

fn check_number(request: &Map<String, Value>, field: &str, max: f64) -> Result<(), String> {
    match request.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(value) => match value.as_f64() {
            None => Err(format!("{field}: Input should be a valid number")),
            Some(v) if v < 0.0 => Err(format!("{field}: Input should be greater than or equal to 0")),
            Some(v) if v > max => Err(format!("{field}: Input should be less than or equal to {max}")),
            Some(_) => Ok(()),
        },
    }
}

fn is_set(request: &Map<String, Value>, field: &str) -> bool {
    request.get(field).is_some_and(|v| !v.is_null())
}

fn validate(request: &Map<String, Value>, endpoint: Endpoint) -> Result<(), String> {
    match request.get("model") {
        None => return Err("model: Field required".into()),
        Some(Value::String(_)) => {}
        Some(_) => return Err("model: Input should be a valid string".into()),
    }
    let max_tokens = if endpoint == Endpoint::Messages {
        match request.get("max_tokens") {
            None => return Err("max_tokens: Field required".into()),
            Some(value) => match value.as_i64() {
                None => return Err("max_tokens: Input should be a valid integer".into()),
                Some(n) if n < 0 => return Err("max_tokens: Input should be greater than or equal to 0".into()),
                Some(n) => Some(n),
            },
        }
    } else {
        None
    };
    let messages = match request.get("messages") {
        None => return Err("messages: Field required".into()),
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err("messages: Input should be a valid list".into()),
    };
    if messages.is_empty() {
        return Err("messages: at least one message is required".into());
    }
    let allowed = if endpoint == Endpoint::Messages { MESSAGES_FIELDS } else { COUNT_TOKENS_FIELDS };
    check_fields(request, allowed, "")?;
    for (i, message) in messages.iter().enumerate() {
        check_message(i, message, i + 1 == messages.len())?;
    }
    check_tool_pairing(messages)?;
    check_system(request.get("system"))?;

    let model = request["model"].as_str().unwrap_or_default();
    check_number(request, "temperature", 1.0)?;
    check_number(request, "top_p", 1.0)?;
    if let Some(top_k) = request.get("top_k").filter(|v| !v.is_null()) {
        if top_k.as_u64().is_none() {
            return Err("top_k: Input should be a valid integer".into());
        }
    }
    if is_set(request, "temperature") && is_set(request, "top_p") && sampling_is_exclusive(model) {
        return Err("`temperature` and `top_p` cannot both be specified for this model. Please use only one.".into());
    }
    match request.get("stop_sequences") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        Some(_) => return Err("stop_sequences: Input should be a valid list of strings".into()),
    }
    if let Some(stream) = request.get("stream") {
        if !stream.is_boolean() {
            return Err("stream: Input should be a valid boolean".into());
        }
    }
    check_tools(request.get("tools"))?;
    let forced = check_tool_choice(request.get("tool_choice"))?;
    check_thinking(request, max_tokens, forced)
}

fn check_message(i: usize, message: &Value, last: bool) -> Result<(), String> {
    let Some(message) = message.as_object() else {
        return Err(format!("messages.{i}: Input should be a valid dictionary"));
    };
    let role = match message.get("role") {
        None => return Err(format!("messages.{i}.role: Field required")),
        Some(Value::String(role)) if role == "user" || role == "assistant" => role.as_str(),
        Some(_) => return Err(format!("messages.{i}.role: Input should be 'user' or 'assistant'")),
    };
    let final_assistant = last && role == "assistant";
    let Some(content) = message.get("content") else {
        return Err(format!("messages.{i}.content: Field required"));
    };
    check_fields(message, &["role", "content"], &format!("messages.{i}."))?;
    let empty_content = || {
        format!(
            "messages.{i}: all messages must have non-empty content except for the optional final assistant message"
        )
    };
    match content {
        Value::String(text) if text.is_empty() => {
            if !final_assistant {
                return Err(empty_content());
            }
        }
        Value::String(text) => check_text(text, "messages")?,
        Value::Array(blocks) => {
            if blocks.is_empty() && !final_assistant {
                return Err(empty_content());
            }
            for (j, block) in blocks.iter().enumerate() {
                check_block(block, &format!("messages.{i}.content.{j}"))?;
            }
        }
        _ => return Err(format!("messages.{i}.content: Input should be a valid string or list of content blocks")),
    }
    if final_assistant {
        let tail = match content {
            Value::String(text) => Some(text.as_str()),
            Value::Array(blocks) => blocks.last().filter(|b| b["type"] == "text").and_then(|b| b["text"].as_str()),
            _ => None,
        };
        if tail.is_some_and(|t| t.ends_with(char::is_whitespace)) {
            return Err("messages: final assistant content cannot end with trailing whitespace".into());
        }
    }
    Ok(())
}

/// One content block of a message (or inside a `tool_result`), at `path`.
fn check_block(block: &Value, path: &str) -> Result<(), String> {
    let Some(block) = block.as_object() else {
        return Err(format!("{path}: Input should be a valid dictionary"));
    };
    let Some(kind) = block.get("type").and_then(Value::as_str) else {
        return Err(format!("{path}: Unable to extract tag using discriminator 'type'"));
    };
    let required = |field: &str| match block.get(field) {
        None => Err(format!("{path}.{kind}.{field}: Field required")),
        Some(value) => Ok(value),
    };
    let fields: &[&str] = match kind {
        "text" => &["type", "text", "cache_control", "citations"],
        "image" => &["type", "source", "cache_control"],
        "document" => &["type", "source", "title", "context", "citations", "cache_control"],
        "search_result" => &["type", "source", "title", "content", "citations", "cache_control"],
        "tool_use" => &["type", "id", "name", "input", "cache_control"],
        "tool_result" => &["type", "tool_use_id", "content", "is_error", "cache_control"],
        "thinking" => &["type", "thinking", "signature"],
        "redacted_thinking" => &["type", "data"],
        // Server tools and their results: accepted as they are.
        "server_tool_use" | "mcp_tool_use" | "container_upload" => return Ok(()),
        other if other.ends_with("_tool_result") => return Ok(()),
        other => {
            return Err(format!(
                "{path}: Input tag '{other}' found using 'type' does not match any of the expected tags: 'text', \
                 'image', 'document', 'search_result', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', \
                 'server_tool_use', 'web_search_tool_result'"
            ));
        }
    };
    check_fields(block, fields, &format!("{path}.{kind}."))?;
    match kind {
        "text" => match required("text")? {
            Value::String(text) => check_text(text, "messages")?,
            _ => return Err(format!("{path}.text.text: Input should be a valid string")),
        },
        "image" | "document" => {
            required("source")?;
        }
        "tool_use" => {
            if !required("id")?.as_str().is_some_and(valid_id) {
                return Err(format!("{path}.tool_use.id: {ID_PATTERN}"));
            }
            if !required("name")?.is_string() {
                return Err(format!("{path}.tool_use.name: Input should be a valid string"));
            }
            if !required("input")?.is_object() {
                return Err(format!("{path}.tool_use.input: Input should be a valid dictionary"));
            }
        }
        "tool_result" => {
            if !required("tool_use_id")?.as_str().is_some_and(valid_id) {
                return Err(format!("{path}.tool_result.tool_use_id: {ID_PATTERN}"));
            }
            match block.get("content") {
                None | Some(Value::String(_)) => {}
                Some(Value::Array(parts)) => {
                    for (k, part) in parts.iter().enumerate() {
                        let part_path = format!("{path}.tool_result.content.{k}");
                        match part["type"].as_str() {
                            Some("text" | "image" | "document" | "search_result") => check_block(part, &part_path)?,
                            _ => {
                                return Err(format!(
                                    "{part_path}: Input tag '{}' found using 'type' does not match any of the \
                                     expected tags: 'text', 'image', 'document', 'search_result'",
                                    part["type"].as_str().unwrap_or_default()
                                ));
                            }
                        }
                    }
                }
                Some(_) => return Err(format!("{path}.tool_result.content: Input should be a valid string or list")),
            }
        }
        "thinking" => {
            for field in ["thinking", "signature"] {
                if !required(field)?.is_string() {
                    return Err(format!("{path}.thinking.{field}: Input should be a valid string"));
                }
            }
        }
        "redacted_thinking" => {
            required("data")?;
        }
        _ => {}
    }
    Ok(())
}

fn blocks_of<'a>(message: &'a Value, kind: &'a str) -> impl Iterator<Item = (usize, &'a Value)> + 'a {
    message["content"].as_array().into_iter().flatten().enumerate().filter(move |(_, b)| b["type"] == kind)
}

/// Every `tool_use` must be answered by a `tool_result` in the very next message, and every
/// `tool_result` must answer a `tool_use` of the message just before.
fn check_tool_pairing(messages: &[Value]) -> Result<(), String> {
    for (i, message) in messages.iter().enumerate() {
        let previous_uses: Vec<&str> = match i.checked_sub(1).map(|p| &messages[p]) {
            Some(previous) if previous["role"] == "assistant" => {
                blocks_of(previous, "tool_use").filter_map(|(_, b)| b["id"].as_str()).collect()
            }
            _ => Vec::new(),
        };
        if message["role"] == "user" {
            for (j, result) in blocks_of(message, "tool_result") {
                let id = result["tool_use_id"].as_str().unwrap_or_default();
                if !previous_uses.contains(&id) {
                    return Err(format!(
                        "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. \
                         Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                    ));
                }
            }
        }
        let Some(next) = messages.get(i + 1) else { continue };
        if message["role"] != "assistant" {
            continue;
        }
        let answered: Vec<&str> = if next["role"] == "user" {
            blocks_of(next, "tool_result").filter_map(|(_, b)| b["tool_use_id"].as_str()).collect()
        } else {
            Vec::new()
        };
        let missing: Vec<&str> = blocks_of(message, "tool_use")
            .filter_map(|(_, b)| b["id"].as_str())
            .filter(|id| !answered.contains(id))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. \
                 Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                missing.join(", ")
            ));
        }
    }
    Ok(())
}

fn check_system(system: Option<&Value>) -> Result<(), String> {
    match system {
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
        Some(Value::Array(blocks)) => {
            for (j, block) in blocks.iter().enumerate() {
                if block["type"] != "text" {
                    return Err(format!("system.{j}.type: Input should be 'text'"));
                }
                if let Some(object) = block.as_object() {
                    check_fields(object, &["type", "text", "cache_control", "citations"], &format!("system.{j}."))?;
                }
                match block["text"].as_str() {
                    Some(text) => check_text(text, "system")?,
                    None => return Err(format!("system.{j}.text: Field required")),
                }
            }
            Ok(())
        }
        Some(_) => Err("system: Input should be a valid string or list of text blocks".into()),
    }
}

fn check_tools(tools: Option<&Value>) -> Result<(), String> {
    let tools = match tools {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(tools)) => tools,
        Some(_) => return Err("tools: Input should be a valid list".into()),
    };
    let mut names = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let kind = tool.get("type").and_then(Value::as_str).unwrap_or("custom");
        // Server tools are versioned: `web_search_20250305`, `bash_20250124`, ...
        let versioned =
            kind.rsplit_once('_').is_some_and(|(_, v)| v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()));
        if versioned {
            names.extend(tool["name"].as_str());
            continue;
        }
        if kind != "custom" {
            return Err(format!(
                "tools.{i}: Input tag '{kind}' found using 'type' does not match any of the expected tags: 'custom', \
                 'bash_20250124', 'code_execution_20250825', 'text_editor_20250728', 'web_search_20250305'"
            ));
        }
        let name = match tool.get("name") {
            None => return Err(format!("tools.{i}.custom.name: Field required")),
            Some(name) => name.as_str().unwrap_or_default(),
        };
        if !valid_tool_name(name) {
            return Err(format!("tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"));
        }
        match tool.get("input_schema") {
            None => return Err(format!("tools.{i}.custom.input_schema: Field required")),
            Some(schema) if schema["type"] != "object" => {
                return Err(format!("tools.{i}.custom.input_schema.type: Input should be 'object'"));
            }
            Some(_) => {}
        }
        names.push(name);
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err("tools: Tool names must be unique.".into());
    }
    Ok(())
}

/// Validates `tool_choice`; returns whether it forces a tool (`any` or `tool`).
fn check_tool_choice(choice: Option<&Value>) -> Result<bool, String> {
    let choice = match choice {
        None | Some(Value::Null) => return Ok(false),
        Some(Value::Object(choice)) => choice,
        Some(_) => {
            return Err("tool_choice: Input should be a valid dictionary or object to extract fields from".into());
        }
    };
    match choice.get("type").and_then(Value::as_str) {
        Some("auto" | "none") => Ok(false),
        Some("any") => Ok(true),
        Some("tool") => match choice.get("name") {
            Some(Value::String(_)) => Ok(true),
            _ => Err("tool_choice.tool.name: Field required".into()),
        },
        Some(other) => Err(format!(
            "tool_choice: Input tag '{other}' found using 'type' does not match any of the expected tags: 'auto', \
             'any', 'tool', 'none'"
        )),
        None => Err("tool_choice: Unable to extract tag using discriminator 'type'".into()),
    }
}

fn check_thinking(request: &Map<String, Value>, max_tokens: Option<i64>, forced_tool: bool) -> Result<(), String> {
    let thinking = match request.get("thinking") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(thinking)) => thinking,
        Some(_) => return Err("thinking: Input should be a valid dictionary".into()),
    };
    let kind = thinking.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "disabled" => return Ok(()),
        "adaptive" => {}
        "enabled" => {
            let budget = match thinking.get("budget_tokens") {
                None => return Err("thinking.enabled.budget_tokens: Field required".into()),
                Some(budget) => {
                    budget.as_i64().ok_or("thinking.enabled.budget_tokens: Input should be a valid integer")?
                }
            };
            if budget < 1024 {
                return Err("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024".into());
            }
            if max_tokens.is_some_and(|max| max <= budget) {
                return Err("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation \
                            at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
                    .into());
            }
        }
        other => {
            return Err(format!(
                "thinking: Input tag '{other}' found using 'type' does not match any of the expected tags: \
                 'adaptive', 'disabled', 'enabled'"
            ));
        }
    }
    if request.get("temperature").and_then(Value::as_f64).is_some_and(|t| t != 1.0) {
        return Err("`temperature` may only be set to 1 when thinking is enabled or in adaptive mode. Please consult \
                    our documentation at https://platform.claude.com/docs/en/build-with-claude/extended-thinking"
            .into());
    }
    if forced_tool {
        return Err("Thinking may not be enabled when tool_choice forces tool use.".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Answers

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Text blocks (or string content) joined with a space; `tool_result` blocks skipped.
fn user_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The text a message contributes to the prompt count: text blocks and the text in tool results.
fn counted_text(content: &Value) -> String {
    let mut parts = vec![user_text(content)];
    for block in content.as_array().into_iter().flatten().filter(|b| b["type"] == "tool_result") {
        parts.push(user_text(&block["content"]));
    }
    parts.join(" ")
}

fn input_tokens(request: &Map<String, Value>) -> u64 {
    let system = request.get("system").map(user_text).unwrap_or_default();
    let messages = request.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    words(&system) + messages.iter().map(|m| words(&counted_text(&m["content"])) + 3).sum::<u64>()
}

fn listed(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    value.and_then(Value::as_array).into_iter().flatten()
}

/// The first `cache_control` in the request: top level, system, message blocks (and the blocks
/// inside their tool results), tools.
fn cache_control(request: &Map<String, Value>) -> Option<&Value> {
    let message_blocks = || listed(request.get("messages")).flat_map(|m| listed(m.get("content")));
    let blocks = listed(request.get("system"))
        .chain(message_blocks())
        .chain(message_blocks().flat_map(|b| listed(b.get("content"))))
        .chain(listed(request.get("tools")));
    std::iter::once(request.get("cache_control"))
        .flatten()
        .chain(blocks.filter_map(|b| b.get("cache_control")))
        .find(|c| !c.is_null())
}

#[derive(Debug)]
struct Usage {
    input: u64,
    output: u64,
    cache_creation: u64,
    cache_read: u64,
    cache_ttl_1h: bool,
}

impl Usage {
    /// The `usage` of a message (and of `message_start`, with `output` 1).
    fn json(&self, output: u64) -> Value {
        let (five_minutes, one_hour) =
            if self.cache_ttl_1h { (0, self.cache_creation) } else { (self.cache_creation, 0) };
        json!({
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": { "ephemeral_5m_input_tokens": five_minutes, "ephemeral_1h_input_tokens": one_hour },
            "output_tokens": output,
            "service_tier": "standard",
        })
    }

    /// The cumulative `usage` of `message_delta`.
    fn delta_json(&self) -> Value {
        json!({
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": self.output,
        })
    }
}

#[derive(Debug)]
enum Block {
    Thinking,
    Text(Vec<String>),
    ToolUse { name: String, input: Value },
}

impl Block {
    fn json(&self) -> Value {
        match self {
            Block::Thinking => {
                json!({ "type": "thinking", "thinking": THINKING_TEXT, "signature": THINKING_SIGNATURE })
            }
            Block::Text(words) => json!({ "type": "text", "text": words.join(" ") }),
            Block::ToolUse { name, input } => {
                json!({ "type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": input })
            }
        }
    }
}

/// What the mock answers to a valid Messages request.
#[derive(Debug)]
struct Reply {
    blocks: Vec<Block>,
    stop_reason: &'static str,
    stop_sequence: Option<String>,
    usage: Usage,
}

fn split_words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

fn reply(request: &Map<String, Value>, body: &[u8], extra_words: usize) -> Reply {
    let messages = request.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let last_user = messages.iter().rev().find(|m| m["role"] == "user");
    let said = last_user.map(|m| user_text(&m["content"])).unwrap_or_default();
    let answered_tool = last_user.is_some_and(|m| blocks_of(m, "tool_result").next().is_some());
    let thinking = request.get("thinking").is_some_and(|t| t["type"] == "enabled");
    let tools = request.get("tools").and_then(Value::as_array).filter(|t| !t.is_empty());
    let choice = request.get("tool_choice").unwrap_or(&Value::Null);
    let choice_type = choice["type"].as_str().unwrap_or("auto");

    let mut blocks = Vec::new();
    if thinking {
        blocks.push(Block::Thinking);
    }
    let mut output = if thinking { 8 } else { 0 };
    let (stop_reason, stop_sequence) = match tools {
        Some(tools) if choice_type != "none" && !answered_tool => {
            let name = if choice_type == "tool" { &choice["name"] } else { &tools[0]["name"] };
            if choice_type == "auto" {
                let preamble = split_words(TOOL_PREAMBLE);
                output += preamble.len() as u64;
                blocks.push(Block::Text(preamble));
            }
            output += 10;
            blocks.push(Block::ToolUse {
                name: name.as_str().unwrap_or("tool").to_owned(),
                input: json!({ "input": said }),
            });
            ("tool_use", None)
        }
        _ => {
            let mut words = split_words(&format!("{ANSWER_PREFIX} {said}"));
            words.extend((0..extra_words).map(|i| format!("word{i}")));
            let limit = request.get("max_tokens").and_then(Value::as_u64).map_or(usize::MAX, |l| l as usize);
            let stops: Vec<&str> = request
                .get("stop_sequences")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|s| !s.is_empty())
                .collect();
            let stop_at = words.iter().position(|w| stops.iter().any(|s| w.contains(s)));
            let stop = match stop_at {
                Some(at) if at < limit => {
                    let matched = stops.iter().find(|s| words[at].contains(**s)).map(|s| (*s).to_owned());
                    words.truncate(at);
                    ("stop_sequence", matched)
                }
                _ if limit < words.len() => {
                    words.truncate(limit);
                    ("max_tokens", None)
                }
                _ => ("end_turn", None),
            };
            output += words.len() as u64;
            if !words.is_empty() {
                blocks.push(Block::Text(words));
            }
            stop
        }
    };
    let cache = cache_control(request);
    let cached = if cache.is_some() { CACHED_TOKENS } else { 0 };
    let read_before = body.windows(b"cached-before".len()).any(|w| w == b"cached-before");
    let usage = Usage {
        input: input_tokens(request),
        output,
        cache_creation: if read_before { 0 } else { cached },
        cache_read: if read_before { cached } else { 0 },
        cache_ttl_1h: cache.is_some_and(|c| c["ttl"] == "1h"),
    };
    Reply { blocks, stop_reason, stop_sequence, usage }
}

// ---------------------------------------------------------------------------------------------
// Streaming

/// What an SSE event is, for cutting streams in fault modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    BlockStart,
    TextDelta,
    Other,
}

fn event(kind: Kind, data: Value) -> (Kind, String) {
    let name = data["type"].as_str().unwrap_or_default().to_owned();
    (kind, format!("event: {name}\ndata: {data}\n\n"))
}

/// Cuts `s` in three non-empty pieces (fewer if it is short), on char boundaries.
fn thirds(s: &str) -> Vec<&str> {
    let boundary = |n: usize| (n..=s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(s.len());
    let (a, b) = (boundary(s.len() / 3), boundary(2 * s.len() / 3));
    [&s[..a], &s[a..b], &s[b..]].into_iter().filter(|p| !p.is_empty()).collect()
}

/// The SSE events of a streamed reply, in Anthropic's order.
fn stream_events(id: &str, model: &str, reply: &Reply) -> Vec<(Kind, String)> {
    let mut events = vec![event(
        Kind::Other,
        json!({
            "type": "message_start",
            "message": {
                "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": null, "stop_sequence": null, "usage": reply.usage.json(1),
            }
        }),
    )];
    let ping = || event(Kind::Other, json!({ "type": "ping" }));
    if reply.blocks.is_empty() {
        events.push(ping());
    }
    for (index, block) in reply.blocks.iter().enumerate() {
        let start = match block {
            Block::Thinking => json!({ "type": "thinking", "thinking": "", "signature": "" }),
            Block::Text(_) => json!({ "type": "text", "text": "" }),
            Block::ToolUse { name, .. } => json!({ "type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": {} }),
        };
        events.push(event(
            Kind::BlockStart,
            json!({ "type": "content_block_start", "index": index, "content_block": start }),
        ));
        if index == 0 {
            events.push(ping());
        }
        let delta =
            |kind, delta: Value| event(kind, json!({ "type": "content_block_delta", "index": index, "delta": delta }));
        match block {
            Block::Thinking => {
                let (first, rest) = THINKING_TEXT.split_at(THINKING_TEXT.find(". ").map_or(0, |i| i + 1));
                for part in [first, rest].into_iter().filter(|p| !p.is_empty()) {
                    events.push(delta(Kind::Other, json!({ "type": "thinking_delta", "thinking": part })));
                }
                events.push(delta(Kind::Other, json!({ "type": "signature_delta", "signature": THINKING_SIGNATURE })));
            }
            Block::Text(words) => {
                for (i, word) in words.iter().enumerate() {
                    let text = if i == 0 { word.clone() } else { format!(" {word}") };
                    events.push(delta(Kind::TextDelta, json!({ "type": "text_delta", "text": text })));
                }
            }
            Block::ToolUse { input, .. } => {
                let input = input.to_string();
                events.push(delta(Kind::Other, json!({ "type": "input_json_delta", "partial_json": "" })));
                for part in thirds(&input) {
                    events.push(delta(Kind::Other, json!({ "type": "input_json_delta", "partial_json": part })));
                }
            }
        }
        events.push(event(Kind::Other, json!({ "type": "content_block_stop", "index": index })));
    }
    events.push(event(
        Kind::Other,
        json!({
            "type": "message_delta",
            "delta": { "stop_reason": reply.stop_reason, "stop_sequence": reply.stop_sequence },
            "usage": reply.usage.delta_json(),
        }),
    ));
    events.push(event(Kind::Other, json!({ "type": "message_stop" })));
    events
}

/// Keeps the events up to and including the `nth` (1-based) of `kind`, or the last of them if
/// there are fewer; with none, drops `message_delta` and `message_stop`.
fn cut_after(events: &mut Vec<(Kind, String)>, kind: Kind, nth: usize) {
    let positions: Vec<usize> = events.iter().enumerate().filter(|(_, (k, _))| *k == kind).map(|(i, _)| i).collect();
    let keep = match positions.get(nth - 1).or(positions.last()) {
        Some(at) => at + 1,
        None => events.len().saturating_sub(2),
    };
    events.truncate(keep);
}

fn stream_response(state: Arc<MockState>, mut events: Vec<(Kind, String)>, model: &str, request_id: &str) -> Response {
    if model.contains("fault-cut") {
        cut_after(&mut events, Kind::TextDelta, 1);
    } else if model.contains("fault-midstream-error") {
        cut_after(&mut events, Kind::TextDelta, 2);
        events.push(event(
            Kind::Other,
            json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } }),
        ));
    } else if model.contains("fault-malformed") {
        cut_after(&mut events, Kind::BlockStart, 1);
        events.push((Kind::Other, "event: content_block_delta\ndata: {not json\n\n".to_owned()));
    }
    let headers: Vec<(HeaderName, HeaderValue)> = HeaderValue::from_str(request_id)
        .map(|value| (HeaderName::from_static(REQUEST_ID_HEADER), value))
        .into_iter()
        .collect();
    sse_response(state, events.into_iter().map(|(_, text)| text).collect(), &headers)
}
