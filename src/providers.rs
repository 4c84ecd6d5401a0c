//! Outbound calls to upstream providers over one pooled HTTP client.
//!
//! Providers know URLs, credentials and how upstream failures map to our errors; the wire
//! formats themselves live in `dialect`.

pub mod anthropic;
mod client;
pub mod gemini;
pub mod http;
pub mod keys;
pub mod openai;
mod raw;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode};

use crate::config::{Config, ProviderConfig, Timeouts};
use crate::error::{ApiError, ErrorKind};

pub use client::UpstreamClient;
pub use http::{HttpClient, Proxies, TransportError, UpstreamResponse};
pub use raw::RawAnswer;

/// Which wire format an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    OpenAi,
    Anthropic,
    Gemini,
}

/// Why an upstream call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No provider has this slug, or it has no key (503).
    #[error("provider '{0}' is not configured")]
    NotConfigured(String),
    /// The provider's format cannot serve this endpoint (503).
    #[error("provider '{0}' is not supported on this endpoint yet")]
    Unsupported(String),
    /// The upstream answered with a status other than 2xx.
    #[error("provider '{provider}' answered {status}")]
    Upstream {
        provider: String,
        status: StatusCode,
        /// The upstream's `error.message`, if it sent one; only shown for client-caused errors.
        message: Option<String>,
        /// Seconds from the upstream's `Retry-After`, passed on with a 429 or 503.
        retry_after: Option<u64>,
        /// The provider has another upstream key in rotation, so a failure of this key's
        /// credentials or rate (401/403/429) can be retried at once with that one.
        another_key: bool,
    },
    /// The upstream did not answer in time (504).
    #[error("provider '{provider}' did not answer in time")]
    Timeout { provider: String },
    #[error("could not reach provider '{provider}': {source}")]
    Transport {
        provider: String,
        /// Carries no URL: upstream hosts never reach a client or a log line.
        source: TransportError,
    },
    /// The provider's base URL and the request's path do not make a URL.
    #[error("provider '{provider}' has no valid URL for this request")]
    BadUrl { provider: String },
}

impl ProviderError {
    /// Sorts a transport error: a timeout becomes `Timeout` (504), anything else `Transport` (502).
    pub fn transport(provider: &str, err: TransportError) -> Self {
        if err.is_timeout() {
            Self::Timeout { provider: provider.to_owned() }
        } else {
            Self::Transport { provider: provider.to_owned(), source: err }
        }
    }
}

impl From<ProviderError> for ApiError {
    fn from(err: ProviderError) -> Self {
        match err {
            ProviderError::NotConfigured(p) => {
                ApiError::new(ErrorKind::Unavailable, format!("provider '{p}' is not configured"))
            }
            ProviderError::Unsupported(p) => {
                ApiError::new(ErrorKind::Unavailable, format!("provider '{p}' is not supported on this endpoint yet"))
            }
            ProviderError::Timeout { provider } => {
                ApiError::new(ErrorKind::UpstreamTimeout, format!("provider '{provider}' did not answer in time"))
            }
            ProviderError::Transport { provider, source } => {
                tracing::warn!(%provider, error = %source, "upstream transport error");
                ApiError::new(
                    ErrorKind::UpstreamFailed,
                    format!("upstream request failed: could not reach provider '{provider}'"),
                )
            }
            ProviderError::BadUrl { provider } => {
                tracing::warn!(%provider, "upstream URL does not parse");
                ApiError::new(
                    ErrorKind::UpstreamFailed,
                    format!("upstream request failed: provider '{provider}' has no valid URL for this request"),
                )
            }
            ProviderError::Upstream { provider, status, message, retry_after, .. } => {
                let detail = message.map(|m| format!(": {m}")).unwrap_or_default();
                match status.as_u16() {
                    400 | 409 | 422 => {
                        ApiError::bad_request(format!("provider '{provider}' rejected the request{detail}"))
                    }
                    404 => ApiError::not_found(format!(
                        "provider '{provider}' does not know this model or endpoint{detail}"
                    )),
                    413 => ApiError::new(
                        ErrorKind::PayloadTooLarge,
                        format!("provider '{provider}' says the request is too large{detail}"),
                    ),
                    429 => ApiError::new(
                        ErrorKind::RateLimited,
                        format!("provider '{provider}' is rate limiting requests; retry later"),
                    )
                    .with_retry_after(retry_after),
                    401 | 403 => ApiError::new(
                        ErrorKind::UpstreamFailed,
                        format!("upstream request failed: provider '{provider}' rejected the gateway's credentials"),
                    ),
                    408 | 504 => ApiError::new(
                        ErrorKind::UpstreamTimeout,
                        format!("provider '{provider}' did not answer in time"),
                    ),
                    // 503 from OpenAI, 529 `overloaded_error` from Anthropic: the provider is up
                    // but shedding load, which clients should retry like a 503.
                    503 | 529 => ApiError::new(
                        ErrorKind::Unavailable,
                        format!("provider '{provider}' is overloaded; retry later"),
                    )
                    .with_retry_after(retry_after),
                    code => ApiError::new(
                        ErrorKind::UpstreamFailed,
                        format!("upstream request failed: provider '{provider}' answered {code}"),
                    ),
                }
            }
        }
    }
}

/// All configured providers, sharing one connection pool.
#[derive(Debug, Clone)]
pub struct Providers {
    http: HttpClient,
    /// Shared by clones, so every handle sees the same key rotation.
    upstreams: Arc<[Upstream]>,
    timeouts: Timeouts,
}

/// One provider: its config, the rotation state of its keys and its fixed endpoints.
#[derive(Debug)]
struct Upstream {
    config: ProviderConfig,
    keys: keys::KeyPool,
    endpoints: client::Endpoints,
    /// Each key as the header value that carries it (`Bearer …` for OpenAI), in the key
    /// pool's order: made once, not formatted and validated on every request.
    credentials: Box<[HeaderValue]>,
}

impl Upstream {
    fn new(config: &ProviderConfig) -> Self {
        let keys = config.all_keys();
        let credentials = keys
            .iter()
            .map(|key| {
                if HeaderValue::from_str(&key.secret.0).is_err() {
                    tracing::warn!(provider = %config.id, key = %key.name, "an upstream key has characters no HTTP header can carry; the upstream will refuse it");
                }
                match config.kind {
                    ProviderKind::OpenAi => openai::credential(&key.secret.0),
                    ProviderKind::Anthropic | ProviderKind::Gemini => secret_value(&key.secret.0),
                }
            })
            .collect();
        Self {
            keys: keys::KeyPool::new(&config.id, keys, config.key_cooldown),
            endpoints: client::Endpoints::new(config),
            credentials,
            config: config.clone(),
        }
    }
}

impl Providers {
    /// Builds every provider's key pool, endpoints and credential headers once, and the one HTTP
    /// client they share; nothing connects yet.
    pub fn new(config: &Config) -> Self {
        let http = HttpClient::new(config.timeouts.connect, config.proxies.clone());
        let upstreams = config.providers.iter().map(Upstream::new).collect();
        Self { http, upstreams, timeouts: config.timeouts }
    }

    /// A client for provider `id`, if it is configured and supported, with the key for this
    /// request picked from the provider's rotation.
    pub fn client(&self, id: &str) -> Result<UpstreamClient<'_>, ProviderError> {
        let upstream = self
            .upstreams
            .iter()
            .find(|u| u.config.id == id && u.config.is_configured())
            .ok_or_else(|| ProviderError::NotConfigured(id.into()))?;
        Ok(UpstreamClient::new(&self.http, upstream, self.timeouts.first_byte))
    }

    /// A client for an OpenAI-format provider (for endpoints only that format has).
    pub fn openai(&self, id: &str) -> Result<UpstreamClient<'_>, ProviderError> {
        let client = self.client(id)?;
        if client.kind() != ProviderKind::OpenAi {
            return Err(ProviderError::Unsupported(id.into()));
        }
        Ok(client)
    }
}

/// Reads `Retry-After` as whole seconds.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<u64> {
    headers.get(axum::http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}

/// A credential as a header value, marked sensitive (left out of `Debug` output and of
/// HTTP/2 header compression). A key with bytes no header may carry is sent empty, so the
/// upstream refuses it as a bad credential instead of the gateway sending something else.
fn secret_value(secret: &str) -> HeaderValue {
    let mut value = HeaderValue::from_str(secret).unwrap_or_else(|_| HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}
