//! The SSE events of a streamed reply in Anthropic's order, cut short in the stream fault modes.

use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use serde_json::{Value, json};

use super::answer::{Block, Reply};
use super::{REQUEST_ID_HEADER, THINKING_SIGNATURE, THINKING_TEXT, TOOL_USE_ID};
use crate::mock::{MockState, sse_response};

/// What an SSE event is, for cutting streams in fault modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) fn stream_events(id: &str, model: &str, reply: &Reply) -> Vec<(Kind, String)> {
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

pub(super) fn stream_response(
    state: Arc<MockState>,
    mut events: Vec<(Kind, String)>,
    model: &str,
    request_id: &str,
) -> Response {
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
