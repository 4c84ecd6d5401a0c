//! A complete (non-streamed) chat answer in neutral form.

use super::request::Part;
use crate::usage::Usage;

/// Why the model stopped, in OpenAI's normalised vocabulary (what OpenRouter reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// Natural end, or a stop sequence (`ChatResponse::stop_sequence` says which).
    Stop,
    /// Out of output tokens or context.
    Length,
    /// The model stopped to call tools.
    ToolCalls,
    /// Withheld or cut by the provider's safety filter (Anthropic's `refusal`, Gemini's `SAFETY`
    /// or a blocked prompt).
    ContentFilter,
    /// The upstream gave `error` as the reason (OpenAI-format backends).
    Error,
}

impl FinishReason {
    /// The OpenAI word (`stop`, `tool_calls`…), used in OpenAI bodies and in the ledger.
    pub fn as_openai(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
            Self::Error => "error",
        }
    }
}

/// A chat answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    /// The upstream's id (the gateway replaces it with its generation id on the way out).
    pub id: String,
    /// The upstream's model id (the gateway writes the public id on the way out).
    pub model: String,
    /// Unix seconds.
    pub created: i64,
    /// Text, tool calls and thinking, in the order produced.
    pub content: Vec<Part>,
    pub finish_reason: FinishReason,
    /// The provider's own word for it (`end_turn`, `STOP`…), for `native_finish_reason`.
    pub native_finish_reason: Option<String>,
    /// The stop sequence that ended the answer, when one did.
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}
