//! `POST /v1/embeddings` (and `/api/v1/…`): OpenAI format, forwarded to OpenAI-format upstreams.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::auth::ApiCaller;
use super::body;
use super::forward::forward_json;
use super::meter::Meter;
use crate::dialect::openai::EmbeddingsRequest;
use crate::dialect::openai::response::rewrite_embeddings;
use crate::error::ApiError;
use crate::keys::admission::admit;
use crate::routing;
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
    admit(&key, &route, now, state.config.allow_unpriced_models)?;
    let client = state.providers.openai(&route.provider)?;
    let upstream_body = request.upstream_body(&route.native);
    let mut meter = Meter::new(
        state.clone(),
        key,
        new_generation_id(now),
        "embeddings",
        route,
        now,
        arrived,
        false,
        request.input_bytes,
    );
    let response = match client.post(crate::providers::openai::EMBEDDINGS_PATH, upstream_body, false, None).await {
        Ok(response) => response,
        Err(err) => {
            let err = ApiError::from(err);
            meter.record(meter.unanswered(err.status().as_u16(), false));
            return Err(err);
        }
    };
    meter.first_byte();
    forward_json(meter, &client, response, request.input_bytes, rewrite_embeddings).await
}
