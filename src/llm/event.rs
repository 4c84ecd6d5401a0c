//! Stream events in neutral form: what every stream decoder emits and every encoder consumes.

use std::pin::Pin;

use futures_util::Stream;

use super::response::FinishReason;
use crate::error::ApiError;
use crate::usage::Usage;

/// One step of a streamed answer.
///
/// Order: `Start` first; then deltas; `Usage` may come before or after `Finish` and more than
/// once (each is a cumulative snapshot, the last wins); nothing follows the end of the stream.
/// Encoders must accept `Usage` and `Finish` in either order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The upstream's message id and model; encoders write the gateway's own instead.
    Start {
        id: String,
        model: String,
    },
    TextDelta(String),
    /// A fragment of reasoning text.
    ThinkingDelta(String),
    /// The signature that closes a thinking block.
    ThinkingSignature(String),
    /// A new tool call; `index` counts tool calls from 0 in the order they start.
    ToolCallStart {
        index: u32,
        id: String,
        name: String,
    },
    /// A fragment of a tool call's JSON arguments.
    ToolArgsDelta {
        index: u32,
        json: String,
    },
    /// A cumulative usage snapshot; the last one wins.
    Usage(Usage),
    /// Why the answer ended.
    Finish {
        reason: FinishReason,
        /// The provider's own reason (`end_turn`, `STOP`…), for `native_finish_reason`.
        native: Option<String>,
        /// The stop sequence that ended the answer, when the upstream says (Anthropic does).
        stop_sequence: Option<String>,
    },
}

/// A translated upstream stream. An `Err` item ends it: the upstream failed mid-stream.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<Event, ApiError>> + Send>>;
