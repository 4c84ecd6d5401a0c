//! `POST /v1/embeddings` (and `/api/v1/…`): OpenAI format, forwarded to OpenAI-format
//! upstreams as-is and to Gemini as `batchEmbedContents`.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::auth::ApiCaller;
use super::body;
use super::forward::{GENERATION_ID, forward_json, generation_header};
use super::meter::{Meter, Outcome, admit_request, worst_case};
use crate::dialect::embeddings::{gemini_batch_request, openai_list_from_gemini, token_input_refused};
use crate::dialect::openai::EmbeddingsRequest;
use crate::dialect::openai::response::rewrite_embeddings;
use crate::dialect::openai::stream::Metered;
use crate::error::ApiError;
use crate::keys::spend::nano_to_usd;
use crate::providers::{ProviderKind, gemini, openai};
use crate::routing;
use crate::state::AppState;
use crate::usage::new_generation_id;
use crate::usage::{Usage, estimate_tokens};

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
    let client = state.providers.client(&route.provider)?;
    let (path, upstream_body) = match client.kind() {
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
    let kind = client.kind();
    let mut meter = Meter::new(
        state.clone(),
        reservation,
        new_generation_id(now),
        "embeddings",
        route,
        now,
        arrived,
        false,
        request.input_bytes,
    );
    let response = client.post(&path, upstream_body, false, None).await.map_err(|err| meter.fail(err))?;
    meter.first_byte();
    if kind == ProviderKind::OpenAi {
        return forward_json(meter, &client, response, request.input_bytes, rewrite_embeddings).await;
    }
    // Gemini reports no usage for embeddings: the input is counted by estimate.
    let upstream = client.read_body(response).await.map_err(|err| meter.fail(err))?;
    let usage = Usage { prompt_tokens: estimate_tokens(request.input_bytes), ..Usage::default() };
    let cost_nano = meter.route.pricing.map_or(0, |p| p.cost(&usage));
    let usage_json = json!({
        "prompt_tokens": usage.prompt_tokens,
        "total_tokens": usage.prompt_tokens,
        "cost": nano_to_usd(cost_nano),
        "is_byok": false,
    });
    let list = openai_list_from_gemini(&upstream, &meter.id, &meter.route.model, request.base64, usage_json);
    let list = list.map_err(|invalid| meter.fail(invalid))?;
    let id = generation_header(&meter.id);
    meter.record(Outcome {
        status: 200,
        metered: Metered { usage, estimated: true, cost_nano, finish_reason: None },
        cancelled: false,
    });
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json")), (GENERATION_ID, id)], list)
        .into_response())
}
