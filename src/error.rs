//! One error type for everything a client can be told, with its HTTP status and wire `type`
//! in one table (`ErrorKind::status`/`ErrorKind::wire_type`).
//!
//! Handlers return `Result<_, ApiError>`; the error renders itself in the OpenAI/ARouter shape
//! `{"error":{"message","type","code"}}`, where `code` is the integer HTTP status as
//! OpenRouter's SDKs expect. Messages never carry upstream hostnames or secrets: 5xx that are our
//! own fault say "internal error", and upstream text only reaches debug logs.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The closed set of failures a client can see. The status and `type` of each live in one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or invalid input (400 `invalid_request_error`).
    BadRequest,
    /// Missing, unknown, disabled, deleted or expired key (401).
    Unauthenticated,
    /// Key spend limit exhausted (402 `payment_required`).
    PaymentRequired,
    /// Wrong key type or allow-list violation (403 `forbidden_error`).
    Forbidden,
    /// Unknown resource (404).
    NotFound,
    /// Body over the 10 MB cap (413).
    PayloadTooLarge,
    /// Rate limited, here or upstream (429).
    RateLimited,
    /// A bug or storage failure on our side (500).
    Internal,
    /// Upstream failed or answered something we cannot use (502).
    UpstreamFailed,
    /// No provider can serve the request, e.g. not configured (503).
    Unavailable,
    /// Upstream did not answer in time (504).
    UpstreamTimeout,
}

impl ErrorKind {
    /// HTTP status for this kind.
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::PaymentRequired => StatusCode::PAYMENT_REQUIRED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::UpstreamFailed => StatusCode::BAD_GATEWAY,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The `error.type` string ARouter documents for this kind.
    pub fn wire_type(self) -> &'static str {
        match self {
            Self::BadRequest | Self::PayloadTooLarge => "invalid_request_error",
            Self::Unauthenticated => "authentication_error",
            Self::PaymentRequired => "payment_required",
            Self::Forbidden => "forbidden_error",
            Self::NotFound => "not_found_error",
            Self::RateLimited => "rate_limit_error",
            Self::Internal | Self::UpstreamFailed | Self::Unavailable | Self::UpstreamTimeout => "server_error",
        }
    }
}

impl ErrorKind {
    /// The `error.type` on the Anthropic-native surface (Anthropic's own vocabulary).
    pub fn anthropic_type(self) -> &'static str {
        match self {
            Self::BadRequest => "invalid_request_error",
            Self::Unauthenticated => "authentication_error",
            Self::PaymentRequired => "billing_error",
            Self::Forbidden => "permission_error",
            Self::NotFound => "not_found_error",
            Self::PayloadTooLarge => "request_too_large",
            Self::RateLimited => "rate_limit_error",
            Self::Internal | Self::UpstreamFailed => "api_error",
            Self::Unavailable => "overloaded_error",
            Self::UpstreamTimeout => "timeout_error",
        }
    }
}

/// The `X-RateLimit-*` headers of a 429 the gateway's own per-key rate limit refused (ARouter
/// documents them; an upstream's 429 does not carry them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `X-RateLimit-Limit`: the limit that refused, per minute.
    pub limit: u64,
    /// `X-RateLimit-Remaining`.
    pub remaining: u64,
    /// `X-RateLimit-Reset`: Unix seconds at which the key is below its limit again.
    pub reset: i64,
}

/// A failure to report to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    /// Shown to the client as is, so never upstream text, hostnames or secrets.
    pub message: Cow<'static, str>,
    /// Seconds for a `Retry-After` header (429/503).
    pub retry_after: Option<u64>,
    /// Set on a per-key rate limit refusal, for its `X-RateLimit-*` headers.
    pub rate_limit: Option<RateLimitHeaders>,
}

impl ApiError {
    /// An error of `kind` without `Retry-After` or rate-limit headers; `message` reaches the client.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self { kind, message: message.into(), retry_after: None, rate_limit: None }
    }

    /// A 400 for the client's own input; the message should name the field at fault.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// A 401: the key is missing, unknown, disabled, deleted or expired.
    pub fn unauthenticated(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unauthenticated, message)
    }

    /// A 403: the key is valid but may not do this (wrong key type, allow-list).
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }

    /// A 404 for an unknown resource (a model, key or generation).
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// A failure on our side. The detail goes to the log, the client only sees "internal error".
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(ErrorKind::Internal, "internal error")
    }

    /// Sets the `Retry-After` seconds (`None` clears it), e.g. passed on from an upstream 429.
    pub fn with_retry_after(mut self, seconds: Option<u64>) -> Self {
        self.retry_after = seconds;
        self
    }

    /// Adds the `X-RateLimit-*` headers of a refusal by the key's own rate limit.
    pub fn with_rate_limit(mut self, headers: RateLimitHeaders) -> Self {
        self.rate_limit = Some(headers);
        self
    }

    /// The HTTP status, from `ErrorKind`'s one table.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// This error as an HTTP response with `body` (the surface's shape): status, `Retry-After`
    /// and `X-RateLimit-*` headers, and the error itself in the extensions for the logging
    /// middleware. Every surface renders through here, so all carry the same headers.
    pub fn into_response_with(self, body: serde_json::Value) -> Response {
        let mut response = (self.status(), axum::Json(body)).into_response();
        self.write_headers(response.headers_mut());
        // Logged once, by the middleware in `server`, not here.
        response.extensions_mut().insert(Arc::new(self));
        response
    }

    fn write_headers(&self, headers: &mut HeaderMap) {
        const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
        const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
        const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(rate) = self.rate_limit {
            headers.insert(LIMIT, HeaderValue::from(rate.limit));
            headers.insert(REMAINING, HeaderValue::from(rate.remaining));
            headers.insert(RESET, HeaderValue::from(rate.reset));
        }
    }

    /// The `{"error":{...}}` object, shared by HTTP bodies and mid-stream error chunks.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.message,
                "type": self.kind.wire_type(),
                "code": self.status().as_u16(),
            }
        })
    }
}

impl ApiError {
    /// Anthropic's error object, `{"type":"error","error":{"type","message"}}`, for HTTP bodies
    /// and `event: error` frames on the Anthropic-native surface.
    pub fn anthropic_body(&self) -> serde_json::Value {
        json!({
            "type": "error",
            "error": { "type": self.kind.anthropic_type(), "message": self.message },
        })
    }

    /// This error as an HTTP response in Anthropic's shape.
    pub fn into_anthropic_response(self) -> Response {
        let body = self.anthropic_body();
        self.into_response_with(body)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.kind.wire_type())
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        self.into_response_with(body)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        Self::internal(err)
    }
}
