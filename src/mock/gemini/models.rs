//! The model catalogue: `GET /v1beta/models` (paged) and `GET /v1beta/models/{model}`, and which
//! model names think.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::{authenticate, query_param};
use super::error::ApiError;
use crate::mock::MockState;

struct ModelInfo {
    id: &'static str,
    display: &'static str,
    description: &'static str,
    input: u64,
    output: u64,
    methods: &'static [&'static str],
    thinking: bool,
}

const CHAT_METHODS: &[&str] = &["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"];

/// `GET /v1beta/models` answers from this list.
const MODELS: &[ModelInfo] = &[
    ModelInfo {
        id: "gemini-2.5-flash",
        display: "Gemini 2.5 Flash",
        description: "Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 million \
                      tokens, released in June of 2025.",
        input: 1_048_576,
        output: 65_536,
        methods: CHAT_METHODS,
        thinking: true,
    },
    ModelInfo {
        id: "gemini-2.5-pro",
        display: "Gemini 2.5 Pro",
        description: "Stable release (June 17th, 2025) of Gemini 2.5 Pro",
        input: 1_048_576,
        output: 65_536,
        methods: CHAT_METHODS,
        thinking: true,
    },
    ModelInfo {
        id: "gemini-2.5-flash-lite",
        display: "Gemini 2.5 Flash-Lite",
        description: "Stable version of Gemini 2.5 Flash-Lite, released in July of 2025",
        input: 1_048_576,
        output: 65_536,
        methods: CHAT_METHODS,
        thinking: true,
    },
    ModelInfo {
        id: "gemini-2.0-flash",
        display: "Gemini 2.0 Flash",
        description: "Gemini 2.0 Flash",
        input: 1_048_576,
        output: 8_192,
        methods: CHAT_METHODS,
        thinking: false,
    },
    ModelInfo {
        id: "gemini-embedding-001",
        display: "Gemini Embedding 001",
        description: "Obtain a distributed representation of a text.",
        input: 2_048,
        output: 1,
        methods: &["embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"],
        thinking: false,
    },
];

/// Thinking models: Gemini 2.5 and 3.
pub(super) fn thinking_model(model: &str) -> bool {
    model.contains("gemini-2.5") || model.contains("gemini-3")
}

fn model_json(model: &ModelInfo) -> Value {
    let mut body = json!({
        "name": format!("models/{}", model.id),
        "version": "001",
        "displayName": model.display,
        "description": model.description,
        "inputTokenLimit": model.input,
        "outputTokenLimit": model.output,
        "supportedGenerationMethods": model.methods,
    });
    if model.methods.contains(&"generateContent") {
        body["temperature"] = json!(1);
        body["topP"] = json!(0.95);
        body["topK"] = json!(if model.thinking { 64 } else { 40 });
        body["maxTemperature"] = json!(2);
        body["thinking"] = json!(model.thinking);
    }
    body
}

/// `GET /v1beta/models?pageSize=&pageToken=`.
pub(super) async fn list_models(
    State(state): State<Arc<MockState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    state.record(method, &uri, &headers, &Bytes::new());
    if let Err(error) = authenticate(&state, &uri, &headers) {
        return error.response(false);
    }
    let size = match query_param(&uri, "pageSize").map(|s| s.parse::<i64>()) {
        None | Some(Ok(0)) => 50,
        Some(Ok(size @ 1..)) => size.min(1000) as usize,
        Some(_) => return ApiError::invalid("* ListModelsRequest.page_size: must be positive\n").response(false),
    };
    let start = match query_param(&uri, "pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => match token.strip_prefix("mock-page-").and_then(|n| n.parse::<usize>().ok()) {
            Some(start) if start <= MODELS.len() => start,
            _ => return ApiError::invalid("Invalid page token.").response(false),
        },
    };
    let end = (start + size).min(MODELS.len());
    let mut body = json!({ "models": MODELS[start..end].iter().map(model_json).collect::<Vec<_>>() });
    if end < MODELS.len() {
        body["nextPageToken"] = json!(format!("mock-page-{end}"));
    }
    axum::Json(body).into_response()
}

/// `GET /v1beta/models/{model}`.
pub(super) async fn get_model(
    State(state): State<Arc<MockState>>,
    Path(rest): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    state.record(method, &uri, &headers, &Bytes::new());
    if let Err(error) = authenticate(&state, &uri, &headers) {
        return error.response(false);
    }
    match MODELS.iter().find(|m| m.id == rest) {
        Some(model) => axum::Json(model_json(model)).into_response(),
        None => ApiError::not_found(format!(
            "models/{rest} is not found for API version v1beta, or is not supported for getModel. Call ListModels to \
             see the list of available models and their supported methods."
        ))
        .response(false),
    }
}
