//! Neutral stream events → Anthropic SSE for a client of `/v1/messages` (wire-formats §5.13 B).
//!
//! Every frame is `event: <type>\ndata: <json>\n\n` with the `type` in the data repeating the
//! event name. Blocks open lazily (a text block on the first text, a thinking block on the first
//! reasoning, a tool block on each tool call) and one block is open at a time, as the API does.
//! `Finish` closes the open block but the `message_delta` is held until `finish()`, because in
//! OpenAI-sourced streams the final usage arrives after the finish reason.

use std::borrow::Cow;
use std::collections::HashMap;

use bytes::{BufMut, BytesMut};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{stop_reason, tool_id, usage};
use crate::dialect::Identity;
use crate::dialect::anthropic::types::{
    OutBlock, OutDelta, OutDeltaUsage, OutEvent, OutMessageBody, OutStop, OutUsage,
};
use crate::error::ApiError;
use crate::llm::{Event, FinishReason};
use crate::usage::Usage;

#[cfg(test)]
mod tests;

/// The keep-alive the HTTP glue sends while the upstream is silent (DESIGN §3); Anthropic
/// clients ignore it.
pub const PING: &[u8] = b"event: ping\ndata: {\"type\":\"ping\"}\n\n";

/// The kind of the block that is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    /// `signed` once a signature went out: the block is complete and more reasoning needs a
    /// new one.
    Thinking {
        signed: bool,
    },
    Tool,
}

/// Encodes one stream for a client of `/v1/messages`.
#[derive(Debug)]
pub struct StreamEncoder {
    /// The gateway's generation id, used as the message id.
    id: String,
    /// The public model id.
    model: String,
    /// `message_start` went out.
    started: bool,
    /// The open block and its index, if any.
    open: Option<(u32, Open)>,
    /// The index the next block gets.
    next_block: u32,
    /// Neutral tool index → block index, for argument fragments.
    tool_blocks: HashMap<u32, u32>,
    /// Any tool call was streamed: the stop reason is then `tool_use` whatever the upstream said.
    calls_tool: bool,
    /// From `Finish`, held for the final `message_delta`.
    stop: Option<(FinishReason, Option<String>)>,
    /// The latest cumulative usage.
    usage: Usage,
    /// `message_stop` or `error` went out; nothing may follow.
    ended: bool,
}

impl StreamEncoder {
    /// An encoder for one stream; `message_start` carries `who`'s id and model.
    pub fn new(who: Identity<'_>) -> Self {
        Self {
            id: who.id.to_owned(),
            model: who.model.to_owned(),
            started: false,
            open: None,
            next_block: 0,
            tool_blocks: HashMap::new(),
            calls_tool: false,
            stop: None,
            usage: Usage::default(),
            ended: false,
        }
    }

    /// Appends the frames for one event.
    pub fn push(&mut self, event: &Event, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        match event {
            Event::Start { .. } => self.start(out),
            Event::TextDelta(text) => {
                if text.is_empty() {
                    return;
                }
                let index = self.ensure_open(Open::Text, out);
                write(out, &OutEvent::ContentBlockDelta { index, delta: OutDelta::Text { text } });
            }
            Event::ThinkingDelta(thinking) => {
                if thinking.is_empty() {
                    return;
                }
                let index = self.ensure_open(Open::Thinking { signed: false }, out);
                write(out, &OutEvent::ContentBlockDelta { index, delta: OutDelta::Thinking { thinking } });
            }
            Event::ThinkingSignature(signature) => {
                let index = self.ensure_open(Open::Thinking { signed: false }, out);
                self.open = Some((index, Open::Thinking { signed: true }));
                write(out, &OutEvent::ContentBlockDelta { index, delta: OutDelta::Signature { signature } });
            }
            Event::ToolCallStart { index: tool, id, name } => {
                self.close(out);
                self.start(out);
                let index = self.next_block;
                self.next_block += 1;
                self.open = Some((index, Open::Tool));
                self.tool_blocks.insert(*tool, index);
                self.calls_tool = true;
                let input = Cow::Owned(Value::Object(Map::new()));
                let content_block = OutBlock::ToolUse { id: tool_id(id), name, input };
                write(out, &OutEvent::ContentBlockStart { index, content_block });
            }
            Event::ToolArgsDelta { index: tool, json } => {
                // A fragment for a call whose block already closed (interleaved parallel calls)
                // still goes to that call's block, so no argument text is lost.
                if let Some(&index) = self.tool_blocks.get(tool).filter(|_| !json.is_empty()) {
                    write(
                        out,
                        &OutEvent::ContentBlockDelta { index, delta: OutDelta::InputJson { partial_json: json } },
                    );
                }
            }
            Event::Usage(usage) => self.usage = *usage,
            Event::Finish { reason, stop_sequence, .. } => {
                self.close(out);
                self.stop = Some((*reason, stop_sequence.clone()));
            }
        }
    }

    /// The normal end: closes the open block, then `message_delta` (stop reason and final usage)
    /// and `message_stop`.
    pub fn finish(&mut self, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        self.start(out);
        self.close(out);
        let (reason, stop_sequence) = self.stop.take().unwrap_or((FinishReason::Stop, None));
        let OutUsage { input_tokens, cache_creation_input_tokens, cache_read_input_tokens, output_tokens } =
            usage(&self.usage);
        let delta = OutStop {
            stop_reason: stop_reason(reason, stop_sequence.is_some(), self.calls_tool),
            stop_sequence: stop_sequence.as_deref(),
        };
        let usage = OutDeltaUsage { output_tokens, input_tokens, cache_read_input_tokens, cache_creation_input_tokens };
        write(out, &OutEvent::MessageDelta { delta, usage });
        write(out, &OutEvent::MessageStop);
        self.ended = true;
    }

    /// A mid-stream failure: one `error` event in Anthropic's shape, and nothing after it.
    pub fn error(&mut self, err: &ApiError, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        write_frame(out, "error", &err.anthropic_body());
        self.ended = true;
    }

    /// `message_start`, once. Usage is unknown this early: all zeros, cache fields included, so
    /// clients see that caching is reported.
    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let message = OutMessageBody {
            id: &self.id,
            kind: "message",
            role: "assistant",
            model: &self.model,
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: OutUsage::default(),
        };
        write(out, &OutEvent::MessageStart { message });
    }

    /// The index of an open block of `kind`, opening one (and closing another) if needed.
    fn ensure_open(&mut self, kind: Open, out: &mut BytesMut) -> u32 {
        match self.open {
            Some((index, open)) if open == kind => return index,
            _ => {}
        }
        self.close(out);
        self.start(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((index, kind));
        let content_block = match kind {
            Open::Text => OutBlock::Text { text: Cow::Borrowed(""), cache_control: None },
            Open::Thinking { .. } => OutBlock::Thinking { thinking: "", signature: "" },
            Open::Tool => unreachable!("tool blocks are opened by ToolCallStart"),
        };
        write(out, &OutEvent::ContentBlockStart { index, content_block });
        index
    }

    fn close(&mut self, out: &mut BytesMut) {
        if let Some((index, _)) = self.open.take() {
            write(out, &OutEvent::ContentBlockStop { index });
        }
    }
}

fn write(out: &mut BytesMut, event: &OutEvent<'_>) {
    write_frame(out, event.name(), event);
}

fn write_frame(out: &mut BytesMut, name: &str, data: &impl Serialize) {
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\ndata: ");
    serde_json::to_writer((&mut *out).writer(), data).expect("wire types serialise");
    out.put_slice(b"\n\n");
}
