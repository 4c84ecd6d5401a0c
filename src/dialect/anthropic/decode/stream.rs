//! Upstream Anthropic SSE → neutral stream events (wire-formats §5.13 A).
//!
//! A stateful struct fed one SSE frame at a time. It keeps what the neutral events need and the
//! wire does not repeat: which kind each open block is, the tool-call counter (Anthropic's block
//! `index` counts text blocks too, so it is not a tool index; pitfall 1), whether a tool block got
//! any argument text (pitfall 2), and the usage reported so far (`message_delta` usage is a
//! cumulative snapshot that may omit the input side `message_start` gave).

use std::collections::HashMap;

use crate::dialect::anthropic::types::{InBlock, InDelta, InEvent, InUsage};
use crate::error::{ApiError, ErrorKind};
use crate::llm::Event;
use crate::sse::SseFrame;

#[cfg(test)]
mod tests;

/// What an open content block is, by its Anthropic block index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    Tool {
        /// The neutral tool index (0-based, in start order).
        index: u32,
        /// Whether any non-empty `input_json_delta` arrived; if none did, the block's stop
        /// emits `{}` so the arguments are valid JSON (pitfall 2).
        has_args: bool,
    },
    /// Server-tool and newer blocks: their deltas are not the client's business.
    Other,
}

/// Decodes one upstream Anthropic stream.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    /// Open blocks by Anthropic block index.
    blocks: HashMap<u32, Block>,
    /// The neutral index the next tool call gets.
    next_tool: u32,
    /// Usage merged from `message_start` and every `message_delta`.
    usage: InUsage,
    /// A `Finish` went out; a second `message_delta` with a stop reason adds none.
    finished: bool,
    /// `message_stop` arrived: the stream is complete and nothing more is decoded.
    done: bool,
}

impl StreamDecoder {
    /// A decoder for one stream, before its `message_start`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `message_stop` has been seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes one frame. `Err` ends the stream: the upstream sent an `error` event or a frame
    /// that is not a stream event.
    pub fn push(&mut self, frame: &SseFrame) -> Result<Vec<Event>, ApiError> {
        if self.done {
            return Ok(Vec::new());
        }
        let event: InEvent = serde_json::from_str(&frame.data).map_err(|err| {
            tracing::debug!(%err, "unparseable event in upstream Anthropic stream");
            ApiError::new(ErrorKind::UpstreamFailed, "invalid stream event from upstream")
        })?;
        let mut out = Vec::new();
        match event {
            InEvent::MessageStart { message } => {
                self.usage.merge(&message.usage);
                out.push(Event::Start { id: message.id, model: message.model });
                out.push(Event::Usage(super::usage(&self.usage)));
            }
            InEvent::ContentBlockStart { index, content_block } => self.start_block(index, content_block, &mut out),
            InEvent::ContentBlockDelta { index, delta } => self.delta(index, delta, &mut out),
            InEvent::ContentBlockStop { index } => {
                if let Some(Block::Tool { index, has_args: false }) = self.blocks.remove(&index) {
                    out.push(Event::ToolArgsDelta { index, json: "{}".into() });
                }
            }
            InEvent::MessageDelta { delta, usage } => {
                self.usage.merge(&usage);
                out.push(Event::Usage(super::usage(&self.usage)));
                if delta.stop_reason.is_some() && !self.finished {
                    self.finished = true;
                    let (reason, native) = super::finish_reason(delta.stop_reason);
                    out.push(Event::Finish { reason, native, stop_sequence: delta.stop_sequence });
                }
            }
            InEvent::MessageStop => self.done = true,
            InEvent::Error { error } => {
                tracing::debug!(
                    upstream_type = %error.kind,
                    upstream_message = %error.message,
                    "upstream reported an error mid-stream"
                );
                return Err(match error.kind.as_str() {
                    "overloaded_error" => {
                        ApiError::new(ErrorKind::Unavailable, "upstream error during streaming (overloaded)")
                    }
                    "rate_limit_error" => {
                        ApiError::new(ErrorKind::RateLimited, "upstream error during streaming (rate limited)")
                    }
                    _ => ApiError::new(ErrorKind::UpstreamFailed, "upstream error during streaming"),
                });
            }
            InEvent::Ping | InEvent::Unknown => {}
        }
        Ok(out)
    }

    /// The upstream closed the connection. Fine after `message_stop`; otherwise the answer was
    /// cut short.
    pub fn finish(&mut self) -> Result<Vec<Event>, ApiError> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(ApiError::new(ErrorKind::UpstreamFailed, "upstream stream ended unexpectedly"))
        }
    }

    fn start_block(&mut self, index: u32, block: InBlock, out: &mut Vec<Event>) {
        let kind = match block {
            InBlock::Text { text, .. } => {
                if !text.is_empty() {
                    out.push(Event::TextDelta(text));
                }
                Block::Text
            }
            InBlock::Thinking { thinking, signature } => {
                if !thinking.is_empty() {
                    out.push(Event::ThinkingDelta(thinking));
                }
                if let Some(signature) = signature.filter(|s| !s.is_empty()) {
                    out.push(Event::ThinkingSignature(signature));
                }
                Block::Thinking
            }
            InBlock::ToolUse { id, name, .. } => {
                // The start's `input: {}` is a placeholder, not the first fragment.
                let tool = self.next_tool;
                self.next_tool += 1;
                out.push(Event::ToolCallStart { index: tool, id, name });
                Block::Tool { index: tool, has_args: false }
            }
            _ => Block::Other,
        };
        self.blocks.insert(index, kind);
    }

    fn delta(&mut self, index: u32, delta: InDelta, out: &mut Vec<Event>) {
        let block = self.blocks.get_mut(&index);
        match delta {
            InDelta::Text { text } if !text.is_empty() => out.push(Event::TextDelta(text)),
            InDelta::Thinking { thinking } if !thinking.is_empty() => out.push(Event::ThinkingDelta(thinking)),
            InDelta::Signature { signature } if !signature.is_empty() => out.push(Event::ThinkingSignature(signature)),
            InDelta::InputJson { partial_json } if !partial_json.is_empty() => {
                if let Some(Block::Tool { index, has_args }) = block {
                    *has_args = true;
                    out.push(Event::ToolArgsDelta { index: *index, json: partial_json });
                }
            }
            _ => {}
        }
    }
}
