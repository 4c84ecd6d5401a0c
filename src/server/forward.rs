//! Forwarding an upstream answer to the client: whole JSON bodies (`forward_json`) and SSE
//! streams (`UpstreamEvents` in, `relay` out), with metering on the way through.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};

use super::meter::{EventTap, Meter, StreamMeter};
use crate::dialect::hub::Dialect;
use crate::dialect::openai::StreamRewriter;
use crate::dialect::openai::response::{Identity, InvalidResponse, Rewritten};
use crate::dialect::openai::stream::{Metered, Step};
use crate::error::{ApiError, ErrorKind};
use crate::providers::UpstreamClient;
use crate::sse::{self, SseDecoder, SseFrame};

/// Reads a whole upstream JSON answer, rewrites it, settles it, and builds the response.
pub async fn forward_json(
    mut meter: Meter,
    client: &UpstreamClient<'_>,
    response: reqwest::Response,
    prompt_bytes: usize,
    rewrite: fn(&[u8], Identity<'_>) -> Result<Rewritten, InvalidResponse>,
) -> Result<Response, ApiError> {
    let upstream = client.read_body(response).await.map_err(|err| meter.fail(err))?;
    let who =
        Identity { id: &meter.id, model: &meter.route.model, pricing: meter.route.pricing.as_ref(), prompt_bytes };
    let rewritten = rewrite(&upstream, who).map_err(|invalid| meter.fail(invalid))?;
    let metered = Metered {
        usage: rewritten.usage,
        estimated: rewritten.estimated,
        cost_nano: rewritten.cost_nano,
        finish_reason: rewritten.finish_reason,
    };
    Ok(meter.answer(metered, rewritten.body))
}

/// A 200 event-stream response for `body`, with the generation id and no proxy buffering.
pub fn sse_response(generation_id: &str, body: Body) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no")),
            (GENERATION_ID, generation_header(generation_id)),
        ],
        body,
    )
        .into_response()
}

/// Header carrying the generation id on every inference response.
pub const GENERATION_ID: header::HeaderName = header::HeaderName::from_static("x-generation-id");

pub fn generation_header(id: &str) -> HeaderValue {
    HeaderValue::from_str(id).expect("generation ids are ASCII")
}

/// The upstream's SSE frames, decoded incrementally.
pub struct UpstreamEvents {
    bytes: std::pin::Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    decoder: SseDecoder,
    ready: std::collections::VecDeque<SseFrame>,
    scratch: Vec<SseFrame>,
}

/// Why the upstream stream stopped early.
#[derive(Debug)]
pub enum UpstreamBroken {
    Transport,
    Garbage,
}

impl UpstreamEvents {
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            bytes: Box::pin(response.bytes_stream()),
            decoder: SseDecoder::default(),
            ready: Default::default(),
            scratch: Vec::new(),
        }
    }

    /// The next frame; `Ok(None)` when the upstream closed the stream.
    pub async fn next_frame(&mut self) -> Result<Option<SseFrame>, UpstreamBroken> {
        loop {
            if let Some(frame) = self.ready.pop_front() {
                return Ok(Some(frame));
            }
            match self.bytes.next().await {
                None => return Ok(None),
                Some(Err(err)) => {
                    tracing::debug!(error = %err.without_url(), "upstream stream broke");
                    return Err(UpstreamBroken::Transport);
                }
                Some(Ok(chunk)) => {
                    self.decoder.push(&chunk, &mut self.scratch).map_err(|_| UpstreamBroken::Garbage)?;
                    self.ready.extend(self.scratch.drain(..));
                }
            }
        }
    }
}

/// Forwards the rewritten stream, with a keep-alive comment after each `keep_alive` of
/// upstream silence. Dropping it (client gone) drops the upstream response,
/// which closes the upstream connection, and the `StreamMeter` records what was used.
pub fn relay(
    mut stream: StreamMeter<StreamRewriter>,
    mut upstream: UpstreamEvents,
    first: Step,
    keep_alive: Duration,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    async_stream::stream! {
        let mut step = Some(first);
        loop {
            if let Some(current) = step.take() {
                match current {
                    Step::Forward(bytes) => {
                        if !bytes.is_empty() {
                            yield Ok(bytes);
                        }
                    }
                    Step::Done(bytes) => {
                        yield Ok(bytes);
                        stream.finish(200);
                        return;
                    }
                    Step::Failed(bytes, _err) => {
                        yield Ok(bytes);
                        stream.finish(200);
                        return;
                    }
                }
            }
            match tokio::time::timeout(keep_alive, upstream.next_frame()).await {
                Err(_silent) => yield Ok(Bytes::from_static(sse::KEEP_ALIVE_COMMENT)),
                Ok(Ok(Some(frame))) => step = Some(stream.source.push(&frame)),
                Ok(Ok(None)) | Ok(Err(UpstreamBroken::Transport)) => {
                    let (bytes, _err) = stream.source.cut_short();
                    yield Ok(bytes);
                    stream.finish(200);
                    return;
                }
                Ok(Err(UpstreamBroken::Garbage)) => {
                    let err = ApiError::new(ErrorKind::UpstreamFailed, "invalid stream from upstream");
                    yield Ok(stream.source.error_chunk(&err));
                    stream.finish(200);
                    return;
                }
            }
        }
    }
}

/// Same-format streams: forwards upstream bytes as they arrive, untouched, and meters them from
/// the decoded events. A stream the upstream cut short gets a final error in `dialect`'s shape.
pub fn tap_passthrough(
    mut watched: StreamMeter<EventTap>,
    response: reqwest::Response,
    dialect: Dialect,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    async_stream::stream! {
        let mut bytes = response.bytes_stream();
        let mut frames = SseDecoder::default();
        let mut decoder = dialect.stream_decoder();
        let mut scratch: Vec<SseFrame> = Vec::new();
        let mut failed = false;
        while let Some(chunk) = bytes.next().await {
            let Ok(chunk) = chunk else { break };
            if frames.push(&chunk, &mut scratch).is_err() {
                break;
            }
            yield Ok(chunk);
            for frame in scratch.drain(..) {
                match decoder.push(&frame) {
                    Ok(events) => events.iter().for_each(|e| watched.source.observe(e)),
                    // The upstream's own error event has already been forwarded as it was.
                    Err(_) => failed = true,
                }
            }
            if failed || decoder.is_done() {
                break;
            }
        }
        if failed {
            watched.source.failed();
        } else if let Err(err) = decoder.finish() {
            watched.source.failed();
            yield Ok(dialect.error_frame(&err));
        }
        watched.finish(200);
    }
}
