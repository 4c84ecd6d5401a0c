//! `:countTokens`: `{contents}` or a wrapped `generateContentRequest`, counted with the prompt
//! formula.

use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::content::{prompt_tokens, role};
use super::error::{ApiError, fault, malformed, validation_error};
use super::parse::{get, list_in, parse_as};
use super::spec::COUNT_TOKENS_REQUEST;
use super::validate::{check_contents, check_generate_lines};

pub(super) async fn count_tokens(model: &str, request: &Map<String, Value>) -> Result<Response, ApiError> {
    parse_as(request, &COUNT_TOKENS_REQUEST)?;
    let mut lines = Vec::new();
    let counted = match (get(request, "contents"), get(request, "generateContentRequest")) {
        (Some(_), Some(_)) => {
            lines.push("CountTokensRequest: contents and generate_content_request cannot both be set".to_owned());
            request.clone()
        }
        (_, Some(Value::Object(inner))) => {
            if !get(inner, "model").and_then(Value::as_str).is_some_and(|m| m.starts_with("models/") && m.len() > 7) {
                lines.push("GenerateContentRequest.model: unexpected model name format".to_owned());
            }
            check_generate_lines(inner, "GenerateContentRequest", &mut lines);
            inner.clone()
        }
        _ => {
            check_contents(list_in(get(request, "contents")), "CountTokensRequest.contents", &mut lines);
            request.clone()
        }
    };
    if !lines.is_empty() {
        return Err(validation_error(&lines));
    }
    if list_in(get(&counted, "contents")).iter().any(|c| !matches!(role(c), "user" | "model")) {
        return Err(ApiError::invalid("Please use a valid role: user, model."));
    }
    fault(model).await?;
    if model.contains("fault-malformed") {
        return Ok(malformed());
    }
    let total = prompt_tokens(&counted);
    Ok(axum::Json(
        json!({ "totalTokens": total, "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": total }] }),
    )
    .into_response())
}
