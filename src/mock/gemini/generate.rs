//! `:generateContent` and `:streamGenerateContent`: the unary answer, or its chunks framed as SSE
//! or as one streamed JSON array, cut short in the stream fault modes.

use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::answer::reply;
use super::error::{ApiError, fault, malformed};
use super::validate::validate_generate;
use crate::mock::{MockState, digest_hex, sse_response};

pub(super) async fn generate(
    state: &Arc<MockState>,
    model: &str,
    request: &Map<String, Value>,
    body: &[u8],
    stream: Option<bool>,
) -> Result<Response, ApiError> {
    validate_generate(request, model)?;
    fault(model).await?;
    let reply = reply(request, model, state.options.extra_words);
    let id = format!("mock{}", digest_hex(&[b"gemini", model.as_bytes(), body]));
    let usage = !model.contains("fault-no-usage");
    match stream {
        None if model.contains("fault-malformed") => Ok(malformed()),
        None => Ok(axum::Json(reply.unary_json(model, &id, usage)).into_response()),
        Some(sse) => Ok(stream_response(state.clone(), reply.chunks(model, &id, usage), sse, model)),
    }
}

fn stream_response(state: Arc<MockState>, chunks: Vec<Value>, sse: bool, model: &str) -> Response {
    let mut frames: Vec<String> = Vec::new();
    let mut closed = true;
    let strip = |chunks: &mut Vec<Value>| {
        chunks.truncate(2);
        for chunk in chunks.iter_mut() {
            if let Some(candidate) = chunk["candidates"].get_mut(0).and_then(Value::as_object_mut) {
                candidate.remove("finishReason");
            }
        }
    };
    let mut chunks = chunks;
    if model.contains("fault-cut") {
        strip(&mut chunks);
        closed = false;
    } else if model.contains("fault-midstream-error") {
        strip(&mut chunks);
        chunks.push(ApiError::new(503, "UNAVAILABLE", "The model is overloaded. Please try again later.").body());
    } else if model.contains("fault-malformed") {
        chunks.truncate(1);
        closed = false;
    }
    frames.extend(chunks.iter().map(Value::to_string));
    if model.contains("fault-malformed") {
        frames.push("{not json".to_owned());
    }
    let last = frames.len().saturating_sub(1);
    let events: Vec<String> = if sse {
        frames.into_iter().map(|frame| format!("data: {frame}\r\n\r\n")).collect()
    } else {
        frames
            .into_iter()
            .enumerate()
            .map(|(i, frame)| {
                let open = if i == 0 { "[" } else { "\r\n,\r\n" };
                let close = if i == last && closed { "]" } else { "" };
                format!("{open}{frame}{close}")
            })
            .collect()
    };
    let headers: Vec<(HeaderName, HeaderValue)> = if sse {
        Vec::new()
    } else {
        vec![(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=UTF-8"))]
    };
    sse_response(state, events, &headers)
}
