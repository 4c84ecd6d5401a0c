//! Fault modes shared by every mock API, applied before the dialect's handler runs; the model
//! named in the body (or in a Gemini path) chooses them:
//! * `fault-502`: 502 with a JSON error body
//! * `fault-flaky-<n>`: the first `n` requests for that exact model get 503, later ones are
//!   answered normally (for retry tests)
//! * `fault-slow-<ms>`: waits that long before answering normally (slow first byte)
//! * `fault-silent`: a stream that sends its first event and then nothing, forever
//! * `fault-endless`: a stream that never ends (an event every `chunk_delay`)

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{MockState, StreamGuard};

/// Which API a request is for, by path, so faulty streams are in its format.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    OpenAi,
    Anthropic,
    Gemini,
}

/// The fault layer: answers the fault itself, or hands the request on untouched.
pub(super) async fn apply(State(state): State<Arc<MockState>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let path = parts.uri.path();
    let api = if path.starts_with("/v1beta/") {
        Api::Gemini
    } else if path.starts_with("/v1/messages") {
        Api::Anthropic
    } else {
        Api::OpenAi
    };
    let json: Option<Value> = serde_json::from_slice(&bytes).ok();
    let model = match api {
        Api::Gemini => path.rsplit('/').next().and_then(|m| m.split(':').next()).unwrap_or("").to_owned(),
        _ => json.as_ref().and_then(|j| j["model"].as_str()).unwrap_or("").to_owned(),
    };
    let streaming = match api {
        Api::Gemini => path.contains(":streamGenerateContent"),
        _ => json.as_ref().is_some_and(|j| j["stream"] == true),
    };
    if let Some(ms) = number_after(&model, "fault-slow-") {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let fault = if model.contains("fault-502") {
        Some(error(StatusCode::BAD_GATEWAY, "mock: bad gateway"))
    } else if let Some(failures) = number_after(&model, "fault-flaky-") {
        let mut logs = state.logs.lock().expect("mock log poisoned");
        let seen = logs.flaky.entry(model.clone()).or_default();
        *seen += 1;
        (*seen as u64 <= failures).then(|| error(StatusCode::SERVICE_UNAVAILABLE, "mock: flaky, try again"))
    } else if model.contains("fault-silent") || model.contains("fault-endless") {
        Some(if streaming {
            endless(state.clone(), api, &model, model.contains("fault-endless"))
        } else {
            std::future::pending::<()>().await;
            unreachable!("pending never resolves")
        })
    } else {
        None
    };
    match fault {
        Some(response) => {
            state.record(parts.method.clone(), &parts.uri, &parts.headers, &bytes);
            response
        }
        None => next.run(Request::from_parts(parts, Body::from(bytes))).await,
    }
}

/// The number after `prefix` in `model` (`fault-slow-250` → 250).
fn number_after(model: &str, prefix: &str) -> Option<u64> {
    let rest = &model[model.find(prefix)? + prefix.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": { "message": message, "type": "server_error", "code": status.as_u16() } })))
        .into_response()
}

/// A stream that starts like a normal answer and then either goes silent or never stops.
fn endless(state: Arc<MockState>, api: Api, model: &str, keep_sending: bool) -> Response {
    let (first, next) = frames(api, model);
    let delay = state.options.chunk_delay.max(Duration::from_millis(1));
    let index = state.stream_started();
    let body = async_stream::stream! {
        let _guard = StreamGuard { state: state.clone(), index, finished: false };
        yield Ok::<Bytes, Infallible>(Bytes::from(first));
        if !keep_sending {
            std::future::pending::<()>().await;
        }
        loop {
            tokio::time::sleep(delay).await;
            state.update_stream(index, |log| log.chunks_sent += 1);
            yield Ok(Bytes::from(next.clone()));
        }
    };
    ([("content-type", "text/event-stream")], Body::from_stream(body)).into_response()
}

/// The opening events of an answer in `api`'s format, and one text event to repeat.
fn frames(api: Api, model: &str) -> (String, String) {
    match api {
        Api::OpenAi => {
            let chunk = |delta: Value| {
                let chunk = json!({ "id": "chatcmpl-mock-endless", "object": "chat.completion.chunk", "created": 0,
                    "model": model, "choices": [{ "index": 0, "delta": delta, "finish_reason": null }] });
                format!("data: {chunk}\n\n")
            };
            (chunk(json!({ "role": "assistant", "content": "and " })), chunk(json!({ "content": "on " })))
        }
        Api::Anthropic => {
            let start = json!({ "type": "message_start", "message": { "id": "msg_mock_endless", "type": "message",
                "role": "assistant", "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": { "input_tokens": 5, "output_tokens": 1 } } });
            let block =
                json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } });
            let delta =
                json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": "on " } });
            let delta = format!("event: content_block_delta\ndata: {delta}\n\n");
            (
                format!("event: message_start\ndata: {start}\n\nevent: content_block_start\ndata: {block}\n\n{delta}"),
                delta,
            )
        }
        Api::Gemini => {
            let chunk = json!({ "candidates": [{ "content": { "role": "model", "parts": [{ "text": "on " }] }, "index": 0 }],
                "modelVersion": model });
            let chunk = format!("data: {chunk}\r\n\r\n");
            (chunk.clone(), chunk)
        }
    }
}
