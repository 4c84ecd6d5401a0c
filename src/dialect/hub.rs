//! The translation hub's dispatch: which format's `decode`/`encode` to use, chosen at run time
//! from the client's surface and the upstream's kind. A closed set, dispatched by `match`, so
//! adding a format adds one variant and its two converter modules.

use bytes::BytesMut;

use super::{Identity, InvalidResponse, Target, anthropic, gemini, openai};
use crate::error::ApiError;
use crate::llm::{self, Event};
use crate::providers::ProviderKind;
use crate::sse::SseFrame;

/// A wire format with a place in the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    OpenAi,
    Anthropic,
    Gemini,
}

impl Dialect {
    /// The format an upstream of this kind speaks; `None` for formats not in the hub yet.
    pub fn of(kind: ProviderKind) -> Option<Self> {
        match kind {
            ProviderKind::OpenAi => Some(Self::OpenAi),
            ProviderKind::Anthropic => Some(Self::Anthropic),
            ProviderKind::Gemini => Some(Self::Gemini),
        }
    }

    /// Whether this format's upstreams take media only as inline bytes (or their own file
    /// URIs), so the gateway must fetch client URLs first.
    pub fn needs_inline_media(self) -> bool {
        match self {
            Self::OpenAi | Self::Anthropic => false,
            Self::Gemini => true,
        }
    }

    /// What a client of this format is sent while the upstream is silent: a comment on the
    /// OpenAI surface, a `ping` event on the Anthropic one.
    pub fn keep_alive_frame(self) -> &'static [u8] {
        match self {
            Self::OpenAi => crate::sse::KEEP_ALIVE_COMMENT,
            Self::Anthropic => b"event: ping\ndata: {\"type\": \"ping\"}\n\n",
            // The google-genai SDK parses every non-blank line as JSON: blank lines only.
            Self::Gemini => gemini::encode::KEEP_ALIVE,
        }
    }

    /// A final error event in this format, for a same-format stream the upstream cut short.
    pub fn error_frame(self, err: &ApiError) -> bytes::Bytes {
        match self {
            Self::OpenAi => openai::stream::error_chunk("", "", 0, err),
            Self::Anthropic => format!("event: error\ndata: {}\n\n", err.anthropic_body()).into(),
            Self::Gemini => format!("data: {}\r\n\r\n", gemini::error_body(err)).into(),
        }
    }

    /// A client's body in this format → the neutral request; a 400 naming the field when invalid.
    pub fn decode_request(self, body: &[u8]) -> Result<llm::ChatRequest, ApiError> {
        match self {
            Self::OpenAi => openai::decode::request(body),
            Self::Anthropic => anthropic::decode::request(body),
            Self::Gemini => gemini::decode::request(body),
        }
    }

    /// The neutral request → this format's body for `target`; a 400 when the request holds
    /// something this format cannot carry (a non-text system prompt for Anthropic, say).
    pub fn encode_request(self, request: &llm::ChatRequest, target: Target<'_>) -> Result<Vec<u8>, ApiError> {
        match self {
            Self::OpenAi => openai::encode::request(request, target),
            Self::Anthropic => anthropic::encode::request(request, target),
            Self::Gemini => gemini::encode::request(request, target),
        }
    }

    /// An upstream's 2xx body in this format → the neutral answer; `InvalidResponse` (a 502) when
    /// it is not one.
    pub fn decode_response(self, body: &[u8]) -> Result<llm::ChatResponse, InvalidResponse> {
        match self {
            Self::OpenAi => openai::decode::response(body),
            Self::Anthropic => anthropic::decode::response(body),
            Self::Gemini => gemini::decode::response(body),
        }
    }

    /// The neutral answer → this format's body, with `who`'s id and model in place of the
    /// upstream's.
    pub fn encode_response(self, response: &llm::ChatResponse, who: Identity<'_>) -> Vec<u8> {
        match self {
            Self::OpenAi => openai::encode::response(response, who),
            Self::Anthropic => anthropic::encode::response(response, who),
            Self::Gemini => gemini::encode::response(response, who),
        }
    }

    /// A decoder for one upstream stream in this format. It is stateful: use one per stream.
    pub fn stream_decoder(self) -> StreamDecoder {
        match self {
            Self::OpenAi => StreamDecoder::OpenAi(openai::decode::StreamDecoder::new()),
            Self::Anthropic => StreamDecoder::Anthropic(anthropic::decode::StreamDecoder::new()),
            Self::Gemini => StreamDecoder::Gemini(gemini::decode::StreamDecoder::new()),
        }
    }

    /// `wants_usage_chunk` and `created` only matter to formats that have those notions.
    pub fn stream_encoder(self, who: Identity<'_>, wants_usage_chunk: bool, created: i64) -> StreamEncoder {
        match self {
            Self::OpenAi => StreamEncoder::OpenAi(openai::encode::StreamEncoder::new(who, wants_usage_chunk, created)),
            Self::Anthropic => StreamEncoder::Anthropic(anthropic::encode::StreamEncoder::new(who)),
            Self::Gemini => StreamEncoder::Gemini(gemini::encode::StreamEncoder::new(who)),
        }
    }
}

/// An upstream stream's decoder, whichever its format.
#[derive(Debug)]
pub enum StreamDecoder {
    OpenAi(openai::decode::StreamDecoder),
    Anthropic(anthropic::decode::StreamDecoder),
    Gemini(gemini::decode::StreamDecoder),
}

impl StreamDecoder {
    /// Decodes one upstream frame. An `Err` ends the stream: the upstream reported an error
    /// in-band or sent a frame that is not a stream event.
    pub fn push(&mut self, frame: &SseFrame) -> Result<Vec<Event>, ApiError> {
        match self {
            Self::OpenAi(d) => d.push(frame),
            Self::Anthropic(d) => d.push(frame),
            Self::Gemini(d) => d.push(frame),
        }
    }

    /// The upstream closed the stream: fine once it said the answer is complete, otherwise an
    /// `Err` (the answer was cut short).
    pub fn finish(&mut self) -> Result<Vec<Event>, ApiError> {
        match self {
            Self::OpenAi(d) => d.finish(),
            Self::Anthropic(d) => d.finish(),
            Self::Gemini(d) => d.finish(),
        }
    }

    /// Whether the upstream has said the answer is complete (`[DONE]`, `message_stop`, a Gemini
    /// finish reason), so that closing now is not a failure.
    pub fn is_done(&self) -> bool {
        match self {
            Self::OpenAi(d) => d.is_done(),
            Self::Anthropic(d) => d.is_done(),
            Self::Gemini(d) => d.is_done(),
        }
    }
}

/// A client stream's encoder, whichever its format.
#[derive(Debug)]
pub enum StreamEncoder {
    OpenAi(openai::encode::StreamEncoder),
    Anthropic(anthropic::encode::StreamEncoder),
    Gemini(gemini::encode::StreamEncoder),
}

impl StreamEncoder {
    /// Appends the client's frames for one event to `out`. Some write nothing yet: Anthropic
    /// holds the stop reason for `finish`, Gemini holds a tool call until it is whole.
    pub fn push(&mut self, event: &Event, out: &mut BytesMut) {
        match self {
            Self::OpenAi(e) => e.push(event, out),
            Self::Anthropic(e) => e.push(event, out),
            Self::Gemini(e) => e.push(event, out),
        }
    }

    /// Appends the closing frames after a stream that ended cleanly: whatever was held (stop
    /// reason, usage) and any terminator.
    pub fn finish(&mut self, out: &mut BytesMut) {
        match self {
            Self::OpenAi(e) => e.finish(out),
            Self::Anthropic(e) => e.finish(out),
            Self::Gemini(e) => e.finish(out),
        }
    }

    /// Appends a final error event in the client's format; nothing is written after it.
    pub fn error(&mut self, err: &ApiError, out: &mut BytesMut) {
        match self {
            Self::OpenAi(e) => e.error(err, out),
            Self::Anthropic(e) => e.error(err, out),
            Self::Gemini(e) => e.error(err, out),
        }
    }
}
