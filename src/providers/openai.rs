//! OpenAI and OpenAI-compatible upstreams: `{base}/chat/completions`, `{base}/embeddings`,
//! `Authorization: Bearer <provider key>`.

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue};

use super::secret_value;

/// Chat Completions, under the base URL (which ends in `/v1`).
pub const CHAT_PATH: &str = "/chat/completions";
/// Embeddings, under the base URL.
pub const EMBEDDINGS_PATH: &str = "/embeddings";

/// Adds the provider key, if it has one (a local Ollama has none). Nothing the client sent is
/// forwarded.
pub fn authorize(headers: &mut HeaderMap, credential: Option<&HeaderValue>) {
    if let Some(credential) = credential {
        headers.insert(AUTHORIZATION, credential.clone());
    }
}

/// The header value that carries `key`, made once per key.
pub fn credential(key: &str) -> HeaderValue {
    secret_value(&format!("Bearer {key}"))
}
