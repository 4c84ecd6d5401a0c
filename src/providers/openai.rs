//! OpenAI and OpenAI-compatible upstreams: `{base}/chat/completions`, `{base}/embeddings`,
//! `Authorization: Bearer <provider key>`.

/// Chat Completions, under the base URL (which ends in `/v1`).
pub const CHAT_PATH: &str = "/chat/completions";
/// Embeddings, under the base URL.
pub const EMBEDDINGS_PATH: &str = "/embeddings";

/// Adds the provider key, if it has one (a local Ollama has none). Nothing the client sent is
/// forwarded.
pub fn authorize(request: reqwest::RequestBuilder, key: Option<&str>) -> reqwest::RequestBuilder {
    match key {
        Some(key) => request.bearer_auth(key),
        None => request,
    }
}
