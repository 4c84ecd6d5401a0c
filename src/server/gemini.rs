//! The Gemini-native surface: `POST /v1beta/models/{model}:{method}` (also under `/v1/`, which
//! newer google-genai SDKs use), `GET /v1beta/models` and `GET /v1beta/models/{model}`.
//!
//! Google models are forwarded natively (body untouched; streams passed through while usage is
//! read). Any other provider's model is named with its prefix in the path —
//! `models/anthropic/claude-sonnet-4.6:generateContent`, which is what the google-genai SDK
//! sends for `model="anthropic/claude-sonnet-4.6"` — and translated through `llm`. Errors use
//! Google's shape `{"error":{"code","message","status"}}`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{AnyCaller, ApiCaller};
use super::body;
use super::forward::{Peeked, StreamLimits, sse_response, tap_passthrough};
use super::meter::{EventTap, Meter, StreamMeter, admit_plan, admit_request, deadline, worst_case};
use super::translate::{self, ClientSide, TranslatedAnswer};
use crate::catalog::ModelInfo;
use crate::dialect::gemini;
use crate::dialect::hub::Dialect;
use crate::dialect::openai::stream::Metered;
use crate::dialect::raw::RawObject;
use crate::error::ApiError;
use crate::keys::CachedKey;
use crate::keys::admission::admit;
use crate::providers::{self, ProviderKind};
use crate::routing::{self, Failure, Plan, Route, RoutingFields};
use crate::sse::SseDecoder;
use crate::state::AppState;
use crate::usage::{estimate_tokens, new_generation_id};

#[derive(Debug, Deserialize)]
pub struct GeminiQuery {
    alt: Option<String>,
}

/// An error in Google's shape.
pub fn error_response(err: ApiError) -> Response {
    let body = gemini::error_body(&err);
    err.into_response_with(body)
}

pub async fn model_post(
    State(state): State<AppState>,
    caller: Result<ApiCaller, ApiError>,
    Path(rest): Path<String>,
    Query(query): Query<GeminiQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match serve_post(state, caller, rest, query, headers, body).await {
        Ok(response) => response,
        Err(err) => error_response(err),
    }
}

async fn serve_post(
    state: AppState,
    caller: Result<ApiCaller, ApiError>,
    rest: String,
    query: GeminiQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let ApiCaller(key) = caller?;
    let (model, method) =
        rest.rsplit_once(':').ok_or_else(|| ApiError::not_found(format!("no method in 'models/{rest}'")))?;
    let model = model.strip_prefix("models/").unwrap_or(model);
    let route = routing::resolve_native(&state.config, &state.config.catalog, "google", model)?;
    let call = Call { state, key, route, headers, arrived: Instant::now() };
    match method {
        "generateContent" => call.generate(body, false, false).await,
        "streamGenerateContent" => call.generate(body, true, query.alt.as_deref() == Some("sse")).await,
        "countTokens" => call.count_tokens(body).await,
        "embedContent" | "batchEmbedContents" => call.embed(body, method).await,
        other => Err(ApiError::not_found(format!("unknown method '{other}'"))),
    }
}

/// An answer read up to the client's first byte.
enum Answer {
    /// Google, whole: the upstream's bytes, decoded once for usage.
    Whole {
        body: Bytes,
        metered: Metered,
    },
    /// Google, streamed: its first event read and checked.
    Stream(Peeked),
    Translated(TranslatedAnswer),
}

/// One attempt at `route`: the client's bytes to Gemini, translated for anyone else.
async fn attempt(
    state: &AppState,
    route: &Route,
    native: &[u8],
    stream: bool,
    translated: Option<&crate::llm::ChatRequest>,
) -> Result<Answer, Failure> {
    if translate::needs_translation(state, route, Dialect::Gemini) {
        let request = translated.expect("prepared for plans with translated candidates");
        return translate::send(state, route, request).await.map(Answer::Translated);
    }
    let client = state.providers.client(&route.provider)?;
    let path = client.chat_path(&route.native, stream).map_err(Failure::client)?;
    let first_byte_by = tokio::time::Instant::now() + state.config.timeouts.first_byte;
    let response = client.post(&path, native.to_vec(), stream, None).await?;
    if stream {
        let peeked = Peeked::read(response, Dialect::Gemini, &route.provider, first_byte_by).await?;
        return Ok(Answer::Stream(peeked));
    }
    let body = client.read_body(response).await?;
    let answer = gemini::decode::response(&body).map_err(Failure::invalid_answer)?;
    let reported = Some(answer.usage).filter(|u| u.total_tokens() > 0);
    let finish_reason = Some(answer.finish_reason.as_openai().to_owned());
    let metered = Metered::from_counts(reported, native.len(), 0, route.pricing.as_ref(), finish_reason);
    Ok(Answer::Whole { body, metered })
}

/// One request to a model method.
struct Call {
    state: AppState,
    key: Arc<CachedKey>,
    route: Route,
    headers: HeaderMap,
    arrived: Instant,
}

#[derive(Deserialize)]
struct ContentsHead<'a> {
    #[serde(borrow)]
    contents: Option<Vec<&'a serde_json::value::RawValue>>,
}

/// The check the native path makes before forwarding: what the upstream would refuse anyway.
fn check_contents(bytes: &[u8]) -> Result<(), ApiError> {
    let head: ContentsHead = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("request body is not valid JSON or 'contents' is not an array: {e}"))
    })?;
    match head.contents {
        None => Err(ApiError::bad_request("'contents' is required")),
        Some(c) if c.is_empty() => Err(ApiError::bad_request("'contents' must not be empty")),
        Some(_) => {
            let body = RawObject::parse(bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
            crate::dialect::check::gemini_generate(&body)
        }
    }
}

impl Call {
    async fn generate(self, body: Body, stream: bool, sse: bool) -> Result<Response, ApiError> {
        let now = self.state.clock.now();
        let state = &self.state;
        let bytes = body::read(&self.headers, body).await?;
        let raw = RawObject::parse(&bytes).map_err(|e| {
            ApiError::bad_request(format!("request body is not valid JSON or 'contents' is not an array: {e}"))
        })?;
        let fields =
            RoutingFields { models: raw.get("models"), route: raw.get("route"), provider: raw.get("provider") };
        let mut plan = if fields.any() {
            Plan::build(
                Some(&self.route.model),
                fields,
                |id| routing::resolve_native(&state.config, &state.config.catalog, "google", id),
                |provider| state.resilience.latency(provider),
            )?
        } else {
            Plan::single(self.route.clone())
        };
        let estimate = |route: &Route| worst_case(state, route, bytes.len(), None);
        let reservation = admit_plan(state, &self.key, &mut plan, now, estimate)?;
        let decode = || {
            let mut request = gemini::decode::request(&bytes)?;
            request.stream = stream;
            Ok(request)
        };
        let translated = translate::prepare(state, &plan, Dialect::Gemini, decode).await?;
        // Same format: the client's bytes untouched, unless routing fields must come out.
        let native: Option<Vec<u8>> = fields.any().then(|| {
            let mut stripped = raw.clone();
            for field in ["models", "route", "provider"] {
                stripped.remove(field);
            }
            stripped.to_vec()
        });
        let native: &[u8] = native.as_deref().unwrap_or(&bytes);
        let needs_native = plan.candidates.iter().any(|r| !translate::needs_translation(state, r, Dialect::Gemini));
        if needs_native {
            check_contents(&bytes)?;
        }

        let mut meter = Meter::new(
            state.clone(),
            reservation,
            new_generation_id(now),
            "generateContent",
            plan.first().clone(),
            now,
            self.arrived,
            stream,
            bytes.len(),
        );
        let deadline = deadline(state, self.arrived);
        let attempt = |route| attempt(state, route, native, stream, translated.as_ref());
        let answer = meter.run(&plan, deadline, attempt).await?;
        let limits = StreamLimits::new(state, deadline);
        let response = match answer {
            Answer::Whole { body, metered } => meter.answer(metered, body),
            Answer::Stream(peeked) => {
                let pricing = meter.route.pricing;
                let id = meter.id.clone();
                let watched = StreamMeter { meter, source: EventTap::new(pricing, bytes.len()) };
                sse_response(&id, Body::from_stream(tap_passthrough(watched, peeked, Dialect::Gemini, limits)))
            }
            Answer::Translated(answer) => {
                let side = ClientSide { dialect: Dialect::Gemini, prompt_bytes: bytes.len(), wants_usage_chunk: true };
                let request = translated.as_ref().expect("translated answers come from translated requests");
                translate::respond(meter, answer, request, side, limits, now)
            }
        };
        Ok(if stream && !sse { as_json_array(response) } else { response })
    }

    /// Gemini's own count for Google models; for others an estimate of about four bytes a
    /// token of the body (what the gateway charges when an upstream reports nothing).
    async fn count_tokens(self, body: Body) -> Result<Response, ApiError> {
        let bytes = body::read(&self.headers, body).await?;
        let raw = RawObject::parse(&bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
        if raw.get("contents").is_none() && raw.get("generateContentRequest").is_none() {
            return Err(ApiError::bad_request("'contents' is required"));
        }
        if raw.get("contents").is_some_and(|c| !c.get().starts_with('[')) {
            return Err(ApiError::bad_request("'contents' must be an array of contents"));
        }
        admit(&self.key, &self.route, self.state.clock.now(), true, 0)?;
        let client = self.state.providers.client(&self.route.provider)?;
        if client.kind() == ProviderKind::Gemini {
            let path = providers::gemini::action_path(&self.route.native, "countTokens")?;
            let response = client.post(&path, bytes.to_vec(), false, None).await?;
            let body = client.read_body(response).await?;
            return Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response());
        }
        Ok(axum::Json(json!({ "totalTokens": estimate_tokens(bytes.len()) })).into_response())
    }

    /// Embeddings for Google models, forwarded natively; each batch item's `model` is set to
    /// the native one. Gemini reports no usage, so the input is charged by estimate.
    async fn embed(self, body: Body, method: &str) -> Result<Response, ApiError> {
        let now = self.state.clock.now();
        let bytes = body::read(&self.headers, body).await?;
        let estimate = worst_case(&self.state, &self.route, bytes.len(), Some(0));
        let reservation = admit_request(&self.state, &self.key, &self.route, now, estimate)?;
        let client = self.state.providers.client(&self.route.provider)?;
        if client.kind() != ProviderKind::Gemini {
            return Err(ApiError::bad_request(format!(
                "'{method}' on the Gemini surface is only available for Google models; use /v1/embeddings for '{}'",
                self.route.model
            )));
        }
        // A map, not a `Value`: indexing a non-object `Value` mutably would panic.
        let mut value: serde_json::Map<String, Value> = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("request body is not a valid JSON object: {e}")))?;
        let native = format!("models/{}", self.route.native);
        match method {
            "batchEmbedContents" => {
                let requests = value
                    .get_mut("requests")
                    .and_then(Value::as_array_mut)
                    .filter(|r| !r.is_empty())
                    .ok_or_else(|| ApiError::bad_request("'requests' must be a non-empty array"))?;
                for (i, request) in requests.iter_mut().enumerate() {
                    // Indexing a non-object `Value` mutably panics; refuse it instead.
                    let request = request.as_object_mut().filter(|r| r.contains_key("content")).ok_or_else(|| {
                        ApiError::bad_request(format!("'requests[{i}]' must be an object with a 'content'"))
                    })?;
                    request.insert("model".into(), native.clone().into());
                }
            }
            _ => {
                if !value.get("content").is_some_and(Value::is_object) {
                    return Err(ApiError::bad_request("'content' is required and must be an object with 'parts'"));
                }
            }
        }
        let path = providers::gemini::action_path(&self.route.native, method)?;
        let mut meter = Meter::new(
            self.state.clone(),
            reservation,
            new_generation_id(now),
            "embeddings",
            self.route,
            now,
            self.arrived,
            false,
            bytes.len(),
        );
        let body = serde_json::to_vec(&value).expect("JSON serialises");
        let response = client.post(&path, body, false, None).await.map_err(|err| meter.fail(err))?;
        meter.first_byte();
        let upstream = client.read_body(response).await.map_err(|err| meter.fail(err))?;
        let metered = Metered::from_counts(None, bytes.len(), 0, meter.route.pricing.as_ref(), None);
        Ok(meter.answer(metered, upstream))
    }
}

/// Re-frames an SSE body as the JSON array `streamGenerateContent` sends without `alt=sse`,
/// element by element as they arrive. Keep-alive blank lines become JSON whitespace.
fn as_json_array(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let stream = async_stream::stream! {
        let mut data = body.into_data_stream();
        let mut frames = SseDecoder::default();
        let mut scratch = Vec::new();
        let mut first = true;
        while let Some(Ok(chunk)) = data.next().await {
            if frames.push(&chunk, &mut scratch).is_err() {
                break;
            }
            if scratch.is_empty() {
                yield Ok::<Bytes, Infallible>(Bytes::from_static(b"\n"));
                continue;
            }
            let mut out = Vec::new();
            for frame in scratch.drain(..) {
                out.extend_from_slice(if first { b"[" } else { b",\r\n" });
                first = false;
                out.extend_from_slice(frame.data.as_bytes());
            }
            yield Ok(Bytes::from(out));
        }
        yield Ok(Bytes::from_static(if first { b"[]" } else { b"]" }));
    };
    Response::from_parts(parts, Body::from_stream(stream))
}

fn model_json(m: &ModelInfo) -> Value {
    let name = match m.id.strip_prefix("google/") {
        Some(native) => format!("models/{native}"),
        None => format!("models/{}", m.id),
    };
    let methods: &[&str] = if m.output_modalities.iter().any(|o| o == "embeddings") {
        &["embedContent", "batchEmbedContents", "countTokens"]
    } else {
        &["generateContent", "streamGenerateContent", "countTokens"]
    };
    json!({
        "name": name,
        "baseModelId": name.trim_start_matches("models/"),
        "version": "001",
        "displayName": m.name,
        "description": m.description,
        "inputTokenLimit": m.context_length,
        "outputTokenLimit": m.max_completion_tokens,
        "supportedGenerationMethods": methods,
    })
}

/// `GET /v1beta/models`: the catalog in Gemini's list shape (Google models by their native
/// name, others by their prefixed id, all usable in the `models/{model}:method` paths).
pub async fn list_models(State(state): State<AppState>, caller: Result<AnyCaller, ApiError>) -> Response {
    if let Err(err) = caller {
        return error_response(err);
    }
    let models: Vec<Value> = state.config.catalog.models().iter().map(model_json).collect();
    axum::Json(json!({ "models": models })).into_response()
}

/// `GET /v1beta/models/{model}`: one model.
pub async fn get_model(
    State(state): State<AppState>,
    caller: Result<AnyCaller, ApiError>,
    Path(rest): Path<String>,
) -> Response {
    if let Err(err) = caller {
        return error_response(err);
    }
    let id = if rest.contains('/') { rest.clone() } else { format!("google/{rest}") };
    match state.config.catalog.find(&id) {
        Some(model) => axum::Json(model_json(model)).into_response(),
        None => error_response(ApiError::not_found(format!("model 'models/{rest}' is not found"))),
    }
}
