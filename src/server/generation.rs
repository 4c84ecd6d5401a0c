//! `GET /api/v1/generation?id=gen-…` (and `/v1/generation`), API key: the ledger record of one
//! of the caller's own requests. ARouter's flat fields sit at the top level and OpenRouter's
//! record under `data`, so clients of either read it unchanged.
//!
//! Another key's id answers exactly like an unknown one (404, after the same wait), so the
//! endpoint is no oracle for which ids exist.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::ApiCaller;
use super::providers::display_name;
use crate::clock::format_time;
use crate::error::ApiError;
use crate::keys::spend::nano_to_usd;
use crate::state::AppState;
use crate::usage::GenerationRecord;

/// The ledger writes in batches a few milliseconds after a request ends; a lookup right after
/// the response polls this long before answering 404.
const POLL_ATTEMPTS: u32 = 20;
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Longest id accepted (ours are 4 + 10 + 1 + 32 characters).
const MAX_ID_LEN: usize = 128;

#[derive(Debug, Deserialize)]
pub struct GenerationQuery {
    id: Option<String>,
}

/// `gen-` followed by letters, digits, `-` or `_`: the shape of every id the gateway issues
/// (`gen-<unix>-<32 hex>`), loose enough to stay valid if the suffix format changes.
fn well_formed(id: &str) -> bool {
    id.len() <= MAX_ID_LEN
        && id.strip_prefix("gen-").is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

pub async fn get_generation(
    State(state): State<AppState>,
    ApiCaller(key): ApiCaller,
    Query(query): Query<GenerationQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = match query.id.as_deref().map(str::trim) {
        None | Some("") => return Err(ApiError::bad_request("'id' query parameter is required")),
        Some(id) if !well_formed(id) => {
            return Err(ApiError::bad_request("'id' must be a generation id such as 'gen-1775226820-719aea642d4b…'"));
        }
        Some(id) => id,
    };
    for attempt in 0..POLL_ATTEMPTS {
        if let Some(record) = state.store.get_generation(id).await? {
            if record.key_hash == key.record.hash {
                return Ok(Json(generation_json(&record)));
            }
            // Someone else's: keep waiting as for an unknown id, so timing tells nothing.
        }
        if attempt + 1 < POLL_ATTEMPTS {
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
    Err(ApiError::not_found(format!("generation '{id}' not found")))
}

/// OpenRouter's `api_type` for the surface that served the request.
fn api_type(api: &str) -> &'static str {
    match api {
        "embeddings" => "embeddings",
        _ => "completions",
    }
}

fn generation_json(r: &GenerationRecord) -> Value {
    let cost = nano_to_usd(r.cost_nano);
    let created_at = format_time(r.created_at);
    let u = &r.usage;
    json!({
        // ARouter: flat.
        "id": r.id,
        "model": r.model,
        "provider": r.provider,
        "created_at": created_at,
        "latency_ms": r.latency_ms,
        "streamed": r.streamed,
        "cancelled": r.cancelled,
        "finish_reason": r.finish_reason,
        "usage": {
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens(),
            "cost": cost,
            "is_byok": false,
            "prompt_tokens_details": {
                "cached_tokens": u.cached_tokens,
                "cache_write_tokens": u.cache_write_tokens,
            },
            "completion_tokens_details": { "reasoning_tokens": u.reasoning_tokens },
        },
        // OpenRouter: under `data`, every field its SDK requires present (null where unknown).
        "data": openrouter_json(r, cost, &created_at),
    })
}

/// Fields of OpenRouter's record the gateway has no value for; its SDK requires them present.
const UNKNOWN_FIELDS: &[&str] = &[
    "native_tokens_completion_images",
    "moderation_latency",
    "native_finish_reason",
    "app_id",
    "upstream_id",
    "cache_discount",
    "upstream_inference_cost",
    "num_media_prompt",
    "num_media_completion",
    "num_search_results",
    "num_fetches",
    "num_input_audio_prompt",
    "external_user",
    "router",
    "provider_responses",
    "http_referer",
    "user_agent",
    "preset_id",
    "service_tier",
    "web_search_engine",
    "workspace_id",
];

/// OpenRouter's generation record (`GET /api/v1/generation` → `data`).
fn openrouter_json(r: &GenerationRecord, cost: f64, created_at: &str) -> Value {
    let u = &r.usage;
    let generation_time = r.first_byte_ms.map(|first| (r.latency_ms - first).max(0));
    let mut data = json!({
        "id": r.id,
        "model": r.model,
        "provider_name": display_name(&r.provider),
        "total_cost": cost,
        "usage": cost,
        "tokens_prompt": u.prompt_tokens,
        "tokens_completion": u.completion_tokens,
        "native_tokens_prompt": u.prompt_tokens,
        "native_tokens_completion": u.completion_tokens,
        "native_tokens_reasoning": u.reasoning_tokens,
        "native_tokens_cached": u.cached_tokens,
        "created_at": created_at,
        "latency": r.latency_ms,
        "generation_time": generation_time,
        "streamed": r.streamed,
        "cancelled": r.cancelled,
        "finish_reason": r.finish_reason,
        "is_byok": false,
        "origin": "",
        "api_type": api_type(&r.api),
        "data_region": "global",
    });
    if let Value::Object(fields) = &mut data {
        for name in UNKNOWN_FIELDS {
            fields.insert((*name).to_owned(), Value::Null);
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::well_formed;

    #[test]
    fn id_shape() {
        assert!(well_formed("gen-1775226820-719aea642d4b4d279c897793"));
        assert!(!well_formed("gen-"));
        assert!(!well_formed("chatcmpl-123"));
        assert!(!well_formed("gen-1 OR 1=1"));
        assert!(!well_formed(&format!("gen-{}", "a".repeat(200))));
    }
}
