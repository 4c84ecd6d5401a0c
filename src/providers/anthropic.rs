//! Anthropic: `{base}/v1/messages`, `x-api-key: <provider key>`, `anthropic-version`.

use axum::http::HeaderMap;

/// Messages, under the base URL (which has no `/v1`).
pub const MESSAGES_PATH: &str = "/v1/messages";
/// Token counting, under the base URL.
pub const COUNT_TOKENS_PATH: &str = "/v1/messages/count_tokens";

/// The API version sent when the client did not choose one.
pub const DEFAULT_VERSION: &str = "2023-06-01";

/// Adds the provider key and the API version. From the client, only `anthropic-*` headers
/// (`anthropic-version`, `anthropic-beta`, …) are forwarded: they select API behaviour and
/// carry no credentials.
pub fn authorize(
    mut request: reqwest::RequestBuilder,
    key: Option<&str>,
    client_headers: Option<&HeaderMap>,
) -> reqwest::RequestBuilder {
    let mut has_version = false;
    if let Some(headers) = client_headers {
        for (name, value) in headers {
            if name.as_str().starts_with("anthropic-") {
                has_version |= name == "anthropic-version";
                request = request.header(name.as_str(), value.as_bytes());
            }
        }
    }
    if !has_version {
        request = request.header("anthropic-version", DEFAULT_VERSION);
    }
    match key {
        Some(key) => request.header("x-api-key", key),
        None => request,
    }
}
