//! `POST /v1/chat/completions` (and `/api/v1/…`): OpenAI format in, OpenAI format out.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::auth::ApiCaller;
use super::body;
use super::forward::{UpstreamEvents, forward_json, relay, sse_response};
use super::meter::{Meter, StreamMeter, admit_request, worst_case};
use super::translate::{self, Translated};
use crate::dialect::hub::Dialect;
use crate::dialect::openai;
use crate::dialect::openai::response::{Identity, rewrite_completion};
use crate::dialect::openai::stream::Step;
use crate::dialect::openai::{ChatRequest, StreamRewriter};
use crate::error::{ApiError, ErrorKind};
use crate::providers::ProviderKind;
use crate::routing;
use crate::state::AppState;
use crate::usage::new_generation_id;

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
    let route = routing::resolve(&state.config, &state.config.catalog, &request.model)?;
    let estimate = worst_case(&state, &route, request.prompt_bytes, request.max_tokens);
    let reservation = admit_request(&state, &key, &route, now, estimate)?;
    let client = state.providers.client(&route.provider)?;
    if client.kind() != ProviderKind::OpenAi {
        let translated = Translated {
            request: openai::decode::request(&bytes)?,
            reservation,
            route,
            client: Dialect::OpenAi,
            prompt_bytes: request.prompt_bytes,
            wants_usage_chunk: request.wants_usage_chunk(),
            arrived,
            now,
        };
        return translate::chat(&state, translated).await;
    }
    let upstream_body = request.upstream_body(&route.native);

    let path = client.chat_path(&route.native, request.stream)?;
    let mut meter = Meter::new(
        state.clone(),
        reservation,
        new_generation_id(now),
        "chat.completions",
        route,
        now,
        arrived,
        request.stream,
        request.prompt_bytes,
    );
    let response = client.post(&path, upstream_body, request.stream, None).await.map_err(|err| meter.fail(err))?;
    meter.first_byte();
    if !request.stream {
        return forward_json(meter, &client, response, request.prompt_bytes, rewrite_completion).await;
    }

    let who = Identity {
        id: &meter.id,
        model: &meter.route.model,
        pricing: meter.route.pricing.as_ref(),
        prompt_bytes: request.prompt_bytes,
    };
    let rewriter = StreamRewriter::new(who, request.wants_usage_chunk(), now.timestamp());
    let mut stream = StreamMeter { meter, source: rewriter };
    let mut upstream = UpstreamEvents::new(response);
    // Peek at the first event before committing to 200, so an upstream that fails at once
    // gets a proper HTTP error instead of an error chunk.
    let first = match upstream.next_frame().await {
        Ok(Some(frame)) => frame,
        Ok(None) | Err(_) => {
            let err =
                ApiError::new(ErrorKind::UpstreamFailed, "upstream request failed: the stream ended before any event");
            return Err(stream.meter.fail(err));
        }
    };
    let first_step = stream.source.push(&first);
    if let Step::Failed(_, err) = first_step {
        stream.finish(err.status().as_u16());
        return Err(err);
    }
    let id = stream.meter.id.clone();
    let body = Body::from_stream(relay(stream, upstream, first_step, state.config.timeouts.keep_alive));
    Ok(sse_response(&id, body))
}
