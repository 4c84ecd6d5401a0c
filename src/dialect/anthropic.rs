//! Anthropic Messages (`POST /v1/messages`) in the translation hub.
//!
//! * `decode`: Anthropic → `llm`. A client's request (validated; 400 naming the field), an
//!   upstream `message`, and an upstream event stream (`StreamDecoder`).
//! * `encode`: `llm` → Anthropic. A request for an Anthropic upstream, and a `message` or event
//!   stream (`StreamEncoder`) for a client of the Anthropic surface.
//! * `types`: the wire types both use; private to this module.
//!
//! Only cross-format traffic comes here (an OpenAI or Gemini client on an Anthropic model, or an
//! Anthropic client on another provider's model). Anthropic → Anthropic is forwarded as bytes.
//!
//! The mapping follows wire-formats §5; the notable conventions:
//!
//! * Usage: Anthropic's `input_tokens` excludes the cache, the neutral `Usage` (OpenAI's
//!   convention) includes it: `prompt = input + cache_creation + cache_read`, and back with
//!   saturating subtraction (§5.9, pitfall 18).
//! * Stop reasons: `end_turn`, `stop_sequence`, `pause_turn` and anything unknown → `Stop`;
//!   `max_tokens`, `model_context_window_exceeded` → `Length`; `tool_use` → `ToolCalls`;
//!   `refusal` → `ContentFilter`; the raw value is kept as the native finish reason (§5.8).
//!   Back: a turn with a tool call always says `tool_use`.
//! * Tool call ids sent to Anthropic or its clients pass through `encode::tool_id`.
//! * Decisions where the references leave a choice are listed on `decode::request` (thinking,
//!   effort, unsupported blocks) and in the `encode` module docs (turn shaping, `max_tokens`,
//!   thinking budgets, sampling, JSON mode).

pub mod decode;
pub mod encode;
mod types;

#[cfg(test)]
mod tests;
