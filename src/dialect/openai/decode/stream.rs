//! An upstream's OpenAI-format SSE stream → `llm::Event`s, one frame at a time.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::finish_reason;
use crate::dialect::openai::stream::{ended_unexpectedly, invalid_event, upstream_error};
use crate::dialect::openai::usage;
use crate::error::ApiError;
use crate::llm::Event;
use crate::sse::SseFrame;

/// Turns `chat.completion.chunk`s into neutral events. Only choice 0 is read (requests are
/// sent with one choice).
#[derive(Debug, Default)]
pub struct StreamDecoder {
    /// `Start` was emitted (it comes once, before anything else).
    started: bool,
    /// The upstream's response id, for ids of tool calls that arrive without one.
    id: String,
    /// Tool calls in the order they started; their position is the neutral index.
    calls: Vec<Call>,
    /// `Finish` was emitted; a repeated `finish_reason` is ignored.
    finished: bool,
    /// `[DONE]` arrived; anything after it is ignored.
    done: bool,
}

/// A tool call seen so far, keyed by what the upstream identifies it with.
#[derive(Debug)]
struct Call {
    /// The upstream's `index` (indexes may be sparse, or missing on some backends).
    upstream_index: Option<u64>,
    id: String,
}

#[derive(Deserialize)]
struct Chunk<'a> {
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(borrow)]
    usage: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Choice {
    index: Option<u64>,
    delta: Option<Delta>,
    finish_reason: Option<String>,
    native_finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
    refusal: Option<String>,
    reasoning: Option<String>,
    reasoning_content: Option<String>,
    reasoning_details: Option<Vec<Value>>,
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    index: Option<u64>,
    id: Option<String>,
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    name: Option<String>,
    /// A string fragment; a few backends send a whole object.
    arguments: Option<Value>,
}

impl StreamDecoder {
    /// A decoder for one stream, before its first chunk.
    pub fn new() -> Self {
        Self::default()
    }

    /// `[DONE]` was seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Handles one frame. An `Err` ends the stream: the upstream reported an error in-band
    /// (the client is told only "upstream error during streaming") or sent something that is
    /// not a chunk.
    pub fn push(&mut self, frame: &SseFrame) -> Result<Vec<Event>, ApiError> {
        if self.done {
            return Ok(Vec::new());
        }
        let data = frame.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(Vec::new());
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|_| invalid_event())?;
        if let Some(error) = chunk.error.filter(|e| e.get() != "null") {
            return Err(upstream_error(error));
        }
        if frame.event.as_deref() == Some("error") {
            return Err(upstream_error(RawValue::NULL));
        }
        let mut events = Vec::new();
        if !self.started {
            self.started = true;
            self.id = chunk.id.clone().unwrap_or_default();
            events.push(Event::Start { id: self.id.clone(), model: chunk.model.unwrap_or_default() });
        }
        // The usage chunk has `choices: []`; choices other than 0 are not ours.
        let choice = chunk.choices.into_iter().flatten().find(|c| c.index.unwrap_or(0) == 0);
        if let Some(choice) = choice {
            if let Some(delta) = choice.delta {
                self.delta(delta, &mut events);
            }
            if let Some(raw) = choice.finish_reason.filter(|_| !self.finished) {
                self.finished = true;
                events.push(Event::Finish {
                    reason: finish_reason(Some(&raw), !self.calls.is_empty()),
                    native: Some(choice.native_finish_reason.unwrap_or(raw)),
                    stop_sequence: None,
                });
            }
        }
        if let Some(usage) = chunk.usage.and_then(usage::parse) {
            events.push(Event::Usage(usage));
        }
        Ok(events)
    }

    /// The upstream closed the stream: fine after `[DONE]`, otherwise the answer was cut short.
    pub fn finish(&mut self) -> Result<Vec<Event>, ApiError> {
        if self.done { Ok(Vec::new()) } else { Err(ended_unexpectedly()) }
    }

    fn delta(&mut self, delta: Delta, events: &mut Vec<Event>) {
        let thinking = delta.reasoning.or(delta.reasoning_content).filter(|t| !t.is_empty());
        let details = delta.reasoning_details.unwrap_or_default();
        match thinking {
            Some(text) => events.push(Event::ThinkingDelta(text)),
            // OpenRouter repeats `reasoning` in `reasoning_details`; read the text from there
            // only when it came alone.
            None => events.extend(
                details
                    .iter()
                    .filter_map(|d| d.get("text").and_then(Value::as_str))
                    .filter(|t| !t.is_empty())
                    .map(|t| Event::ThinkingDelta(t.to_owned())),
            ),
        }
        events.extend(
            details
                .iter()
                .filter_map(|d| d.get("signature").and_then(Value::as_str))
                .filter(|s| !s.is_empty())
                .map(|s| Event::ThinkingSignature(s.to_owned())),
        );
        for text in [delta.content, delta.refusal].into_iter().flatten() {
            if !text.is_empty() {
                events.push(Event::TextDelta(text));
            }
        }
        for call in delta.tool_calls.into_iter().flatten() {
            self.tool_call(call, events);
        }
    }

    /// A tool-call fragment: a new `index` (or a new `id` at a known index) starts a call;
    /// arguments in the same fragment follow as a delta (some backends bundle name and args).
    fn tool_call(&mut self, call: ToolCallDelta, events: &mut Vec<Event>) {
        let id = call.id.filter(|id| !id.is_empty());
        let known = match call.index {
            Some(i) => self.calls.iter().rposition(|c| c.upstream_index == Some(i)),
            None => match &id {
                Some(id) => self.calls.iter().rposition(|c| &c.id == id),
                None => self.calls.len().checked_sub(1),
            },
        };
        let known = known.filter(|&k| id.as_ref().is_none_or(|id| *id == self.calls[k].id));
        let (name, arguments) = match call.function {
            Some(f) => (f.name, f.arguments),
            None => (None, None),
        };
        let index = match known {
            Some(k) => k,
            None => {
                let index = self.calls.len();
                let id = id.unwrap_or_else(|| format!("call_{index}_{}", self.id));
                self.calls.push(Call { upstream_index: call.index, id: id.clone() });
                events.push(Event::ToolCallStart { index: index as u32, id, name: name.unwrap_or_default() });
                index
            }
        };
        let json = match arguments {
            Some(Value::String(s)) => s,
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        if !json.is_empty() {
            events.push(Event::ToolArgsDelta { index: index as u32, json });
        }
    }
}

#[cfg(test)]
mod tests;
