//! One HTTP client shape for every upstream; what differs per provider (credentials header,
//! paths) lives in that provider's module.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use axum::http::HeaderMap;

use super::{ProviderError, ProviderKind, anthropic, gemini, openai, retry_after};
use crate::config::{ProviderConfig, Secret};
use crate::error::ApiError;

/// Most bytes of an upstream error body read to find its message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// A borrowed handle for one request to one provider.
#[derive(Debug)]
pub struct UpstreamClient<'a> {
    http: &'a reqwest::Client,
    config: &'a ProviderConfig,
    key: &'a Secret,
    first_byte: Duration,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

impl<'a> UpstreamClient<'a> {
    pub(super) fn new(
        http: &'a reqwest::Client,
        config: &'a ProviderConfig,
        key: &'a Secret,
        first_byte: Duration,
    ) -> Self {
        Self { http, config, key, first_byte }
    }

    pub fn provider(&self) -> &str {
        &self.config.id
    }

    pub fn kind(&self) -> ProviderKind {
        self.config.kind
    }

    /// Path of the chat endpoint under the provider's base URL. Gemini puts the model (and
    /// streaming) in the path, so an id that cannot be a path segment is refused here.
    pub fn chat_path(&self, native_model: &str, stream: bool) -> Result<String, ApiError> {
        match self.config.kind {
            ProviderKind::OpenAi => Ok(openai::CHAT_PATH.to_owned()),
            ProviderKind::Anthropic => Ok(anthropic::MESSAGES_PATH.to_owned()),
            ProviderKind::Gemini => gemini::chat_path(native_model, stream),
        }
    }

    /// POSTs a JSON body to `{base}{path}` and returns the response once its headers arrived
    /// with a 2xx status. Dropping the returned response closes the upstream request.
    /// `client_headers` are the client's own request headers; only those the provider module
    /// allows (e.g. `anthropic-beta`) are forwarded.
    pub async fn post(
        &self,
        path: &str,
        body: Vec<u8>,
        stream: bool,
        client_headers: Option<&HeaderMap>,
    ) -> Result<reqwest::Response, ProviderError> {
        let provider = self.config.id.as_str();
        let request = self.http.post(format!("{}{path}", self.config.base_url));
        let request = match self.config.kind {
            ProviderKind::OpenAi => openai::authorize(request, &self.key.0),
            ProviderKind::Anthropic => anthropic::authorize(request, &self.key.0, client_headers),
            ProviderKind::Gemini => gemini::authorize(request, &self.key.0),
        };
        let request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, if stream { "text/event-stream" } else { "application/json" })
            .body(body)
            .send();
        let response = match tokio::time::timeout(self.first_byte, request).await {
            Err(_) => return Err(ProviderError::Timeout { provider: provider.to_owned() }),
            Ok(Err(err)) => return Err(ProviderError::transport(provider, err)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after(response.headers());
        let body = read_limited(response, ERROR_BODY_LIMIT).await;
        let status = match self.config.kind {
            ProviderKind::Gemini => gemini::normalize_status(status, &body),
            _ => status,
        };
        tracing::debug!(%provider, %status, body = %String::from_utf8_lossy(&body), "upstream error");
        let message = serde_json::from_slice::<ErrorBody>(&body).ok().and_then(|b| b.error?.message);
        Err(ProviderError::Upstream { provider: provider.to_owned(), status, message, retry_after })
    }

    /// Reads a whole (non-stream) response body.
    pub async fn read_body(&self, response: reqwest::Response) -> Result<Bytes, ProviderError> {
        response.bytes().await.map_err(|e| ProviderError::transport(&self.config.id, e))
    }
}

async fn read_limited(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= limit {
            break;
        }
    }
    out
}
