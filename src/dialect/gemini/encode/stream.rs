//! Neutral stream events → `alt=sse` chunks for a client of `:streamGenerateContent`
//! (wire-formats §5.13 E/F).
//!
//! Every frame is `data: <GenerateContentResponse>\r\n\r\n`, as Google writes them, with
//! `modelVersion` (the public model id) and `responseId` (the gateway's id) on each. Text and
//! reasoning go out as they come, one chunk per delta (reasoning as `thought: true` parts; a
//! thinking signature as an empty thought part carrying it). Gemini clients expect whole
//! function calls, so argument fragments are buffered per call and the call is written as one
//! `functionCall` part once it is complete: when the next call or other content starts (which
//! keeps the order of the answer), on `Finish`, or at the end. Sources stream a call's fragments
//! before anything else, so fragments for a call already written are dropped. The finish reason and the usage go in
//! one last chunk from `finish()`, whose content is an empty text part (what Gemini itself sends
//! when the reason comes after the content). There is no terminator: the body just ends.

use std::collections::BTreeMap;

use bytes::{BufMut, BytesMut};
use serde::Serialize;
use serde_json::{Value, json};

use super::function_call;
use crate::dialect::Identity;
use crate::dialect::gemini::types::{OutCandidate, OutContent, OutPart, OutResponse};
use crate::dialect::gemini::{error_body, finish_reason_to_wire, signature_to_wire, usage_to_wire};
use crate::error::ApiError;
use crate::llm::{Event, FinishReason};
use crate::usage::Usage;

#[cfg(test)]
mod tests;

/// What the HTTP glue sends while the upstream is silent: a blank line, the only thing the
/// google-genai SDK (which parses every other line as JSON) ignores (DESIGN §3).
pub const KEEP_ALIVE: &[u8] = b"\r\n";

/// A tool call whose arguments are still arriving.
#[derive(Debug)]
struct Call {
    id: String,
    name: String,
    /// Argument fragments so far.
    json: String,
}

/// Encodes one stream for a client of the Gemini surface.
#[derive(Debug)]
pub struct StreamEncoder {
    /// The gateway's generation id, as every chunk's `responseId`.
    id: String,
    /// The public model id, as every chunk's `modelVersion`.
    model: String,
    /// Calls not written yet, by neutral index.
    calls: BTreeMap<u32, Call>,
    /// From `Finish`, for the last chunk.
    reason: Option<FinishReason>,
    /// The latest cumulative usage.
    usage: Usage,
    /// The last chunk or an error went out; nothing may follow.
    ended: bool,
}

impl StreamEncoder {
    /// An encoder for one stream; every chunk carries `who`'s id and model.
    pub fn new(who: Identity<'_>) -> Self {
        Self {
            id: who.id.to_owned(),
            model: who.model.to_owned(),
            calls: BTreeMap::new(),
            reason: None,
            usage: Usage::default(),
            ended: false,
        }
    }

    /// Appends the chunk(s) for one event.
    pub fn push(&mut self, event: &Event, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        match event {
            Event::Start { .. } => {}
            Event::TextDelta(text) if !text.is_empty() => {
                self.flush_calls(out);
                self.chunk(vec![OutPart::text(text.as_str())], out)
            }
            Event::ThinkingDelta(text) if !text.is_empty() => {
                self.flush_calls(out);
                self.chunk(vec![OutPart::thought(text.as_str(), None)], out)
            }
            Event::TextDelta(_) | Event::ThinkingDelta(_) => {}
            Event::ThinkingSignature(signature) => {
                self.flush_calls(out);
                self.chunk(vec![OutPart::thought("", Some(signature_to_wire(signature)))], out)
            }
            Event::ToolCallStart { index, id, name } => {
                self.flush_calls(out);
                self.calls.insert(*index, Call { id: id.clone(), name: name.clone(), json: String::new() });
            }
            Event::ToolArgsDelta { index, json } => {
                if let Some(call) = self.calls.get_mut(index) {
                    call.json.push_str(json);
                }
            }
            Event::Usage(usage) => self.usage = *usage,
            Event::Finish { reason, .. } => {
                self.flush_calls(out);
                self.reason = Some(*reason);
            }
        }
    }

    /// The normal end: any buffered call, then the last chunk with the finish reason (`STOP`
    /// when none came) and the usage.
    pub fn finish(&mut self, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        self.flush_calls(out);
        let reason = self.reason.unwrap_or(FinishReason::Stop);
        let chunk = OutResponse {
            candidates: [OutCandidate {
                content: OutContent { parts: vec![OutPart::text("")], role: "model" },
                finish_reason: Some(finish_reason_to_wire(reason)),
                index: 0,
            }],
            usage_metadata: Some(usage_to_wire(&self.usage)),
            model_version: &self.model,
            response_id: &self.id,
        };
        write(out, &chunk);
        self.ended = true;
    }

    /// A mid-stream failure: one chunk holding Google's error object, and nothing after it (a
    /// call still buffered may be incomplete and is dropped).
    pub fn error(&mut self, err: &ApiError, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        write(out, &error_body(err));
        self.ended = true;
    }

    /// Writes every buffered call, in index order, as one chunk.
    fn flush_calls(&mut self, out: &mut BytesMut) {
        if self.calls.is_empty() {
            return;
        }
        let calls = std::mem::take(&mut self.calls);
        let args: Vec<(&Call, Value)> = calls.values().map(|call| (call, arguments(&call.json))).collect();
        let parts = args.iter().map(|(call, args)| function_call(&call.id, &call.name, args)).collect();
        self.chunk(parts, out);
    }

    fn chunk(&self, parts: Vec<OutPart<'_>>, out: &mut BytesMut) {
        let chunk = OutResponse {
            candidates: [OutCandidate { content: OutContent { parts, role: "model" }, finish_reason: None, index: 0 }],
            usage_metadata: None,
            model_version: &self.model,
            response_id: &self.id,
        };
        write(out, &chunk);
    }
}

/// A call's buffered argument text as the object Gemini clients expect: `{}` when empty, and
/// text that is not a JSON object kept under `_raw` rather than lost.
fn arguments(json: &str) -> Value {
    if json.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(json) {
        Ok(object @ Value::Object(_)) => object,
        _ => json!({ "_raw": json }),
    }
}

fn write(out: &mut BytesMut, data: &impl Serialize) {
    out.put_slice(b"data: ");
    serde_json::to_writer((&mut *out).writer(), data).expect("wire types serialise");
    out.put_slice(b"\r\n\r\n");
}
