//! `POST /v1/chat/completions` (and `/api/v1/…`): OpenAI format in, OpenAI format out.
//!
//! The request's plan (its model, `models` fallbacks, `provider` preferences) is run by
//! `routing::Resilience`; each attempt either forwards the client's bytes (OpenAI-format
//! providers) or translates through `llm`, and reads the answer as far as it can before the
//! client sees a byte, so a failure there can still be retried or sent to the next candidate.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::auth::ApiCaller;
use super::body;
use super::forward::{Peeked, StreamLimits, UpstreamEvents, relay, sse_response};
use super::meter::{Meter, StreamMeter, admit_plan, deadline, worst_case};
use super::translate::{self, ClientSide, TranslatedAnswer};
use crate::dialect::hub::Dialect;
use crate::dialect::openai;
use crate::dialect::openai::response::{Identity, Rewritten, rewrite_completion};
use crate::dialect::openai::stream::Step;
use crate::dialect::openai::{ChatRequest, StreamRewriter};
use crate::error::ApiError;
use crate::llm;
use crate::routing::{self, Failure, Plan, Route};
use crate::state::AppState;
use crate::usage::new_generation_id;

/// An answer read up to the client's first byte.
enum Answer {
    /// Same format, whole: already rewritten for the client.
    Whole(Rewritten),
    /// Same format, streamed: its first event read and checked.
    Stream(Peeked),
    Translated(TranslatedAnswer),
}

pub async fn chat_completions(
    State(state): State<AppState>,
    ApiCaller(key): ApiCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let now = state.clock.now();
    let bytes = body::read(&headers, body).await?;
    let request = ChatRequest::parse(&bytes)?;
    let mut plan = Plan::build(
        Some(&request.model),
        request.routing(),
        |id| routing::resolve(&state.config, &state.config.catalog, id),
        |provider| state.resilience.latency(provider),
    )?;
    let estimate = |route: &Route| worst_case(&state, route, request.prompt_bytes, request.max_tokens);
    let reservation = admit_plan(&state, &key, &mut plan, now, estimate)?;
    let translated =
        translate::prepare(&state, &plan, Dialect::OpenAi, || openai::decode::request_checked(&request, &bytes))
            .await?;

    let id = new_generation_id(now);
    let mut meter = Meter::new(
        state.clone(),
        reservation,
        id.clone(),
        "chat.completions",
        plan.first().clone(),
        now,
        arrived,
        request.stream,
        request.prompt_bytes,
    );
    let deadline = deadline(&state, arrived);
    let attempt = |route| attempt(&state, route, &request, translated.as_ref(), &id);
    let answer = meter.run(&plan, deadline, attempt).await?;
    let limits = StreamLimits::new(&state, deadline);
    match answer {
        Answer::Whole(rewritten) => {
            let (metered, body) = rewritten.into_parts();
            Ok(meter.answer(metered, body))
        }
        Answer::Stream(peeked) => stream_same_format(meter, peeked, &request, now, limits).await,
        Answer::Translated(answer) => {
            let side = ClientSide {
                dialect: Dialect::OpenAi,
                prompt_bytes: request.prompt_bytes,
                wants_usage_chunk: request.wants_usage_chunk(),
            };
            let llm_request = translated.as_ref().expect("translated answers come from translated requests");
            Ok(translate::respond(meter, answer, llm_request, side, limits, now))
        }
    }
}

/// One attempt at `route`: forwarded as it is to OpenAI-format providers, translated otherwise.
async fn attempt(
    state: &AppState,
    route: &Route,
    request: &ChatRequest<'_>,
    translated: Option<&llm::ChatRequest>,
    id: &str,
) -> Result<Answer, Failure> {
    if translate::needs_translation(state, route, Dialect::OpenAi) {
        let llm_request = translated.expect("prepared for plans with translated candidates");
        return translate::send(state, route, llm_request).await.map(Answer::Translated);
    }
    let client = state.providers.client(&route.provider)?;
    let path = client.chat_path(&route.native, request.stream).map_err(Failure::client)?;
    let first_byte_by = tokio::time::Instant::now() + state.config.timeouts.first_byte;
    let response = client.post(&path, request.upstream_body(&route.native), request.stream, None).await?;
    if request.stream {
        let peeked = Peeked::read(response, Dialect::OpenAi, &route.provider, first_byte_by).await?;
        return Ok(Answer::Stream(peeked));
    }
    let upstream = client.read_body(response).await?;
    let who = Identity { id, model: &route.model, pricing: route.pricing.as_ref(), prompt_bytes: request.prompt_bytes };
    rewrite_completion(&upstream, who).map(Answer::Whole).map_err(Failure::invalid_answer)
}

/// Relays a same-format stream, rewriting each chunk's id and model and metering it.
async fn stream_same_format(
    meter: Meter,
    peeked: Peeked,
    request: &ChatRequest<'_>,
    now: chrono::DateTime<chrono::Utc>,
    limits: StreamLimits,
) -> Result<Response, ApiError> {
    let who = Identity {
        id: &meter.id,
        model: &meter.route.model,
        pricing: meter.route.pricing.as_ref(),
        prompt_bytes: request.prompt_bytes,
    };
    let rewriter = StreamRewriter::new(who, request.wants_usage_chunk(), now.timestamp());
    let mut stream = StreamMeter { meter, source: rewriter };
    let mut upstream = UpstreamEvents::resume(peeked);
    // The peeked bytes hold at least one whole frame, so this does not wait.
    let first = match upstream.next_frame().await {
        Ok(Some(frame)) => frame,
        Ok(None) | Err(_) => {
            let err = ApiError::new(
                crate::error::ErrorKind::UpstreamFailed,
                "upstream request failed: the stream ended before any event",
            );
            return Err(stream.meter.fail(err));
        }
    };
    let first_step = stream.source.push(&first);
    if let Step::Failed(_, err) = first_step {
        stream.finish(err.status().as_u16());
        return Err(err);
    }
    let id = stream.meter.id.clone();
    Ok(sse_response(&id, Body::from_stream(relay(stream, upstream, first_step, limits))))
}
