//! `GET /v1/models` and `GET /api/v1/models`: the catalog in OpenRouter's model shape, which
//! also carries what OpenAI's `list models` needs (`object`, `owned_by`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::AnyCaller;
use crate::catalog::ModelInfo;
use crate::error::ApiError;
use crate::state::AppState;
use crate::usage::pricing::per_token_string;

#[derive(Debug, Deserialize)]
pub struct ModelsQuery {
    output_modalities: Option<String>,
    supported_parameters: Option<String>,
    offset: Option<String>,
    limit: Option<String>,
}

/// Default and largest page (OpenRouter: 500 by default, at most 1000).
const DEFAULT_LIMIT: usize = 500;
const MAX_LIMIT: usize = 1000;

fn model_json(m: &ModelInfo) -> Value {
    let price = |p: Option<i64>| p.map_or(Value::Null, |n| per_token_string(n).into());
    let pricing = m.pricing.map(|p| {
        json!({
            "prompt": per_token_string(p.prompt),
            "completion": per_token_string(p.completion),
            "request": "0",
            "image": "0",
            "input_cache_read": price(p.cache_read),
            "input_cache_write": price(p.cache_write),
        })
    });
    let modality = format!("{}->{}", m.input_modalities.join("+"), m.output_modalities.join("+"));
    json!({
        "id": m.id,
        "canonical_slug": m.id,
        "hugging_face_id": Value::Null,
        "name": m.name,
        "created": m.created,
        "description": m.description,
        "context_length": m.context_length,
        "architecture": {
            "modality": modality,
            "input_modalities": m.input_modalities,
            "output_modalities": m.output_modalities,
            "tokenizer": tokenizer(&m.provider),
            "instruct_type": Value::Null,
        },
        "pricing": pricing.unwrap_or_else(|| json!({"prompt": "0", "completion": "0", "request": "0", "image": "0"})),
        "top_provider": {
            "context_length": m.context_length,
            "max_completion_tokens": m.max_completion_tokens,
            "is_moderated": false,
        },
        "per_request_limits": Value::Null,
        "supported_parameters": m.supported_parameters,
        "default_parameters": Value::Null,
        "supported_voices": Value::Null,
        "expiration_date": Value::Null,
        "links": { "details": format!("/api/v1/models/{}/endpoints", m.id) },
        "object": "model",
        "owned_by": m.provider,
    })
}

fn tokenizer(provider: &str) -> &'static str {
    match provider {
        "openai" => "GPT",
        "anthropic" => "Claude",
        "google" => "Gemini",
        _ => "Other",
    }
}

fn page_number(name: &str, value: Option<&str>, default: usize) -> Result<usize, ApiError> {
    match value {
        None | Some("") => Ok(default),
        Some(s) => s.parse().map_err(|_| ApiError::bad_request(format!("'{name}' must be a non-negative integer"))),
    }
}

/// Whether a request comes from a Gemini client (google-genai sends `x-goog-api-key`; the
/// Gemini docs use `?key=`). Newer google-genai SDKs list models at `GET /v1/models`, the same
/// path as OpenAI's list, so the answer's shape follows the client.
pub fn is_gemini_client(headers: &HeaderMap, uri: &Uri) -> bool {
    headers.contains_key("x-goog-api-key") || uri.query().is_some_and(|q| q.split('&').any(|p| p.starts_with("key=")))
}

pub async fn list_models(
    State(state): State<AppState>,
    caller: Result<AnyCaller, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    query: Query<ModelsQuery>,
) -> Response {
    if is_gemini_client(&headers, &uri) {
        return super::gemini::list_models(State(state), caller).await;
    }
    match caller {
        Ok(_) => openai_list(state, query).into_response(),
        Err(err) => err.into_response(),
    }
}

/// `GET /v1/models/{id}` (OpenAI's retrieve-model; Gemini's get-model for Gemini clients).
pub async fn get_model(
    State(state): State<AppState>,
    caller: Result<AnyCaller, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    Path(rest): Path<String>,
) -> Response {
    if is_gemini_client(&headers, &uri) {
        return super::gemini::get_model(State(state), caller, Path(rest)).await;
    }
    if let Err(err) = caller {
        return err.into_response();
    }
    match state.config.catalog.find(&rest).or_else(|| state.config.catalog.find(&format!("openai/{rest}"))) {
        Some(model) => Json(model_json(model)).into_response(),
        None => ApiError::not_found(format!("model '{rest}' is not in the catalog")).into_response(),
    }
}

fn openai_list(state: AppState, Query(query): Query<ModelsQuery>) -> Result<Json<Value>, ApiError> {
    let wanted_outputs: Vec<&str> = match query.output_modalities.as_deref() {
        None | Some("") => vec!["text"],
        Some(list) => list.split(',').map(str::trim).collect(),
    };
    let wanted_params: Vec<&str> = query
        .supported_parameters
        .as_deref()
        .map(|l| l.split(',').map(str::trim).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let offset = page_number("offset", query.offset.as_deref(), 0)?;
    let limit = page_number("limit", query.limit.as_deref(), DEFAULT_LIMIT)?.min(MAX_LIMIT);

    let matching: Vec<&ModelInfo> = state
        .config
        .catalog
        .models()
        .iter()
        .filter(|m| {
            wanted_outputs.contains(&"all") || m.output_modalities.iter().any(|o| wanted_outputs.contains(&o.as_str()))
        })
        .filter(|m| wanted_params.iter().all(|p| m.supported_parameters.iter().any(|s| s == p)))
        .collect();
    let total = matching.len();
    let data: Vec<Value> = matching.into_iter().skip(offset).take(limit).map(model_json).collect();
    let next = (offset + limit < total).then(|| format!("/api/v1/models?offset={}&limit={limit}", offset + limit));
    Ok(Json(json!({ "object": "list", "data": data, "total_count": total, "links": { "next": next } })))
}
