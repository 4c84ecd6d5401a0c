//! The raw proxy's upstream call: a client's request sent on as it is to `{base}{path}`, with
//! the provider's credentials in place of the client's, and whatever the upstream answers
//! (2xx or not) handed back, so the client sees the provider's own statuses and error bodies.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode};

use super::client::read_limited;
use super::{ProviderError, ProviderKind, UpstreamClient, UpstreamResponse, gemini, retry_after};

/// Most bytes of an upstream error body passed back.
const ERROR_BODY_LIMIT: usize = 1024 * 1024;

/// What the upstream said to a forwarded request.
#[derive(Debug)]
pub enum RawAnswer {
    /// A 2xx answer, still to be read or streamed.
    Success(UpstreamResponse),
    /// Any other status, with its body read and scrubbed of the provider's keys and host.
    Failed { status: StatusCode, headers: HeaderMap, body: Bytes },
}

impl UpstreamClient<'_> {
    /// Sends `method {base}{path_and_query}` with `body`. `client_headers` must already be free
    /// of the client's credentials; they fill in whatever the gateway does not set itself
    /// (the provider key, the configured extra headers).
    pub async fn forward(
        &self,
        method: Method,
        path_and_query: &str,
        client_headers: &HeaderMap,
        body: Bytes,
    ) -> Result<RawAnswer, ProviderError> {
        let provider = self.config.id.as_str();
        let mut headers = self.authorized_headers(Some(client_headers));
        let ours: Vec<HeaderName> = headers.keys().cloned().collect();
        for (name, value) in client_headers {
            if !ours.contains(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        let response = self.send(method, path_and_query, headers, body).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(RawAnswer::Success(response));
        }
        let retry_after = retry_after(response.headers());
        let headers = response.headers().clone();
        let body = read_limited(response, ERROR_BODY_LIMIT).await;
        let blamed = match self.config.kind {
            ProviderKind::Gemini => gemini::normalize_status(status, &body),
            _ => status,
        };
        self.report(blamed, retry_after);
        tracing::debug!(%provider, %status, "raw proxy: upstream error passed through");
        Ok(RawAnswer::Failed { status, headers, body: self.scrub(body).into() })
    }

    /// The body without any of the provider's keys or its host name.
    fn scrub(&self, mut body: Vec<u8>) -> Vec<u8> {
        let host = url::Url::parse(&self.config.base_url).ok().and_then(|u| u.host_str().map(str::to_owned));
        for secret in self.keys.secrets().map(|s| s.0.as_str()).chain(host.as_deref()) {
            body = replace_all(body, secret.as_bytes(), b"[redacted]");
        }
        body
    }
}

/// `haystack` with every `needle` replaced; returned as is (no copy) when there is none.
fn replace_all(haystack: Vec<u8>, needle: &[u8], with: &[u8]) -> Vec<u8> {
    let find = |from: usize, hay: &[u8]| hay[from..].windows(needle.len()).position(|w| w == needle).map(|i| i + from);
    if needle.is_empty() || find(0, &haystack).is_none() {
        return haystack;
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut at = 0;
    while let Some(found) = find(at, &haystack) {
        out.extend_from_slice(&haystack[at..found]);
        out.extend_from_slice(with);
        at = found + needle.len();
    }
    out.extend_from_slice(&haystack[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::replace_all;

    #[test]
    fn replaces_every_occurrence_and_leaves_clean_bodies_alone() {
        let body = b"key sk-1 and sk-1!".to_vec();
        assert_eq!(replace_all(body, b"sk-1", b"[redacted]"), b"key [redacted] and [redacted]!");
        assert_eq!(replace_all(b"clean".to_vec(), b"sk-1", b"x"), b"clean");
        assert_eq!(replace_all(b"sk".to_vec(), b"sk-1", b"x"), b"sk");
    }
}
