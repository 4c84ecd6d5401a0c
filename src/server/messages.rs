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
use super::forward::{Peeked, StreamLimits, sse_response, tap_passthrough};
use super::meter::{EventTap, Meter, StreamMeter, admit_plan, deadline, worst_case};
use super::translate::{self, ClientSide, TranslatedAnswer};
use crate::dialect::anthropic;
use crate::dialect::hub::Dialect;
use crate::dialect::openai::stream::Metered;
use crate::dialect::raw::RawObject;
use crate::error::ApiError;
use crate::keys::admission::admit;
use crate::providers::ProviderKind;
use crate::providers::anthropic::COUNT_TOKENS_PATH;
use crate::routing::{self, Failure, Plan, Route, RoutingFields};
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

/// An answer read up to the client's first byte.
enum Answer {
    /// Claude, whole: the upstream's bytes, decoded once for usage.
    Whole {
        body: bytes::Bytes,
        metered: Metered,
        headers: HeaderMap,
    },
    /// Claude, streamed: its first event read and checked.
    Stream {
        peeked: Peeked,
    },
    Translated(TranslatedAnswer),
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
    let raw =
        RawObject::parse(&bytes).map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))?;
    let model = model_of(&raw)?;
    let head = validate_head(&bytes)?;
    let fields = RoutingFields { models: raw.get("models"), route: raw.get("route"), provider: raw.get("provider") };
    let mut plan = Plan::build(
        model.as_deref(),
        fields,
        |id| routing::resolve_native(&state.config, &state.config.catalog, "anthropic", id),
        |provider| state.resilience.latency(provider),
    )?;
    let estimate = |route: &Route| worst_case(&state, route, bytes.len(), head.max_tokens);
    let reservation = admit_plan(&state, &key, &mut plan, now, estimate)?;
    let translated =
        translate::prepare(&state, &plan, Dialect::Anthropic, || anthropic::decode::request(&bytes)).await?;
    // Same format: the client's bytes with the native model id, routing fields taken out.
    let mut native = raw;
    for field in ["models", "route", "provider"] {
        native.remove(field);
    }

    let mut meter = Meter::new(
        state.clone(),
        reservation,
        new_generation_id(now),
        "messages",
        plan.first().clone(),
        now,
        arrived,
        head.stream,
        bytes.len(),
    );
    let deadline = deadline(&state, arrived);
    let attempt = |route| attempt(&state, route, &native, head.stream, &headers, translated.as_ref());
    let answer = meter.run(&plan, deadline, attempt).await?;
    let limits = StreamLimits::new(&state, deadline);
    match answer {
        Answer::Whole { body, metered, headers } => {
            let mut response = meter.answer(metered, body);
            response.headers_mut().extend(headers);
            Ok(response)
        }
        Answer::Stream { peeked } => {
            let upstream_headers = passthrough_headers(&peeked.headers);
            let pricing = meter.route.pricing;
            let id = meter.id.clone();
            let watched = StreamMeter { meter, source: EventTap::new(pricing, bytes.len()) };
            let relayed = tap_passthrough(watched, peeked, Dialect::Anthropic, limits);
            let mut response = sse_response(&id, Body::from_stream(relayed));
            response.headers_mut().extend(upstream_headers);
            Ok(response)
        }
        Answer::Translated(answer) => {
            let side = ClientSide { dialect: Dialect::Anthropic, prompt_bytes: bytes.len(), wants_usage_chunk: true };
            let request = translated.as_ref().expect("translated answers come from translated requests");
            Ok(translate::respond(meter, answer, request, side, limits, now))
        }
    }
}

/// One attempt at `route`: the client's bytes to Claude, translated for anyone else.
async fn attempt(
    state: &AppState,
    route: &Route,
    native: &RawObject<'_>,
    stream: bool,
    headers: &HeaderMap,
    translated: Option<&crate::llm::ChatRequest>,
) -> Result<Answer, Failure> {
    if translate::needs_translation(state, route, Dialect::Anthropic) {
        let request = translated.expect("prepared for plans with translated candidates");
        return translate::send(state, route, request).await.map(Answer::Translated);
    }
    let client = state.providers.client(&route.provider)?;
    let mut body = native.clone();
    body.set_value("model", route.native.as_str());
    let path = client.chat_path(&route.native, stream).map_err(Failure::client)?;
    let first_byte_by = tokio::time::Instant::now() + state.config.timeouts.first_byte;
    let response = client.post(&path, body.to_vec(), stream, Some(headers)).await?;
    if stream {
        let peeked = Peeked::read(response, Dialect::Anthropic, &route.provider, first_byte_by).await?;
        return Ok(Answer::Stream { peeked });
    }
    let upstream_headers = passthrough_headers(response.headers());
    let body = client.read_body(response).await?;
    let answer = anthropic::decode::response(&body).map_err(Failure::invalid_answer)?;
    let finish_reason = Some(answer.finish_reason.as_openai().to_owned());
    let metered = Metered::from_counts(Some(answer.usage), 0, 0, route.pricing.as_ref(), finish_reason);
    Ok(Answer::Whole { body, metered, headers: upstream_headers })
}

/// The body's `model`, if it names one (it may be left out when `models` is given).
fn model_of(raw: &RawObject<'_>) -> Result<Option<String>, ApiError> {
    match raw.get("model") {
        None => Ok(None),
        Some(value) => serde_json::from_str::<Option<String>>(value.get())
            .map_err(|_| ApiError::bad_request("'model' must be a string")),
    }
}

/// Upstream headers worth passing back on the native surface: the content type, the request id
/// and Anthropic's rate-limit information.
fn passthrough_headers(upstream: &HeaderMap) -> HeaderMap {
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
