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
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::{MockState, digest_hex};
use answer::{Block, input_tokens, reply};
use auth::admit;
use error::{fault, invalid, malformed, request_id, with_request_id};
pub(super) use models::models;
use stream::{stream_events, stream_response};
use validate::{Endpoint, validate};

mod answer;
mod auth;
mod content;
mod error;
mod models;
mod stream;
mod tools;
mod validate;

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

/// The Anthropic routes (`/v1/models` is shared and lives in `super::router`).
pub(super) fn routes() -> Router<Arc<MockState>> {
    Router::new().route("/v1/messages", post(messages)).route("/v1/messages/count_tokens", post(count_tokens))
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
