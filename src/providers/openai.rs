//! OpenAI and OpenAI-compatible upstreams: `{base}/chat/completions`, `{base}/embeddings`,
//! `Authorization: Bearer <provider key>`.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use super::secret_value;

/// Chat Completions, under the base URL (which ends in `/v1`).
pub const CHAT_PATH: &str = "/chat/completions";
/// Embeddings, under the base URL.
pub const EMBEDDINGS_PATH: &str = "/embeddings";

/// Adds the provider key, if it has one (a local Ollama has none). Nothing the client sent is
/// forwarded.
pub fn authorize(headers: &mut HeaderMap, key: Option<&str>) {
    if let Some(key) = key {
        headers.insert(AUTHORIZATION, secret_value(&format!("Bearer {key}")));
    }
}
