//! OpenAI and OpenAI-compatible upstreams: `{base}/chat/completions`, `{base}/embeddings`,
//! `Authorization: Bearer <provider key>`.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use super::{ProviderError, retry_after};
use crate::config::{ProviderConfig, Secret};

/// Most bytes of an upstream error body read to find its message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// A borrowed handle for one request to one OpenAI-format provider.
#[derive(Debug)]
pub struct OpenAiClient<'a> {
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

impl<'a> OpenAiClient<'a> {
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

    /// POSTs a JSON body to `{base}{path}` and returns the response once its headers arrived
    /// with a 2xx status. Dropping the returned response closes the upstream request.
    pub async fn post(&self, path: &str, body: Vec<u8>, stream: bool) -> Result<reqwest::Response, ProviderError> {
        let provider = self.config.id.as_str();
        let request = self
            .http
            .post(format!("{}{path}", self.config.base_url))
            .bearer_auth(&self.key.0)
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
