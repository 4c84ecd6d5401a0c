//! The Anthropic shape of `GET /v1/models`, paged with `limit`, `after_id` and `before_id`.

use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::auth_error;
use super::error::{invalid, request_id, with_request_id};
use crate::mock::MockState;

/// `/v1/models` answers from this list, newest first: (id, display name, created_at).
const MODELS: &[(&str, &str, &str)] = &[
    ("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z"),
    ("claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z"),
    ("claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-15T00:00:00Z"),
];

/// `GET /v1/models` for a request with `x-api-key`: `limit` (default 20), `after_id`, `before_id`.
pub(in crate::mock) fn models(state: &MockState, uri: &Uri, headers: &HeaderMap) -> Response {
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
