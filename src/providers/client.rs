//! One HTTP client shape for every upstream; what differs per provider (credentials header,
//! paths) lives in that provider's module.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use axum::http::HeaderMap;

use super::keys::KeyPool;
use super::{ProviderError, ProviderKind, anthropic, gemini, openai, retry_after};
use crate::config::ProviderConfig;
use crate::error::ApiError;

/// Most bytes of an upstream error body read to find its message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// A provider's fixed endpoints (`{base}{path}` for paths without a model in them), parsed
/// once: reqwest would parse the URL string of every request (6,600 instructions, 3 % of a
/// request), and a parsed URL is only cloned.
#[derive(Debug)]
pub(super) struct Endpoints(Vec<(&'static str, reqwest::Url)>);

impl Endpoints {
    pub(super) fn new(config: &ProviderConfig) -> Self {
        let paths: &[&'static str] = match config.kind {
            ProviderKind::OpenAi => &[openai::CHAT_PATH, openai::EMBEDDINGS_PATH],
            ProviderKind::Anthropic => &[anthropic::MESSAGES_PATH, anthropic::COUNT_TOKENS_PATH],
            ProviderKind::Gemini => &[],
        };
        // A base URL that does not parse keeps the string path, whose error reqwest reports.
        let parsed = paths.iter().filter_map(|path| Some((*path, Self::join(&config.base_url, path)?)));
        Self(parsed.collect())
    }

    /// The URL a request to `path` names as a string (`None` if it does not parse).
    fn join(base_url: &str, path: &str) -> Option<reqwest::Url> {
        reqwest::Url::parse(&format!("{base_url}{path}")).ok()
    }

    fn get(&self, path: &str) -> Option<&reqwest::Url> {
        self.0.iter().find(|(fixed, _)| *fixed == path).map(|(_, url)| url)
    }
}

/// A borrowed handle for one request to one provider.
#[derive(Debug)]
pub struct UpstreamClient<'a> {
    pub(super) http: &'a reqwest::Client,
    pub(super) config: &'a ProviderConfig,
    endpoints: &'a Endpoints,
    /// The provider's keys; `key` is the one picked for this request (`None`: keyless).
    pub(super) keys: &'a KeyPool,
    pub(super) key: Option<usize>,
    pub(super) first_byte: Duration,
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
    pub(super) fn new(http: &'a reqwest::Client, upstream: &'a super::Upstream, first_byte: Duration) -> Self {
        let (config, keys, endpoints) = (&upstream.config, &upstream.keys, &upstream.endpoints);
        let key = keys.pick(std::time::Instant::now());
        Self { http, config, endpoints, keys, key, first_byte }
    }

    /// Adds the picked key in the provider's own header and the configured extra headers.
    pub(super) fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        client_headers: Option<&HeaderMap>,
    ) -> reqwest::RequestBuilder {
        let key = self.key.map(|index| self.keys.secret(index).0.as_str());
        let request = match self.config.kind {
            ProviderKind::OpenAi => openai::authorize(request, key),
            ProviderKind::Anthropic => anthropic::authorize(request, key, client_headers),
            ProviderKind::Gemini => gemini::authorize(request, key),
        };
        if self.config.headers.is_empty() { request } else { request.headers(self.config.headers.clone()) }
    }

    /// Tells the key pool how the upstream answered this request's key.
    pub(super) fn report(&self, status: reqwest::StatusCode, retry_after: Option<u64>) {
        if let Some(index) = self.key {
            self.keys.report(index, status, retry_after, std::time::Instant::now());
        }
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
        let request = match self.endpoints.get(path) {
            Some(url) => self.http.post(url.clone()),
            None => self.http.post(format!("{}{path}", self.config.base_url)),
        };
        let request = self.authorize(request, client_headers);
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
        self.report(status, retry_after);
        tracing::debug!(%provider, %status, body = %String::from_utf8_lossy(&body), "upstream error");
        let message = serde_json::from_slice::<ErrorBody>(&body).ok().and_then(|b| b.error?.message);
        let another_key = self.key.is_some_and(|i| self.keys.another_in_rotation(i, std::time::Instant::now()));
        Err(ProviderError::Upstream { provider: provider.to_owned(), status, message, retry_after, another_key })
    }

    /// Reads a whole (non-stream) response body.
    pub async fn read_body(&self, response: reqwest::Response) -> Result<Bytes, ProviderError> {
        response.bytes().await.map_err(|e| ProviderError::transport(&self.config.id, e))
    }
}

pub(super) async fn read_limited(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_endpoints_are_the_urls_the_string_paths_name() {
        let endpoints = Endpoints::new(&ProviderConfig::new("openai", ProviderKind::OpenAi, "http://127.0.0.1:9/v1"));
        for path in [openai::CHAT_PATH, openai::EMBEDDINGS_PATH] {
            let expected = reqwest::Url::parse(&format!("http://127.0.0.1:9/v1{path}")).unwrap();
            assert_eq!(endpoints.get(path), Some(&expected));
        }
        assert_eq!(endpoints.get("/models"), None, "other paths keep the string");

        let anthropic = Endpoints::new(&ProviderConfig::new("anthropic", ProviderKind::Anthropic, "https://a.example"));
        assert_eq!(anthropic.get(anthropic::MESSAGES_PATH).unwrap().as_str(), "https://a.example/v1/messages");
        let gemini = Endpoints::new(&ProviderConfig::new("google", ProviderKind::Gemini, "https://g.example"));
        assert!(gemini.0.is_empty(), "Gemini paths name the model");
        let broken = Endpoints::new(&ProviderConfig::new("x", ProviderKind::OpenAi, "not a url"));
        assert!(broken.0.is_empty(), "left to reqwest, which reports the bad URL");
    }
}
