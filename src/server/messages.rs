//! The Anthropic-native surface: `POST /v1/messages` and `POST /v1/messages/count_tokens`.
//!
//! Claude models are forwarded natively: the client's bytes with `model` rewritten, its
//! `anthropic-*` headers, and the upstream's answer and stream bytes passed back untouched
//! while usage is read on the way. Any other provider's model (`openai/gpt-5.4`) is translated
//! through `llm`. Every error on this surface is Anthropic-shaped.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::ApiCaller;
use super::body;
use super::forward::{sse_response, tap_passthrough};
use super::meter::{EventTap, Meter, StreamMeter, admit_request, worst_case};
use super::translate::{self, Translated};
use crate::dialect::anthropic;
use crate::dialect::hub::Dialect;
use crate::dialect::openai::stream::Metered;
use crate::dialect::raw::RawObject;
use crate::error::ApiError;
use crate::keys::admission::admit;
use crate::providers::ProviderKind;
use crate::providers::anthropic::COUNT_TOKENS_PATH;
use crate::routing::{self, Route};
use crate::state::AppState;
use crate::usage::{estimate_tokens, new_generation_id};

pub async fn messages(
    State(state): State<AppState>,
    caller: Result<ApiCaller, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match serve_messages(state, caller, headers, body).await {
        Ok(response) => response,
        Err(err) => err.into_anthropic_response(),
    }
}

pub async fn count_tokens(
    State(state): State<AppState>,
    caller: Result<ApiCaller, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match serve_count_tokens(state, caller, headers, body).await {
        Ok(response) => response,
        Err(err) => err.into_anthropic_response(),
    }
}

#[derive(Deserialize)]
struct Head {
    model: Option<String>,
}

/// What the native path checks before forwarding: enough to refuse a body the upstream would
/// refuse anyway, without rejecting block types the gateway does not translate (server tools,
/// search results…), which pass through untouched.
#[derive(Deserialize)]
struct MessagesHead<'a> {
    #[serde(borrow)]
    messages: Option<Vec<&'a serde_json::value::RawValue>>,
    max_tokens: Option<serde_json::Value>,
    stream: Option<serde_json::Value>,
}

/// The checked head of a native body.
struct Checked {
    stream: bool,
    max_tokens: Option<u64>,
}

fn validate_head(bytes: &[u8]) -> Result<Checked, ApiError> {
    let head: MessagesHead = serde_json::from_slice(bytes)
        .map_err(|_| ApiError::bad_request("'messages' must be an array of message objects"))?;
    match head.messages {
        None => return Err(ApiError::bad_request("'messages' is required")),
        Some(m) if m.is_empty() => return Err(ApiError::bad_request("'messages' must contain at least one message")),
        Some(_) => {}
    }
    let max_tokens = match head.max_tokens {
        None => return Err(ApiError::bad_request("'max_tokens' is required")),
        Some(v) => v.as_u64().ok_or_else(|| ApiError::bad_request("'max_tokens' must be a non-negative integer"))?,
    };
    let stream = match head.stream {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => b,
        Some(_) => return Err(ApiError::bad_request("'stream' must be a boolean")),
    };
    let body = RawObject::parse(bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
    crate::dialect::check::anthropic_messages(&body)?;
    Ok(Checked { stream, max_tokens: Some(max_tokens) })
}

/// The route for a `/v1/messages` body: bare names are Anthropic's.
fn route_of(state: &AppState, bytes: &[u8]) -> Result<Route, ApiError> {
    let head: Head = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))?;
    let model = head.model.ok_or_else(|| ApiError::bad_request("'model' is required"))?;
    routing::resolve_native(&state.config, &state.config.catalog, "anthropic", &model)
}

async fn serve_messages(
    state: AppState,
    caller: Result<ApiCaller, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let ApiCaller(key) = caller?;
    let arrived = Instant::now();
    let now = state.clock.now();
    let bytes = body::read(&headers, body).await?;
    let route = route_of(&state, &bytes)?;
    let head = validate_head(&bytes)?;
    let estimate = worst_case(&state, &route, bytes.len(), head.max_tokens);
    let reservation = admit_request(&state, &key, &route, now, estimate)?;
    let client = state.providers.client(&route.provider)?;
    if client.kind() != ProviderKind::Anthropic {
        let translated = Translated {
            reservation,
            route,
            client: Dialect::Anthropic,
            request: anthropic::decode::request(&bytes)?,
            prompt_bytes: bytes.len(),
            wants_usage_chunk: true,
            arrived,
            now,
        };
        return translate::chat(&state, translated).await;
    }

    // Same format: forward the client's bytes with the native model id.
    let mut upstream_body = RawObject::parse(&bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
    upstream_body.set_value("model", route.native.as_str());
    let stream = head.stream;
    let path = client.chat_path(&route.native, stream)?;
    let mut meter = Meter::new(
        state.clone(),
        reservation,
        new_generation_id(now),
        "messages",
        route,
        now,
        arrived,
        stream,
        bytes.len(),
    );
    let response =
        client.post(&path, upstream_body.to_vec(), stream, Some(&headers)).await.map_err(|err| meter.fail(err))?;
    meter.first_byte();
    let upstream_headers = passthrough_headers(response.headers());
    if !stream {
        let body = client.read_body(response).await.map_err(|err| meter.fail(err))?;
        let answer = anthropic::decode::response(&body).map_err(|invalid| meter.fail(invalid))?;
        let finish_reason = Some(answer.finish_reason.as_openai().to_owned());
        let metered = Metered::from_counts(Some(answer.usage), 0, 0, meter.route.pricing.as_ref(), finish_reason);
        let mut response = meter.answer(metered, body);
        response.headers_mut().extend(upstream_headers);
        return Ok(response);
    }

    let pricing = meter.route.pricing;
    let id = meter.id.clone();
    let watched = StreamMeter { meter, source: EventTap::new(pricing, bytes.len()) };
    let mut response = sse_response(&id, Body::from_stream(tap_passthrough(watched, response, Dialect::Anthropic)));
    response.headers_mut().extend(upstream_headers);
    Ok(response)
}

/// Upstream headers worth passing back on the native surface: the content type, the request id
/// and Anthropic's rate-limit information.
fn passthrough_headers(upstream: &reqwest::header::HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in upstream {
        let name_str = name.as_str();
        if name_str == "content-type" || name_str == "request-id" || name_str.starts_with("anthropic-ratelimit-") {
            if let (Ok(name), Ok(value)) =
                (header::HeaderName::from_bytes(name_str.as_bytes()), HeaderValue::from_bytes(value.as_bytes()))
            {
                out.insert(name, value);
            }
        }
    }
    out
}

async fn serve_count_tokens(
    state: AppState,
    caller: Result<ApiCaller, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let ApiCaller(key) = caller?;
    let now = state.clock.now();
    let bytes = body::read(&headers, body).await?;
    let route = route_of(&state, &bytes)?;
    let mut upstream_body = RawObject::parse(&bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let messages = upstream_body.get("messages").ok_or_else(|| ApiError::bad_request("'messages' is required"))?;
    if !messages.get().starts_with('[') {
        return Err(ApiError::bad_request("'messages' must be an array of messages"));
    }
    admit(&key, &route, now, true, 0)?;
    let client = state.providers.client(&route.provider)?;
    if client.kind() == ProviderKind::Anthropic {
        upstream_body.set_value("model", route.native.as_str());
        let response = client.post(COUNT_TOKENS_PATH, upstream_body.to_vec(), false, Some(&headers)).await?;
        let body = client.read_body(response).await?;
        return Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response());
    }
    // Other providers have no such endpoint: an estimate from the size of what would be sent
    // (about four bytes a token), which is what the gateway would also charge on a cut stream.
    let counted: usize = ["system", "messages", "tools"]
        .iter()
        .filter_map(|field| upstream_body.get(field))
        .map(|raw| raw.get().len())
        .sum();
    Ok(axum::Json(serde_json::json!({ "input_tokens": estimate_tokens(counted) })).into_response())
}
