//! Errors in Anthropic's shape, the `request-id` header on every response, and the fault modes
//! chosen by the model name.

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::REQUEST_ID_HEADER;
use crate::mock::{digest_hex, hang_if_asked};

pub(super) fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// An error in Anthropic's shape.
pub(super) fn error(status: StatusCode, kind: &str, message: &str, request_id: &str) -> Response {
    let body = json!({ "type": "error", "error": { "type": kind, "message": message }, "request_id": request_id });
    with_request_id((status, axum::Json(body)).into_response(), request_id)
}

pub(super) fn invalid(message: &str, request_id: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", message, request_id)
}

pub(super) fn request_id(uri: &Uri, body: &[u8]) -> String {
    format!("req_mock{}", digest_hex(&[b"request-id", uri.path().as_bytes(), body]))
}

/// A fault named in the model, as a response; `None` to answer normally.
pub(super) async fn fault(model: &str, request_id: &str) -> Option<Response> {
    hang_if_asked(model).await;
    let faults: [(&str, u16, &str, &str); 5] = [
        ("fault-500", 500, "api_error", "Internal server error"),
        ("fault-529", 529, "overloaded_error", "Overloaded"),
        (
            "fault-429",
            429,
            "rate_limit_error",
            "This request would exceed the rate limit for your organization of 50 requests per minute. \
             Please try again later.",
        ),
        ("fault-400", 400, "invalid_request_error", "mock: this request was rejected as invalid"),
        ("fault-401", 401, "authentication_error", "invalid x-api-key"),
    ];
    let (name, status, kind, message) = faults.into_iter().find(|(name, ..)| model.contains(name))?;
    let mut response =
        error(StatusCode::from_u16(status).expect("fault statuses are valid"), kind, message, request_id);
    if name == "fault-429" {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
    }
    Some(response)
}

pub(super) fn malformed(request_id: &str) -> Response {
    with_request_id(
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "<html>this is not json</html>").into_response(),
        request_id,
    )
}
