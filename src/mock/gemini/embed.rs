//! `:embedContent` and `:batchEmbedContents`: deterministic unit vectors of the content's text.

use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::content::text_of;
use super::error::{ApiError, fault, malformed, validation_error};
use super::parse::{get, get_in, list_in, number, parse_as};
use super::spec::{BATCH_EMBED_REQUEST, EMBED_REQUEST};
use super::validate::check_content;
use super::{EMBEDDING_DIMENSIONS, MAX_BATCH};
use crate::mock::openai::embedding;

/// Validates one embed request at `prefix` and returns its text and dimensions.
fn embed_input(request: &Value, prefix: &str, lines: &mut Vec<String>) -> (String, usize) {
    match get_in(request, "content") {
        None => lines.push(format!("{prefix}.content: content is not specified")),
        Some(content) => check_content(content, &format!("{prefix}.content"), lines),
    }
    let dimensions = match number(get_in(request, "outputDimensionality")) {
        None | Some(0.0) => EMBEDDING_DIMENSIONS,
        Some(d) if (1.0..=3072.0).contains(&d) => d as usize,
        Some(_) => {
            lines.push(format!("{prefix}.output_dimensionality: must be between 1 and 3072"));
            EMBEDDING_DIMENSIONS
        }
    };
    (get_in(request, "content").map(text_of).unwrap_or_default(), dimensions)
}

fn values(text: &str, dimensions: usize) -> Value {
    json!({ "values": embedding(text, dimensions) })
}

pub(super) async fn embed(model: &str, request: &Map<String, Value>) -> Result<Response, ApiError> {
    parse_as(request, &EMBED_REQUEST)?;
    let mut lines = Vec::new();
    let (text, dimensions) = embed_input(&Value::Object(request.clone()), "EmbedContentRequest", &mut lines);
    if !lines.is_empty() {
        return Err(validation_error(&lines));
    }
    fault(model).await?;
    if model.contains("fault-malformed") {
        return Ok(malformed());
    }
    Ok(axum::Json(json!({ "embedding": values(&text, dimensions) })).into_response())
}

pub(super) async fn batch_embed(model: &str, request: &Map<String, Value>) -> Result<Response, ApiError> {
    parse_as(request, &BATCH_EMBED_REQUEST)?;
    let requests = list_in(get(request, "requests"));
    let mut lines = Vec::new();
    if requests.is_empty() {
        lines.push("BatchEmbedContentsRequest.requests: requests is not specified".to_owned());
    }
    if requests.len() > MAX_BATCH {
        lines.push(format!("BatchEmbedContentsRequest.requests: at most {MAX_BATCH} requests can be in one batch"));
    }
    let expected = format!("models/{model}");
    let mut inputs = Vec::with_capacity(requests.len());
    for (i, item) in requests.iter().enumerate() {
        let prefix = format!("BatchEmbedContentsRequest.requests[{i}]");
        match get_in(item, "model").and_then(Value::as_str) {
            Some(m) if m == expected => {}
            Some(m) if m.starts_with("models/") && m.len() > 7 => lines.push(format!(
                "{prefix}.model: the model in each request must be the batch's model `{expected}`, got `{m}`"
            )),
            _ => lines.push(format!("{prefix}.model: unexpected model name format")),
        }
        inputs.push(embed_input(item, &prefix, &mut lines));
    }
    if !lines.is_empty() {
        return Err(validation_error(&lines));
    }
    fault(model).await?;
    if model.contains("fault-malformed") {
        return Ok(malformed());
    }
    let embeddings: Vec<Value> = inputs.iter().map(|(text, dimensions)| values(text, *dimensions)).collect();
    Ok(axum::Json(json!({ "embeddings": embeddings })).into_response())
}
