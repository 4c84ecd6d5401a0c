//! Upstream Gemini `alt=sse` stream → neutral events (wire-formats §5.13 C).
//!
//! Every frame is a whole `GenerateContentResponse` carrying only the new parts. There is no
//! terminator: the stream is complete once a chunk says why it finished (`finishReason`, or a
//! `promptFeedback.blockReason` for a blocked prompt), and the upstream closing before that is a
//! failure. Function calls arrive whole, so each becomes a `ToolCallStart` and one
//! `ToolArgsDelta` with all its arguments. State kept across chunks: the tool-call counter and
//! id generator, whether any call was seen (a later `STOP` then means `ToolCalls`; pitfall 4),
//! and the last usage snapshot (repeated on most chunks; only changes are passed on).

use super::{CallIds, answer_part};
use crate::dialect::gemini::finish_reason;
use crate::dialect::gemini::types::{InResponse, InUsage};
use crate::error::{ApiError, ErrorKind};
use crate::llm::{Event, FinishReason, Part};
use crate::sse::SseFrame;

#[cfg(test)]
mod tests;

/// Decodes one upstream Gemini stream.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    /// `Start` went out (on the first chunk).
    started: bool,
    /// Ids for calls that come without one; made on the first chunk from its `responseId`.
    ids: CallIds,
    /// The neutral index of the next tool call.
    next_tool: u32,
    /// A function call was seen anywhere in the stream.
    called: bool,
    /// The last usage passed on.
    usage: Option<InUsage>,
    /// A finish reason or block reason arrived: the answer is complete. Later chunks may still
    /// update usage, but add no content and no second `Finish`.
    done: bool,
}

impl StreamDecoder {
    /// A decoder for one stream, before its first chunk.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a chunk said why the answer finished.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes one frame. `Err` ends the stream: the upstream sent an error object or a frame
    /// that is not a response chunk.
    pub fn push(&mut self, frame: &SseFrame) -> Result<Vec<Event>, ApiError> {
        let chunk: InResponse = serde_json::from_str(&frame.data).map_err(|err| {
            tracing::debug!(%err, "unparseable chunk in upstream Gemini stream");
            ApiError::new(ErrorKind::UpstreamFailed, "invalid stream event from upstream")
        })?;
        if let Some(error) = chunk.error {
            tracing::debug!(
                upstream_code = ?error.code,
                upstream_status = ?error.status,
                upstream_message = ?error.message,
                "upstream reported an error mid-stream"
            );
            return Err(upstream_error(error.status.as_deref(), error.code));
        }

        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            let id = chunk.response_id.clone().unwrap_or_default();
            self.ids = CallIds::new(&id);
            out.push(Event::Start { id, model: chunk.model_version.clone().unwrap_or_default() });
        }

        let candidate = chunk.candidates.and_then(|c| c.into_iter().next());
        let mut finish = None;
        if let Some(candidate) = candidate.filter(|_| !self.done) {
            for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
                match answer_part(part, &mut self.ids) {
                    Some(Part::Text { text, .. }) => out.push(Event::TextDelta(text)),
                    Some(Part::Thinking { text, signature }) => {
                        if !text.is_empty() {
                            out.push(Event::ThinkingDelta(text));
                        }
                        if let Some(signature) = signature {
                            out.push(Event::ThinkingSignature(signature));
                        }
                    }
                    Some(Part::ToolCall { id, name, arguments }) => {
                        let index = self.next_tool;
                        self.next_tool += 1;
                        self.called = true;
                        out.push(Event::ToolCallStart { index, id, name });
                        out.push(Event::ToolArgsDelta { index, json: arguments.to_string() });
                    }
                    // Generated images and the like have no stream event.
                    _ => {}
                }
            }
            if let Some(raw) = candidate.finish_reason {
                finish = Some((finish_reason(Some(&raw), self.called), raw));
            }
        } else if !self.done {
            if let Some(block) = chunk.prompt_feedback.and_then(|f| f.block_reason) {
                finish = Some((FinishReason::ContentFilter, block));
            }
        }

        if let Some(usage) = chunk.usage_metadata.filter(|u| self.usage.as_ref() != Some(u)) {
            self.usage = Some(usage);
            out.push(Event::Usage(crate::dialect::gemini::usage(&usage)));
        }
        if let Some((reason, native)) = finish {
            self.done = true;
            out.push(Event::Finish { reason, native: Some(native), stop_sequence: None });
        }
        Ok(out)
    }

    /// The upstream closed the stream. Fine once the answer said why it finished; otherwise it
    /// was cut short.
    pub fn finish(&mut self) -> Result<Vec<Event>, ApiError> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(ApiError::new(ErrorKind::UpstreamFailed, "upstream stream ended unexpectedly"))
        }
    }
}

/// An in-band error object → the error the client gets, with a fixed message (the upstream's
/// text may name hosts or accounts, so it only goes to debug logs).
fn upstream_error(status: Option<&str>, code: Option<u16>) -> ApiError {
    match (status, code) {
        (Some("RESOURCE_EXHAUSTED"), _) | (None, Some(429)) => {
            ApiError::new(ErrorKind::RateLimited, "upstream error during streaming (rate limited)")
        }
        (Some("UNAVAILABLE"), _) | (None, Some(503)) => {
            ApiError::new(ErrorKind::Unavailable, "upstream error during streaming (overloaded)")
        }
        (Some("DEADLINE_EXCEEDED"), _) | (None, Some(504)) => {
            ApiError::new(ErrorKind::UpstreamTimeout, "upstream error during streaming (timeout)")
        }
        _ => ApiError::new(ErrorKind::UpstreamFailed, "upstream error during streaming"),
    }
}
