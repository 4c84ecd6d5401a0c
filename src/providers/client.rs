//! One HTTP client shape for every upstream; what differs per provider (credentials header,
//! paths) lives in that provider's module.

use std::time::Duration;

use axum::http::header::{ACCEPT, CONTENT_TYPE, HOST, HeaderValue};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use bytes::Bytes;
use serde::Deserialize;

use super::http::{HttpClient, UpstreamResponse, plain_http_host};
use super::keys::KeyPool;
use super::{ProviderError, ProviderKind, anthropic, gemini, openai, retry_after};
use crate::config::ProviderConfig;
use crate::error::ApiError;

/// Most bytes of an upstream error body read to find its message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// A provider's fixed endpoints (`{base}{path}` for paths without a model in them), parsed
/// once: a URL is parsed and normalised with `url` (6,600 instructions, 3 % of a request) and
/// then parsed again as a `Uri`, while a parsed `Uri` is only cloned. Plain-HTTP endpoints also
/// keep their `Host` value (`http::plain_http_host`).
#[derive(Debug)]
pub(super) struct Endpoints(Vec<(&'static str, Uri, Option<HeaderValue>)>);

impl Endpoints {
    pub(super) fn new(config: &ProviderConfig) -> Self {
        let paths: &[&'static str] = match config.kind {
            ProviderKind::OpenAi => &[openai::CHAT_PATH, openai::EMBEDDINGS_PATH],
            ProviderKind::Anthropic => &[anthropic::MESSAGES_PATH, anthropic::COUNT_TOKENS_PATH],
            ProviderKind::Gemini => &[],
        };
        // A base URL that does not parse keeps the string path, whose error is reported then.
        let parsed = paths.iter().filter_map(|path| {
            let uri = upstream_uri(&format!("{}{path}", config.base_url))?;
            let host = plain_http_host(&uri);
            Some((*path, uri, host))
        });
        Self(parsed.collect())
    }

    fn get(&self, path: &str) -> Option<(&Uri, Option<&HeaderValue>)> {
        self.0.iter().find(|(fixed, ..)| *fixed == path).map(|(_, uri, host)| (uri, host.as_ref()))
    }
}

/// The `Uri` an upstream URL string names, normalised as a browser would (`url`'s WHATWG
/// parser: IDNA hosts, dot segments, percent-encoding), or `None` if it is not a URL.
pub(super) fn upstream_uri(url: &str) -> Option<Uri> {
    let parsed = url::Url::parse(url).ok()?;
    Uri::try_from(parsed.as_str()).ok()
}

/// A borrowed handle for one request to one provider.
#[derive(Debug)]
pub struct UpstreamClient<'a> {
    pub(super) http: &'a HttpClient,
    pub(super) config: &'a ProviderConfig,
    endpoints: &'a Endpoints,
    /// Each key's header value, in the key pool's order.
    credentials: &'a [HeaderValue],
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
    pub(super) fn new(http: &'a HttpClient, upstream: &'a super::Upstream, first_byte: Duration) -> Self {
        let (config, endpoints, keys, credentials) =
            (&upstream.config, &upstream.endpoints, &upstream.keys, &*upstream.credentials);
        let key = keys.pick(std::time::Instant::now());
        Self { http, config, endpoints, credentials, keys, key, first_byte }
    }

    /// Headers with the picked key in the provider's own header and the configured extra
    /// headers (which replace any of the same name).
    pub(super) fn authorized_headers(&self, client_headers: Option<&HeaderMap>) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(8);
        let credential = self.key.map(|index| &self.credentials[index]);
        match self.config.kind {
            ProviderKind::OpenAi => openai::authorize(&mut headers, credential),
            ProviderKind::Anthropic => anthropic::authorize(&mut headers, credential, client_headers),
            ProviderKind::Gemini => gemini::authorize(&mut headers, credential),
        }
        let mut replaced = None;
        for (name, value) in &self.config.headers {
            if replaced != Some(name) {
                headers.remove(name);
                replaced = Some(name);
            }
            headers.append(name.clone(), value.clone());
        }
        headers
    }

    /// The `Uri` of `{base}{path}`, with its `Host` value when that was made ahead (fixed
    /// plain-HTTP endpoints); `BadUrl` when the two do not make one (a base URL that config
    /// accepted always does with the gateway's own paths).
    fn uri(&self, path: &str) -> Result<(Uri, Option<HeaderValue>), ProviderError> {
        match self.endpoints.get(path) {
            Some((uri, host)) => Ok((uri.clone(), host.cloned())),
            None => upstream_uri(&format!("{}{path}", self.config.base_url))
                .map(|uri| (uri, None))
                .ok_or_else(|| ProviderError::BadUrl { provider: self.config.id.clone() }),
        }
    }

    /// Sends the request and waits for its headers, at most the first-byte timeout.
    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, ProviderError> {
        let provider = self.config.id.as_str();
        let (uri, host) = self.uri(path)?;
        if let Some(host) = host {
            // A configured `Host` header wins, as it would over the one hyper-util writes.
            headers.entry(HOST).or_insert(host);
        }
        match tokio::time::timeout(self.first_byte, self.http.send(method, uri, headers, body)).await {
            Err(_) => Err(ProviderError::Timeout { provider: provider.to_owned() }),
            Ok(Err(err)) => Err(ProviderError::transport(provider, err)),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// Tells the key pool how the upstream answered this request's key.
    pub(super) fn report(&self, status: StatusCode, retry_after: Option<u64>) {
        if let Some(index) = self.key {
            self.keys.report(index, status, retry_after, std::time::Instant::now());
        }
    }

    /// The provider's slug (`openai`, a configured id), for errors, metrics and the ledger.
    pub fn provider(&self) -> &str {
        &self.config.id
    }

    /// The provider's wire format, which decides whether a request is forwarded or translated.
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
    ) -> Result<UpstreamResponse, ProviderError> {
        let provider = self.config.id.as_str();
        let mut headers = self.authorized_headers(client_headers);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let accept = if stream { "text/event-stream" } else { "application/json" };
        headers.insert(ACCEPT, HeaderValue::from_static(accept));
        let response = self.send(Method::POST, path, headers, body.into()).await?;
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
    pub async fn read_body(&self, response: UpstreamResponse) -> Result<Bytes, ProviderError> {
        response.bytes().await.map_err(|e| ProviderError::transport(&self.config.id, e))
    }
}

pub(super) async fn read_limited(mut response: UpstreamResponse, limit: usize) -> Vec<u8> {
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
            let expected: Uri = format!("http://127.0.0.1:9/v1{path}").parse().unwrap();
            let host = HeaderValue::from_static("127.0.0.1:9");
            assert_eq!(endpoints.get(path), Some((&expected, Some(&host))), "plain HTTP: its Host made ahead");
        }
        assert_eq!(endpoints.get("/models"), None, "other paths keep the string");

        let anthropic = Endpoints::new(&ProviderConfig::new("anthropic", ProviderKind::Anthropic, "https://a.example"));
        let (uri, host) = anthropic.get(anthropic::MESSAGES_PATH).unwrap();
        assert_eq!(uri, "https://a.example/v1/messages");
        assert_eq!(host, None, "over TLS hyper-util writes Host once it knows the connection is HTTP/1");
        let gemini = Endpoints::new(&ProviderConfig::new("google", ProviderKind::Gemini, "https://g.example"));
        assert!(gemini.0.is_empty(), "Gemini paths name the model");
        let broken = Endpoints::new(&ProviderConfig::new("x", ProviderKind::OpenAi, "not a url"));
        assert!(broken.0.is_empty(), "reported when a request is made");
    }
}
