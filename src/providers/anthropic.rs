//! Anthropic: `{base}/v1/messages`, `x-api-key: <provider key>`, `anthropic-version`.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// Messages, under the base URL (which has no `/v1`).
pub const MESSAGES_PATH: &str = "/v1/messages";
/// Token counting, under the base URL.
pub const COUNT_TOKENS_PATH: &str = "/v1/messages/count_tokens";

/// The API version sent when the client did not choose one.
pub const DEFAULT_VERSION: &str = "2023-06-01";

/// Adds the provider key and the API version. From the client, only `anthropic-*` headers
/// (`anthropic-version`, `anthropic-beta`, …) are forwarded: they select API behaviour and
/// carry no credentials.
pub fn authorize(headers: &mut HeaderMap, credential: Option<&HeaderValue>, client_headers: Option<&HeaderMap>) {
    let mut has_version = false;
    if let Some(client) = client_headers {
        for (name, value) in client {
            if name.as_str().starts_with("anthropic-") {
                has_version |= name == VERSION;
                headers.append(name.clone(), value.clone());
            }
        }
    }
    if !has_version {
        headers.insert(VERSION, HeaderValue::from_static(DEFAULT_VERSION));
    }
    if let Some(credential) = credential {
        headers.insert(API_KEY, credential.clone());
    }
}

/// The API version header.
const VERSION: HeaderName = HeaderName::from_static("anthropic-version");
/// Anthropic's key header.
const API_KEY: HeaderName = HeaderName::from_static("x-api-key");
