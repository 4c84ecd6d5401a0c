//! Errors in Google's shape (`{"error":{"code","message","status","details"?}}`) and the fault
//! modes chosen by the model name.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::mock::hang_if_asked;

/// An error in Google's shape.
#[derive(Debug)]
pub(super) struct ApiError {
    code: StatusCode,
    status: &'static str,
    message: String,
    details: Vec<Value>,
    retry_after: bool,
}

impl ApiError {
    pub(super) fn new(code: u16, status: &'static str, message: impl Into<String>) -> Self {
        Self {
            code: StatusCode::from_u16(code).expect("valid status"),
            status,
            message: message.into(),
            details: Vec::new(),
            retry_after: false,
        }
    }

    pub(super) fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "INVALID_ARGUMENT", message)
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NOT_FOUND", message)
    }

    pub(super) fn with_details(mut self, details: Vec<Value>) -> Self {
        self.details = details;
        self
    }

    pub(super) fn body(&self) -> Value {
        let mut error = json!({ "code": self.code.as_u16(), "message": self.message, "status": self.status });
        if !self.details.is_empty() {
            error["details"] = Value::Array(self.details.clone());
        }
        json!({ "error": error })
    }

    /// The response; `array` wraps the body in a list (`:streamGenerateContent` without SSE).
    pub(super) fn response(&self, array: bool) -> Response {
        let body = if array { json!([self.body()]) } else { self.body() };
        let mut response = (self.code, axum::Json(body)).into_response();
        if self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        }
        response
    }
}

pub(super) fn error_info(reason: &str, extra: Value) -> Value {
    let mut metadata = json!({ "service": "generativelanguage.googleapis.com" });
    if let (Some(metadata), Value::Object(extra)) = (metadata.as_object_mut(), extra) {
        metadata.extend(extra);
    }
    json!({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com", "metadata": metadata })
}

/// Lines of `* <prefix>.<path>: <message>\n`, as Google's request validator reports them.
pub(super) fn validation_error(lines: &[String]) -> ApiError {
    ApiError::invalid(lines.iter().map(|line| format!("* {line}\n")).collect::<String>())
}

/// A fault named in the model; `Ok` to answer normally.
pub(super) async fn fault(model: &str) -> Result<(), ApiError> {
    hang_if_asked(model).await;
    let faults: [(&str, u16, &'static str, &str); 4] = [
        (
            "fault-500",
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in \
             https://developers.generativeai.google/guide/troubleshooting",
        ),
        ("fault-503", 503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
        (
            "fault-429",
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details. For more information on \
             this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
        ),
        ("fault-400", 400, "INVALID_ARGUMENT", "mock: this request was rejected as invalid"),
    ];
    let Some((name, code, status, message)) = faults.into_iter().find(|(name, ..)| model.contains(name)) else {
        return Ok(());
    };
    let mut error = ApiError::new(code, status, message);
    if name == "fault-429" {
        error.retry_after = true;
        error.details = vec![
            json!({
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{
                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    "quotaDimensions": { "location": "global", "model": model },
                    "quotaValue": "10"
                }]
            }),
            json!({
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [{ "description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits" }]
            }),
            json!({ "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s" }),
        ];
    }
    Err(error)
}

pub(super) fn malformed() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], "<html>this is not json</html>")
        .into_response()
}
