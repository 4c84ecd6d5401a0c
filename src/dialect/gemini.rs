//! Gemini `generateContent` (`POST /v1beta/models/{model}:generateContent`) in the translation
//! hub.
//!
//! * `decode`: Gemini → `llm`. A client's request (validated; 400 naming the field), an
//!   upstream `GenerateContentResponse`, and an upstream `alt=sse` stream (`StreamDecoder`).
//! * `encode`: `llm` → Gemini. A request for a Gemini upstream, and a `GenerateContentResponse`
//!   or `alt=sse` stream (`StreamEncoder`) for a client of the Gemini surface.
//! * `schema`: JSON Schema → the OpenAPI subset Gemini's `Schema` accepts, and back.
//! * `types`: the wire types, private to this module.
//! * `error_body`: Google's error object for the Gemini surface; `must_fetch`, `image_urls`,
//!   `inline_urls`: the `http(s)` media the glue must fetch and inline before encoding (Gemini
//!   fetches no arbitrary URL; its own Files API URIs are left alone).
//!
//! Only cross-format traffic comes here; Gemini → Gemini is forwarded as bytes. The model is in
//! the URL, never in the body: decoding leaves `ChatRequest::model` empty and the glue sets it
//! (and `stream`, from `:streamGenerateContent`); encoding writes a body for
//! `encode::path(target.model, stream)`.
//!
//! Conventions shared by both directions (wire-formats §5, Gemini column):
//!
//! * Tool call ids. Gemini's `functionCall.id` is usually absent. A missing id is generated
//!   deterministically: `call_<n>` in a client's request (`n` counts the request's calls from 0,
//!   so ids are unique in the request), `call_<responseId>_<n>` in an upstream answer (`n`
//!   counts the answer's calls; the response id keeps ids of different turns apart, which
//!   Anthropic requires). A call's `thoughtSignature` travels in its id, LiteLLM's way:
//!   `<id>__thought__<signature>` (`THOUGHT_SEPARATOR`), and is put back on the `functionCall`
//!   part when the call is encoded for Gemini again (pitfall 12).
//! * Thinking signatures. A `thoughtSignature` on a `thought` part becomes the `Thinking`
//!   signature `gemini:<signature>` (`GEMINI_SIGNATURE`), so the encoder can tell a Gemini
//!   signature (replayable to Gemini) from another provider's (not). Another provider's signature
//!   reaching a Gemini client is written `foreign:<signature>` (`FOREIGN_SIGNATURE`) and read
//!   back unchanged, so an Anthropic model behind the Gemini surface still gets its own.
//!   Signatures on plain text parts are dropped: the API validates them only on function calls.
//! * Finish reasons (§5.8): `STOP` → `ToolCalls` when the answer called a function (pitfall 4),
//!   else `Stop`; `MAX_TOKENS` → `Length`; `SAFETY`, `RECITATION`, `BLOCKLIST`,
//!   `PROHIBITED_CONTENT`, `SPII`, `LANGUAGE`, `IMAGE_*` → `ContentFilter`; anything else →
//!   `Stop` (pitfall 23); the raw value is the native reason. A blocked prompt (no candidates,
//!   `promptFeedback.blockReason`) is an empty `ContentFilter` answer whose native reason is the
//!   block reason (pitfall 22).
//! * Usage (§5.9): prompt = `promptTokenCount` (+ `toolUsePromptTokenCount`, so the total is
//!   Gemini's `totalTokenCount`), cached = `cachedContentTokenCount`, completion =
//!   `candidatesTokenCount + thoughtsTokenCount`, reasoning = `thoughtsTokenCount` (pitfall 19).

use std::borrow::Cow;

use serde_json::{Value, json};

use crate::error::{ApiError, ErrorKind};
use crate::llm::{ChatRequest, FinishReason, ImageSource, Part};
use crate::usage::Usage;

pub mod decode;
pub mod encode;
pub mod schema;
mod types;

#[cfg(test)]
mod tests;

/// Separates a tool call id from the Gemini `thoughtSignature` carried in it.
pub const THOUGHT_SEPARATOR: &str = "__thought__";
/// Marks a `Thinking` signature that came from Gemini.
pub const GEMINI_SIGNATURE: &str = "gemini:";
/// Marks, on the Gemini wire, a thinking signature that came from another provider.
pub const FOREIGN_SIGNATURE: &str = "foreign:";
/// Google's documented `thoughtSignature` that skips validation, put on the first function call
/// of a model turn that carries no signature (history from another model; Gemini 3 refuses
/// unsigned calls otherwise). Read back, it counts as no signature.
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// A tool call id split into its base and the thought signature it carries, if any.
pub fn split_call_id(id: &str) -> (&str, Option<&str>) {
    match id.split_once(THOUGHT_SEPARATOR) {
        Some((base, signature)) if !signature.is_empty() => (base, Some(signature)),
        _ => (id, None),
    }
}

/// A tool call id carrying `signature` (the sentinel `SKIP_SIGNATURE` is not carried).
fn join_call_id(base: String, signature: Option<&str>) -> String {
    match signature.filter(|s| !s.is_empty() && *s != SKIP_SIGNATURE) {
        Some(signature) => format!("{base}{THOUGHT_SEPARATOR}{signature}"),
        None => base,
    }
}

/// A `thoughtSignature` from a thought part → the neutral `Thinking` signature.
fn signature_from_wire(signature: &str) -> String {
    match signature.strip_prefix(FOREIGN_SIGNATURE) {
        Some(foreign) => foreign.to_owned(),
        None => format!("{GEMINI_SIGNATURE}{signature}"),
    }
}

/// A neutral `Thinking` signature → the `thoughtSignature` a Gemini client is shown.
fn signature_to_wire(signature: &str) -> Cow<'_, str> {
    match signature.strip_prefix(GEMINI_SIGNATURE) {
        Some(gemini) => Cow::Borrowed(gemini),
        None => Cow::Owned(format!("{FOREIGN_SIGNATURE}{signature}")),
    }
}

/// `finishReason` → neutral reason (module docs). `called` says whether the answer (or, in a
/// stream, any earlier chunk) held a function call.
fn finish_reason(raw: Option<&str>, called: bool) -> FinishReason {
    match raw {
        Some("MAX_TOKENS") => FinishReason::Length,
        Some(
            "SAFETY"
            | "RECITATION"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "LANGUAGE"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION"
            | "IMAGE_OTHER",
        ) => FinishReason::ContentFilter,
        Some("STOP" | "FINISH_REASON_UNSPECIFIED") | None if called => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

/// Neutral reason → `finishReason` for a Gemini client. `Error` has no Gemini word but `OTHER`.
fn finish_reason_to_wire(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::ToolCalls => "STOP",
        FinishReason::Length => "MAX_TOKENS",
        FinishReason::ContentFilter => "SAFETY",
        FinishReason::Error => "OTHER",
    }
}

/// `usageMetadata` → OpenAI-convention usage (module docs).
fn usage(u: &types::InUsage) -> Usage {
    let thoughts = u.thoughts_token_count.unwrap_or(0);
    Usage {
        prompt_tokens: u.prompt_token_count.unwrap_or(0).saturating_add(u.tool_use_prompt_token_count.unwrap_or(0)),
        completion_tokens: u.candidates_token_count.unwrap_or(0).saturating_add(thoughts),
        cached_tokens: u.cached_content_token_count.unwrap_or(0),
        cache_write_tokens: 0,
        reasoning_tokens: thoughts,
    }
}

/// OpenAI-convention usage → `usageMetadata` (§5.9 reverse). Zero cache and thought counts are
/// left out, as the API does.
fn usage_to_wire(u: &Usage) -> types::OutUsage {
    let reasoning = u.reasoning_tokens.min(u.completion_tokens);
    types::OutUsage {
        prompt_token_count: u.prompt_tokens,
        candidates_token_count: u.completion_tokens - reasoning,
        total_token_count: u.total_tokens(),
        cached_content_token_count: (u.cached_tokens > 0).then_some(u.cached_tokens),
        thoughts_token_count: (reasoning > 0).then_some(reasoning),
    }
}

/// Google's canonical `status` for an error kind, and the `code` (the HTTP status).
///
/// 402 (a key's spend limit) has no Google equivalent: it keeps its HTTP status and says
/// `FAILED_PRECONDITION`, which is what Google answers for billing problems. 413 is
/// `INVALID_ARGUMENT`; 502 (upstream failed) is `UNAVAILABLE`, gRPC's status for a bad gateway.
pub fn error_status(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::BadRequest | ErrorKind::PayloadTooLarge => "INVALID_ARGUMENT",
        ErrorKind::Unauthenticated => "UNAUTHENTICATED",
        ErrorKind::PaymentRequired => "FAILED_PRECONDITION",
        ErrorKind::Forbidden => "PERMISSION_DENIED",
        ErrorKind::NotFound => "NOT_FOUND",
        ErrorKind::RateLimited => "RESOURCE_EXHAUSTED",
        ErrorKind::Internal => "INTERNAL",
        ErrorKind::UpstreamFailed | ErrorKind::Unavailable => "UNAVAILABLE",
        ErrorKind::UpstreamTimeout => "DEADLINE_EXCEEDED",
    }
}

/// Google's error object, `{"error":{"code","message","status"}}`, for HTTP bodies on the Gemini
/// surface and the final chunk of a failed stream. `code` is the HTTP status the error is sent
/// with.
pub fn error_body(err: &ApiError) -> Value {
    json!({
        "error": {
            "code": err.status().as_u16(),
            "message": err.message,
            "status": error_status(err.kind),
        }
    })
}

/// Whether a media URL is one only Gemini can read (Files API or Cloud Storage), sent as
/// `fileData` and never fetched by the gateway.
fn is_gemini_file(url: &str) -> bool {
    let lower = url.get(..48).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("gs://") || lower.starts_with("https://generativelanguage.googleapis.com/")
}

fn is_http(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Whether the glue must fetch a media URL and inline its bytes before a request goes to
/// Gemini: `http(s)` URLs other than Files API ones (Gemini fetches no arbitrary URL).
pub fn must_fetch(url: &str) -> bool {
    is_http(url) && !is_gemini_file(url)
}

/// The media sources in `parts`, tool result contents included (`ChatRequest::media_sources_mut`
/// without the `mut`).
fn sources<'a>(parts: &'a [Part], out: &mut Vec<&'a ImageSource>) {
    for part in parts {
        match part {
            Part::Image { source } | Part::Document { source } => out.push(source),
            Part::ToolResult { content, .. } => sources(content, out),
            _ => {}
        }
    }
}

/// The image and document URLs of a request that `must_fetch`, each once, in order: the glue
/// fetches these (SSRF-safely) and swaps the bytes in with `inline_urls` before
/// `encode::request`. Files API and `gs://` URIs are not listed: Gemini reads those itself.
pub fn image_urls(req: &ChatRequest) -> Vec<String> {
    let mut all = Vec::new();
    for message in &req.messages {
        sources(&message.content, &mut all);
    }
    let mut urls: Vec<String> = Vec::new();
    for source in all {
        if let ImageSource::Url(url) = source {
            if must_fetch(url) && !urls.contains(url) {
                urls.push(url.clone());
            }
        }
    }
    urls
}

/// Replaces every `ImageSource::Url` for which `fetched` returns a source (normally
/// `ImageSource::Base64` with the fetched bytes) with it.
pub fn inline_urls(req: &mut ChatRequest, mut fetched: impl FnMut(&str) -> Option<ImageSource>) {
    for source in req.media_sources_mut() {
        if let ImageSource::Url(url) = source {
            if let Some(inline) = fetched(url) {
                *source = inline;
            }
        }
    }
}
