//! Neutral events → `chat.completion.chunk`s for a client of `/v1/chat/completions`, in
//! OpenRouter's flavour: every choice carries `finish_reason` (null until the end) and
//! `native_finish_reason`; reasoning goes in `delta.reasoning`; usage (with `cost`) comes once,
//! in a last chunk with `choices: []`, before `data: [DONE]`.

use bytes::{BufMut, BytesMut};
use serde::Serialize;

use crate::dialect::Identity;
use crate::dialect::openai::stream::error_chunk;
use crate::dialect::openai::usage;
use crate::error::ApiError;
use crate::llm::{Event, FinishReason};
use crate::sse;
use crate::usage::{Pricing, Usage};

/// Writes OpenAI chunks for neutral events. Stateful, fed one event at a time.
#[derive(Debug)]
pub struct StreamEncoder {
    id: String,
    model: String,
    created: i64,
    pricing: Option<Pricing>,
    /// Whether the client gets the final `choices: []` usage chunk.
    wants_usage_chunk: bool,
    /// The `role: assistant` chunk went out (it always comes first).
    started: bool,
    /// A chunk with a `finish_reason` went out; `finish` adds one only if not.
    finished: bool,
    /// A tool call started: a synthesised finish says `tool_calls`.
    saw_tool_call: bool,
    /// The latest usage snapshot (each `Event::Usage` replaces it).
    usage: Option<Usage>,
    /// `[DONE]` or an error chunk went out; nothing may follow.
    closed: bool,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: &'a [ChunkChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<usage::Rendered>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    /// Present on every choice, `null` until the end (the OpenRouter SDK requires the key).
    finish_reason: Option<&'static str>,
    native_finish_reason: Option<&'a str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

impl StreamEncoder {
    /// `created` is the unix time every chunk carries.
    pub fn new(who: Identity<'_>, wants_usage_chunk: bool, created: i64) -> Self {
        Self {
            id: who.id.to_owned(),
            model: who.model.to_owned(),
            created,
            pricing: who.pricing.copied(),
            wants_usage_chunk,
            started: false,
            finished: false,
            saw_tool_call: false,
            usage: None,
            closed: false,
        }
    }

    /// Appends the chunk(s) for one event to `out` (nothing for `Usage`, which is held for the
    /// end, and for thinking signatures, which OpenAI clients have no field for).
    pub fn push(&mut self, event: &Event, out: &mut BytesMut) {
        if self.closed {
            return;
        }
        match event {
            Event::Start { .. } => self.start(out),
            Event::TextDelta(text) if !text.is_empty() => {
                self.delta(Delta { content: Some(text), ..Delta::default() }, out);
            }
            Event::ThinkingDelta(text) if !text.is_empty() => {
                self.delta(Delta { reasoning: Some(text), ..Delta::default() }, out);
            }
            Event::TextDelta(_) | Event::ThinkingDelta(_) | Event::ThinkingSignature(_) => {}
            Event::ToolCallStart { index, id, name } => {
                self.saw_tool_call = true;
                let call = ToolCallDelta {
                    index: *index,
                    id: Some(id),
                    kind: Some("function"),
                    function: FunctionDelta { name: Some(name), arguments: "" },
                };
                self.delta(Delta { tool_calls: Some([call]), ..Delta::default() }, out);
            }
            Event::ToolArgsDelta { index, json } => {
                let call = ToolCallDelta {
                    index: *index,
                    id: None,
                    kind: None,
                    function: FunctionDelta { name: None, arguments: json },
                };
                self.delta(Delta { tool_calls: Some([call]), ..Delta::default() }, out);
            }
            Event::Usage(usage) => self.usage = Some(*usage),
            // One finish chunk per stream, even if a source repeats itself.
            Event::Finish { .. } if self.finished => {}
            Event::Finish { reason, native, .. } => self.finish_chunk(*reason, native.as_deref(), out),
        }
    }

    /// The normal end: a finish chunk if none went out, the usage chunk (when wanted), then
    /// `data: [DONE]`. Push an `Event::Usage` first (an estimate if need be) to report usage;
    /// without one the chunk reports zeros.
    pub fn finish(&mut self, out: &mut BytesMut) {
        if self.closed {
            return;
        }
        if !self.finished {
            let reason = if self.saw_tool_call { FinishReason::ToolCalls } else { FinishReason::Stop };
            self.finish_chunk(reason, None, out);
        }
        if self.wants_usage_chunk {
            let usage = self.usage.unwrap_or_default();
            let cost = self.pricing.map_or(0, |p| p.cost(&usage));
            self.write(&[], Some(usage::render(&usage, cost)), out);
        }
        out.put_slice(sse::DONE);
        self.closed = true;
    }

    /// The stream failed after it started: OpenRouter's error chunk, and nothing after it.
    pub fn error(&mut self, err: &ApiError, out: &mut BytesMut) {
        if self.closed {
            return;
        }
        out.put_slice(&error_chunk(&self.id, &self.model, self.created, err));
        self.closed = true;
    }

    fn start(&mut self, out: &mut BytesMut) {
        if !self.started {
            self.started = true;
            let delta = Delta { role: Some("assistant"), content: Some(""), ..Delta::default() };
            self.write(&[ChunkChoice { index: 0, delta, finish_reason: None, native_finish_reason: None }], None, out);
        }
    }

    fn delta(&mut self, delta: Delta<'_>, out: &mut BytesMut) {
        self.start(out);
        self.write(&[ChunkChoice { index: 0, delta, finish_reason: None, native_finish_reason: None }], None, out);
    }

    fn finish_chunk(&mut self, reason: FinishReason, native: Option<&str>, out: &mut BytesMut) {
        self.start(out);
        self.finished = true;
        let choice = ChunkChoice {
            index: 0,
            delta: Delta::default(),
            finish_reason: Some(reason.as_openai()),
            native_finish_reason: native,
        };
        self.write(&[choice], None, out);
    }

    fn write(&self, choices: &[ChunkChoice<'_>], usage: Option<usage::Rendered>, out: &mut BytesMut) {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage,
        };
        out.put_slice(b"data: ");
        serde_json::to_writer((&mut *out).writer(), &chunk).expect("chunk serialises");
        out.put_slice(b"\n\n");
    }
}

#[cfg(test)]
mod tests;
