//! The raw provider proxy, `POST /{provider}/v1/...`: a native request forwarded to the named
//! provider as it is, without model parsing or translation, and its answer passed back as it
//! is, status and body included.
//!
//! Path mapping: what follows the slug is the provider's own API path. OpenAI-format base URLs
//! already end in the version (`https://api.deepseek.com/v1`), so for them the leading `/v1` is
//! dropped (`/deepseek/v1/chat/completions` → `{base}/chat/completions`); Anthropic and Gemini
//! base URLs are the host root, so the path is kept (`/anthropic/v1/messages` →
//! `{base}/v1/messages`, `/google/v1beta/models/m:generateContent` → `{base}/v1beta/…`).
//!
//! The request is still a gateway request: the client's `lr_live_` key (any of its sources) is
//! checked and removed, the provider key injected, allow-lists, expiry, spend limit and
//! reservation applied to the body's `model` (Gemini: the path's) read as that provider's
//! native id, and the answer is charged from the usage it reports (JSON or SSE, read on the
//! way through) or, when the gateway cannot read any, by estimate. Errors of the gateway's
//! own use the provider's format (OpenAI's for an unknown provider).

use std::convert::Infallible;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;

use super::auth::ApiCaller;
use super::body;
use super::forward::{GENERATION_ID, Peeked, StreamLimits, generation_header, sse_response, tap_passthrough};
use super::meter::{EventTap, Meter, MeterSource, Outcome, StreamMeter, admit_request, deadline, worst_case};
use crate::dialect::hub::Dialect;
use crate::dialect::openai::stream::Metered;
use crate::error::ApiError;
use crate::providers::{ProviderKind, RawAnswer, UpstreamResponse};
use crate::routing::{self, Route};
use crate::state::AppState;
use crate::usage::{Pricing, new_generation_id};

/// Client headers never sent upstream: credentials (the gateway's key replaces them), framing
/// and hop-by-hop headers, and `accept-encoding` (the gateway must read the answer for usage).
const DROPPED_REQUEST_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "x-goog-api-key",
    "cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "upgrade",
    "accept-encoding",
];

/// `POST /{provider}/{*rest}`, behind every static route.
pub async fn proxy(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    caller: Result<ApiCaller, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let slug = uri.path().trim_start_matches('/').split('/').next().unwrap_or_default();
    let Some(kind) = state.config.provider(slug).map(|p| p.kind) else {
        // Not a provider: the same answer as any other unknown path.
        return ApiError::not_found(format!("no route for {method} {}", uri.path())).into_response();
    };
    match serve(&state, kind, slug, method, &uri, caller, headers, body).await {
        Ok(response) => response,
        Err(err) => match kind {
            ProviderKind::OpenAi => err.into_response(),
            ProviderKind::Anthropic => err.into_anthropic_response(),
            ProviderKind::Gemini => super::gemini::error_response(err),
        },
    }
}

/// What the gateway reads from a native body; lenient, since the body is the provider's to
/// judge (a `"max_tokens": null` must not hide the model).
#[derive(Deserialize, Default)]
struct Head {
    model: Option<serde_json::Value>,
    stream: Option<serde_json::Value>,
    max_tokens: Option<serde_json::Value>,
    max_completion_tokens: Option<serde_json::Value>,
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    state: &AppState,
    kind: ProviderKind,
    slug: &str,
    method: Method,
    uri: &Uri,
    caller: Result<ApiCaller, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    if method != Method::POST {
        return Err(ApiError::not_found(format!(
            "no route for {method} {}: the raw proxy forwards POST requests",
            uri.path()
        )));
    }
    let rest = &uri.path()[slug.len() + 1..];
    let upstream_path = upstream_path(kind, rest)?;
    let ApiCaller(key) = caller?;
    let now = state.clock.now();
    let bytes = body::read(&headers, body).await?;
    let head: Head = serde_json::from_slice(&bytes).unwrap_or_default();
    let (model, stream) = match kind {
        ProviderKind::Gemini => {
            let action = rest.rsplit_once("/models/").map(|(_, m)| m);
            let (model, method) = action.and_then(|a| a.split_once(':')).unzip();
            (model.map(str::to_owned), method == Some("streamGenerateContent"))
        }
        _ => {
            let model = head.model.as_ref().and_then(|m| m.as_str()).map(str::to_owned);
            (model, head.stream.as_ref().and_then(serde_json::Value::as_bool).unwrap_or(false))
        }
    };
    let max_tokens = head.max_tokens.or(head.max_completion_tokens).and_then(|v| v.as_u64());
    let route = route_of(state, slug, model.as_deref())?;
    let estimate = worst_case(state, &route, bytes.len(), max_tokens);
    let reservation = admit_request(state, &key, &route, now, estimate)?;
    let client = state.providers.client(slug)?;
    let path_and_query = match query_without_key(uri) {
        Some(query) => format!("{upstream_path}?{query}"),
        None => upstream_path.to_owned(),
    };
    let mut forwarded = headers;
    for name in DROPPED_REQUEST_HEADERS {
        forwarded.remove(*name);
    }
    let prompt_bytes = bytes.len();
    let id = new_generation_id(now);
    let mut meter = Meter::new(state.clone(), reservation, id, "proxy", route, now, arrived, stream, prompt_bytes);
    let answer = client.forward(Method::POST, &path_and_query, &forwarded, bytes).await.map_err(|e| meter.fail(e))?;
    meter.first_byte();
    let response = match answer {
        RawAnswer::Failed { status, headers, body } => {
            let outcome = meter.unanswered(status.as_u16(), false);
            let generation = generation_header(&meter.id);
            meter.record(outcome);
            return Ok(respond(status, &headers, generation, Body::from(body)));
        }
        RawAnswer::Success(response) => response,
    };
    let status = response.status();
    let upstream_headers = response.headers().clone();
    let pricing = meter.route.pricing;
    let dialect = Dialect::of(kind).expect("every provider kind has a dialect");
    let is_sse = upstream_headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if is_sse {
        let id = meter.id.clone();
        let watched = StreamMeter { meter, source: EventTap::new(pricing, prompt_bytes) };
        let limits = StreamLimits::new(state, deadline(state, arrived));
        let relayed = tap_passthrough(watched, Peeked::unread(response), dialect, limits);
        let mut out = sse_response(&id, Body::from_stream(relayed));
        *out.status_mut() = status;
        copy_headers(&upstream_headers, out.headers_mut());
        return Ok(out);
    }
    let generation = generation_header(&meter.id);
    if stream {
        // A stream in another framing (Gemini's JSON array): passed on as it comes, charged by
        // estimate from its size.
        let watched = StreamMeter { meter, source: Counted { pricing, prompt_bytes, bytes: 0 } };
        return Ok(respond(status, &upstream_headers, generation, Body::from_stream(count_bytes(watched, response))));
    }
    let body = client.read_body(response).await.map_err(|e| meter.fail(e))?;
    let metered = metered(dialect, &body, prompt_bytes, pricing.as_ref());
    meter.record(Outcome { status: status.as_u16(), metered, cancelled: false });
    Ok(respond(status, &upstream_headers, generation, Body::from(body)))
}

/// The provider-relative path for what follows `/{provider}`, refusing `.`/`..` segments (a
/// URL parser would resolve them out of the base URL's path).
fn upstream_path(kind: ProviderKind, rest: &str) -> Result<&str, ApiError> {
    let not_found = || ApiError::not_found(format!("the raw proxy serves the provider's API under /v1 (got '{rest}')"));
    let dot_segment = rest.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    });
    if dot_segment {
        return Err(ApiError::bad_request("the path must not contain '.' or '..' segments"));
    }
    match kind {
        ProviderKind::OpenAi => rest.strip_prefix("/v1").filter(|p| p.starts_with('/')).ok_or_else(not_found),
        ProviderKind::Anthropic if rest.starts_with("/v1/") => Ok(rest),
        ProviderKind::Gemini if rest.starts_with("/v1/") || rest.starts_with("/v1beta/") => Ok(rest),
        _ => Err(not_found()),
    }
}

/// The route the request is admitted and priced on: the model as that provider's native id.
fn route_of(state: &AppState, slug: &str, model: Option<&str>) -> Result<Route, ApiError> {
    match model.map(str::trim).filter(|m| !m.is_empty()) {
        Some(model) => {
            let mut route = routing::resolve(&state.config, &state.config.catalog, &format!("{slug}/{model}"))?;
            route.native = model.to_owned();
            Ok(route)
        }
        // No model the gateway can see: unpriced, so only keys without a limit may send it.
        None => {
            let id = format!("{slug}/unknown");
            Ok(Route {
                provider: slug.to_owned(),
                model: id.clone(),
                catalog_id: id,
                native: String::new(),
                pricing: None,
            })
        }
    }
}

/// The client's query string without `key=` (a Gemini client's gateway key).
fn query_without_key(uri: &Uri) -> Option<String> {
    let kept: Vec<&str> = uri.query()?.split('&').filter(|p| !p.is_empty() && !p.starts_with("key=")).collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// Usage from a whole answer in the provider's format, or an estimate from its size.
fn metered(dialect: Dialect, body: &[u8], prompt_bytes: usize, pricing: Option<&Pricing>) -> Metered {
    match dialect.decode_response(body) {
        Ok(answer) => {
            let usage = Some(answer.usage).filter(|u| u.total_tokens() > 0);
            let finish = Some(answer.finish_reason.as_openai().to_owned());
            Metered::from_counts(usage, prompt_bytes, body.len(), pricing, finish)
        }
        Err(_) => Metered::from_counts(None, prompt_bytes, body.len(), pricing, None),
    }
}

/// Upstream response headers passed back: content type, request ids, rate-limit information.
/// Nothing else, so no upstream host (`location`, `server`, `via`) or cookie reaches the client.
fn copy_headers(upstream: &HeaderMap, out: &mut HeaderMap) {
    for (name, value) in upstream {
        let n = name.as_str();
        let kept = matches!(n, "content-type" | "retry-after" | "request-id" | "x-request-id")
            || n.starts_with("x-ratelimit-")
            || n.starts_with("anthropic-ratelimit-")
            || n.starts_with("openai-");
        if kept {
            out.insert(name.clone(), value.clone());
        }
    }
}

fn respond(status: StatusCode, upstream: &HeaderMap, generation: HeaderValue, body: Body) -> Response {
    let mut response = (status, body).into_response();
    copy_headers(upstream, response.headers_mut());
    response.headers_mut().insert(GENERATION_ID, generation);
    response
}

/// Meters a stream the gateway cannot decode by its size.
#[derive(Debug)]
struct Counted {
    pricing: Option<Pricing>,
    prompt_bytes: usize,
    bytes: usize,
}

impl MeterSource for Counted {
    fn metered(&self) -> Metered {
        Metered::from_counts(None, self.prompt_bytes, self.bytes, self.pricing.as_ref(), None)
    }
}

fn count_bytes(
    mut watched: StreamMeter<Counted>,
    response: UpstreamResponse,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send {
    async_stream::stream! {
        let mut bytes = response.bytes_stream();
        while let Some(Ok(chunk)) = bytes.next().await {
            watched.source.bytes += chunk.len();
            yield Ok(chunk);
        }
        watched.finish(200);
    }
}

#[cfg(test)]
mod tests;
