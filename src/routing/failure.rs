//! How a failed upstream attempt is classified: whether the same provider may be tried again,
//! whether the next candidate may be tried, and whether it counts against the provider's health.

use std::time::Duration;

use crate::error::{ApiError, ErrorKind};
use crate::providers::ProviderError;

/// What kind of failure an attempt ended in; decides retry, fallback and the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The request itself is wrong (upstream 4xx such as 400): never retried, never sent to
    /// another candidate, and the provider is healthy.
    Client,
    /// The provider is down or broken before its first byte (5xx, 529, connection refused or
    /// reset): retried on the same provider with backoff, then the next candidate; counts
    /// against the provider's circuit breaker.
    Upstream,
    /// The provider did not answer in time: the next candidate (a retry would wait as long
    /// again); counts against the breaker.
    Timeout,
    /// The provider is limiting us (429): retried only when its `Retry-After` is short,
    /// otherwise the next candidate; the provider is up, so the breaker is not touched.
    RateLimited,
    /// The provider cannot take the request at all (not configured, rejects the gateway's own
    /// credentials, answered something unusable): the next candidate, no retry.
    Unusable,
}

/// A failed attempt: the error the client would see, and how to treat it.
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: ApiError,
    pub class: FailureClass,
    /// The upstream's `Retry-After`, if it sent one.
    pub retry_after: Option<Duration>,
    /// The failure was one upstream key's (rejected or rate-limited) and the provider has
    /// another in rotation: the same provider can be asked again at once.
    pub another_key: bool,
}

impl Failure {
    /// A failure of `class`, its `retry_after` taken from the error's own `Retry-After`;
    /// `another_key` starts false.
    pub fn new(error: ApiError, class: FailureClass) -> Self {
        let retry_after = error.retry_after.map(Duration::from_secs);
        Self { error, class, retry_after, another_key: false }
    }

    /// A failure that is the client's own (bad input found while preparing an attempt).
    pub fn client(error: ApiError) -> Self {
        Self::new(error, FailureClass::Client)
    }

    /// Classifies an error already rendered as an `ApiError` (an in-band stream error, an
    /// answer that could not be decoded) by its kind.
    pub fn from_api(error: ApiError) -> Self {
        let class = match error.kind {
            ErrorKind::BadRequest
            | ErrorKind::Unauthenticated
            | ErrorKind::PaymentRequired
            | ErrorKind::Forbidden
            | ErrorKind::NotFound
            | ErrorKind::PayloadTooLarge => FailureClass::Client,
            ErrorKind::RateLimited => FailureClass::RateLimited,
            ErrorKind::UpstreamTimeout => FailureClass::Timeout,
            ErrorKind::Unavailable | ErrorKind::Internal => FailureClass::Upstream,
            ErrorKind::UpstreamFailed => FailureClass::Upstream,
        };
        Self::new(error, class)
    }

    /// A 200 answer the gateway cannot use (malformed JSON, HTML): the provider is not to be
    /// asked again for this request (it may have billed it), but another candidate may be.
    pub fn invalid_answer(error: impl Into<ApiError>) -> Self {
        Self::new(error.into(), FailureClass::Unusable)
    }

    /// Whether a later candidate may be tried after this failure.
    pub fn allows_fallback(&self) -> bool {
        self.class != FailureClass::Client
    }
}

impl From<ProviderError> for Failure {
    fn from(err: ProviderError) -> Self {
        let class = match &err {
            ProviderError::NotConfigured(_) | ProviderError::Unsupported(_) | ProviderError::BadUrl { .. } => {
                FailureClass::Unusable
            }
            ProviderError::Timeout { .. } => FailureClass::Timeout,
            ProviderError::Transport { .. } => FailureClass::Upstream,
            ProviderError::Upstream { status, .. } => match status.as_u16() {
                429 => FailureClass::RateLimited,
                401 | 403 => FailureClass::Unusable,
                408 | 504 => FailureClass::Timeout,
                500..=599 => FailureClass::Upstream,
                _ => FailureClass::Client,
            },
        };
        let (retry_after, another_key) = match &err {
            ProviderError::Upstream { retry_after, another_key, status, .. } => {
                (retry_after.map(Duration::from_secs), *another_key && matches!(status.as_u16(), 401 | 403 | 429))
            }
            _ => (None, false),
        };
        Self { error: err.into(), class, retry_after, another_key }
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self::from_api(error)
    }
}
