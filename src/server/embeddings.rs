//! `POST /v1/embeddings` (and `/api/v1/…`): OpenAI format, forwarded to OpenAI-format
//! upstreams as-is and to Gemini as `batchEmbedContents`.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

use super::auth::ApiCaller;
use super::body;
use super::meter::{Meter, admit_request, deadline, worst_case};
use crate::dialect::embeddings::{gemini_batch_request, openai_list_from_gemini, token_input_refused};
use crate::dialect::openai::EmbeddingsRequest;
use crate::dialect::openai::response::{Identity, Rewritten, rewrite_embeddings};
use crate::dialect::openai::stream::Metered;
use crate::error::ApiError;
use crate::keys::spend::nano_to_usd;
use crate::providers::{ProviderKind, gemini, openai};
use crate::routing::{self, Failure, Plan};
use crate::state::AppState;
use crate::usage::new_generation_id;

pub async fn embeddings(
    State(state): State<AppState>,
    ApiCaller(key): ApiCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let now = state.clock.now();
    let bytes = body::read(&headers, body).await?;
    let request = EmbeddingsRequest::parse(&bytes)?;
    let route = routing::resolve(&state.config, &state.config.catalog, &request.model)?;
    let estimate = worst_case(&state, &route, request.input_bytes, Some(0));
    let reservation = admit_request(&state, &key, &route, now, estimate)?;
    // The wire format only; the client (and its upstream key) is picked per attempt.
    let kind = state
        .config
        .provider(&route.provider)
        .map(|p| p.kind)
        .ok_or_else(|| crate::providers::ProviderError::NotConfigured(route.provider.clone()))?;
    let (path, upstream_body) = match kind {
        ProviderKind::OpenAi => (openai::EMBEDDINGS_PATH.to_owned(), request.upstream_body(&route.native)),
        ProviderKind::Gemini => {
            let texts = request.texts.as_deref().ok_or_else(|| token_input_refused(&route.provider))?;
            let path = gemini::action_path(&route.native, "batchEmbedContents")?;
            (path, gemini_batch_request(&route.native, texts, request.dimensions))
        }
        ProviderKind::Anthropic => {
            return Err(ApiError::bad_request(format!("provider '{}' has no embeddings endpoint", route.provider)));
        }
    };
    let id = new_generation_id(now);
    let mut meter = Meter::new(
        state.clone(),
        reservation,
        id.clone(),
        "embeddings",
        route,
        now,
        arrived,
        false,
        request.input_bytes,
    );
    // Embeddings have no fallback list; the plan of one still gets retries and the breaker.
    let plan = Plan::single(meter.route.clone());
    let (body, path, id, request, state_ref) = (&upstream_body, &path, &id, &request, &state);
    let deadline = deadline(&state, arrived);
    let answer = meter.run(&plan, deadline, |route| async move {
        // A client per attempt, so a retry may use another of the provider's keys.
        let client = state_ref.providers.client(&route.provider)?;
        let response = client.post(path, body.clone(), false, None).await?;
        let upstream = client.read_body(response).await?;
        if kind != ProviderKind::OpenAi {
            return Ok(Answer::Gemini(upstream));
        }
        let who =
            Identity { id, model: &route.model, pricing: route.pricing.as_ref(), prompt_bytes: request.input_bytes };
        rewrite_embeddings(&upstream, who).map(Answer::OpenAi).map_err(Failure::invalid_answer)
    });
    let answer = answer.await?;
    let upstream = match answer {
        Answer::OpenAi(rewritten) => {
            let (metered, body) = rewritten.into_parts();
            return Ok(meter.answer(metered, body));
        }
        Answer::Gemini(upstream) => upstream,
    };
    // Gemini reports no usage for embeddings: the input is counted by estimate.
    let metered = Metered::from_counts(None, request.input_bytes, 0, meter.route.pricing.as_ref(), None);
    let usage_json = json!({
        "prompt_tokens": metered.usage.prompt_tokens,
        "total_tokens": metered.usage.prompt_tokens,
        "cost": nano_to_usd(metered.cost_nano),
        "is_byok": false,
    });
    let list = openai_list_from_gemini(&upstream, &meter.id, &meter.route.model, request.base64, usage_json);
    let list = list.map_err(|invalid| meter.fail(invalid))?;
    Ok(meter.answer(metered, list))
}

/// An embeddings answer as read from the upstream.
enum Answer {
    OpenAi(Rewritten),
    Gemini(axum::body::Bytes),
}
