//! Forwarding an upstream stream to the client: peeked at before the client sees a byte
//! (`Peeked`), decoded (`UpstreamEvents`), relayed (`relay`, `tap_passthrough`) with metering,
//! keep-alives, and the idle and total limits on the way through.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::BytesMut;
use tokio::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{FutureExt, Stream, StreamExt};

use super::meter::{EventTap, StreamMeter};
use crate::dialect::hub::Dialect;
use crate::dialect::openai::StreamRewriter;
use crate::dialect::openai::stream::Step;
use crate::error::{ApiError, ErrorKind};
use crate::providers::{ProviderError, TransportError, UpstreamResponse};
use crate::routing::{Failure, FailureClass};
use crate::sse::{self, SseDecoder, SseFrame};
use crate::state::AppState;

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

/// The upstream's body as a stream of byte chunks.
type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, TransportError>> + Send>>;

/// An upstream stream read up to its first complete event and checked for an in-band error,
/// while nothing has been sent to the client, so that a failure there can still be retried or
/// sent to another candidate. The bytes read so far are replayed to whoever consumes it.
pub struct Peeked {
    pub headers: HeaderMap,
    head: Bytes,
    rest: ByteStream,
}

impl Peeked {
    /// Reads `response` until at least one whole event arrived, by `first_byte_by` (the first
    /// byte's deadline, counted from when the request was sent), else a timeout. An event the
    /// `dialect`'s decoder refuses (the upstream's own `error` event, or garbage) is a failure.
    pub async fn read(
        response: UpstreamResponse,
        dialect: Dialect,
        provider: &str,
        first_byte_by: Instant,
    ) -> Result<Self, Failure> {
        match tokio::time::timeout_at(first_byte_by, Self::read_first_event(response, dialect, provider)).await {
            Ok(peeked) => peeked,
            Err(_) => Err(ProviderError::Timeout { provider: provider.to_owned() }.into()),
        }
    }

    async fn read_first_event(response: UpstreamResponse, dialect: Dialect, provider: &str) -> Result<Self, Failure> {
        let headers = response.headers().clone();
        let mut rest: ByteStream = Box::pin(response.bytes_stream());
        let mut head = BytesMut::new();
        let mut frames = SseDecoder::default();
        let mut scratch = Vec::new();
        let mut decoder = dialect.stream_decoder();
        loop {
            match rest.next().await {
                None => {
                    let err = ApiError::new(
                        ErrorKind::UpstreamFailed,
                        "upstream request failed: the stream ended before any event",
                    );
                    return Err(Failure::new(err, FailureClass::Upstream));
                }
                Some(Err(err)) => return Err(ProviderError::transport(provider, err).into()),
                Some(Ok(chunk)) => {
                    head.extend_from_slice(&chunk);
                    frames.push(&chunk, &mut scratch).map_err(|_| {
                        Failure::invalid_answer(ApiError::new(
                            ErrorKind::UpstreamFailed,
                            "invalid stream from upstream",
                        ))
                    })?;
                    if scratch.is_empty() {
                        continue;
                    }
                    for frame in scratch.drain(..) {
                        decoder.push(&frame).map_err(Failure::from_api)?;
                    }
                    return Ok(Self { headers, head: head.freeze(), rest });
                }
            }
        }
    }

    /// A stream passed on without a look first (the raw proxy relays the upstream as it is).
    pub fn unread(response: UpstreamResponse) -> Self {
        Self { headers: response.headers().clone(), head: Bytes::new(), rest: Box::pin(response.bytes_stream()) }
    }

    /// The whole stream again, from its first byte.
    fn into_bytes(self) -> ByteStream {
        if self.head.is_empty() {
            return self.rest;
        }
        Box::pin(futures_util::stream::once(async move { Ok(self.head) }).chain(self.rest))
    }
}

/// When a stream in flight is given up on: after `idle` of upstream silence, or at `deadline`
/// (the request's total time). Silence shorter than that gets a keep-alive every `keep_alive`.
pub struct StreamLimits {
    pub keep_alive: Duration,
    pub idle: Duration,
    /// The configured total, for the message when the deadline cuts a stream.
    pub total: Duration,
    pub deadline: Instant,
    /// Ends when a shutdown's drain time is up. Made once per stream: a fresh watch waiter per
    /// chunk cost a registration and a removal on every wait.
    cut: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// One timer for the whole stream, made at the first wait. It is moved only when it fires
    /// before anything is due (data kept flowing): a chunk costs no timer work, where a fresh
    /// timer per chunk was a quarter of the gateway's CPU per streamed chunk.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// When the last keep-alive was sent.
    kept_alive_at: Option<Instant>,
}

/// What to do after waiting for the upstream's next bytes.
pub enum Waited<T> {
    Got(T),
    KeepAlive,
    Expired(ApiError),
}

impl StreamLimits {
    pub fn new(state: &AppState, deadline: Instant) -> Self {
        let timeouts = &state.config.timeouts;
        let mut cut = state.cut_streams.subscribe();
        let cut = Box::pin(
            async move {
                if cut.wait_for(|cut| *cut).await.is_err() {
                    std::future::pending::<()>().await; // no shutdown can come any more
                }
            }
            .fuse(), // polled again after it ended: pending, not a panic
        );
        Self {
            keep_alive: timeouts.keep_alive,
            idle: timeouts.idle,
            total: timeouts.total,
            deadline,
            cut,
            timer: None,
            kept_alive_at: None,
        }
    }

    /// Waits for `next`, at most until a keep-alive is due (`keep_alive` after the later of
    /// `last_activity` and the last keep-alive), the idle limit since `last_activity` passes,
    /// or the deadline.
    pub async fn wait<T>(&mut self, last_activity: Instant, next: impl Future<Output = T>) -> Waited<T> {
        let mut next = std::pin::pin!(next);
        let keep_alive = self.keep_alive;
        let idle = self.idle;
        let deadline = self.deadline;
        let due = |kept_alive_at: Option<Instant>| {
            let quiet_since = kept_alive_at.map_or(last_activity, |k| k.max(last_activity));
            (quiet_since + keep_alive).min(last_activity + idle).min(deadline)
        };
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due(None))));
        loop {
            tokio::select! {
                biased;
                () = self.cut.as_mut() => {
                    let err = ApiError::new(ErrorKind::Unavailable, "the gateway is shutting down; the stream was cut");
                    return Waited::Expired(err);
                }
                value = &mut next => return Waited::Got(value),
                () = timer.as_mut() => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Waited::Expired(ApiError::new(
                    ErrorKind::UpstreamTimeout,
                    format!("the stream was cut at the request's time limit of {} s", self.total.as_secs()),
                ));
            }
            if now >= last_activity + idle {
                return Waited::Expired(ApiError::new(
                    ErrorKind::UpstreamTimeout,
                    format!("the upstream sent nothing for {} s; the stream was cut", idle.as_secs()),
                ));
            }
            let keep_alive_due = due(self.kept_alive_at);
            if now >= keep_alive_due {
                self.kept_alive_at = Some(now);
                timer.as_mut().reset(due(Some(now)));
                return Waited::KeepAlive;
            }
            timer.as_mut().reset(keep_alive_due);
        }
    }
}

/// The upstream's SSE frames, decoded incrementally.
pub struct UpstreamEvents {
    bytes: ByteStream,
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
    pub fn new(response: UpstreamResponse) -> Self {
        Self {
            bytes: Box::pin(response.bytes_stream()),
            decoder: SseDecoder::default(),
            ready: Default::default(),
            scratch: Vec::new(),
        }
    }

    /// Frames of a stream that was peeked at.
    pub fn resume(peeked: Peeked) -> Self {
        Self {
            bytes: peeked.into_bytes(),
            decoder: SseDecoder::default(),
            ready: Default::default(),
            scratch: Vec::new(),
        }
    }

    /// A frame decoded from bytes already received, without reading more: frames the upstream
    /// sent in one chunk go to the client in one.
    pub fn next_ready(&mut self) -> Option<SseFrame> {
        self.ready.pop_front()
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
                    tracing::debug!(error = %err, "upstream stream broke");
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

/// Most bytes joined into one chunk for the client before it is sent.
const MAX_BATCH_BYTES: usize = 64 * 1024;

/// Bytes for one write to the client: a single chunk as it came, several joined.
#[derive(Default)]
struct Batch {
    first: Option<Bytes>,
    joined: Option<BytesMut>,
}

impl Batch {
    fn add(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        match (&self.first, &mut self.joined) {
            (None, _) => self.first = Some(bytes),
            (Some(first), None) => {
                let mut joined = BytesMut::with_capacity((first.len() + bytes.len()) * 4);
                joined.extend_from_slice(first);
                joined.extend_from_slice(&bytes);
                self.joined = Some(joined);
            }
            (Some(_), Some(joined)) => joined.extend_from_slice(&bytes),
        }
    }

    fn len(&self) -> usize {
        self.joined.as_ref().map_or_else(|| self.first.as_ref().map_or(0, Bytes::len), BytesMut::len)
    }

    fn into_bytes(self) -> Option<Bytes> {
        self.joined.map(BytesMut::freeze).or(self.first)
    }
}

/// Forwards the rewritten stream, with a keep-alive comment after each `keep_alive` of
/// upstream silence, cut with an error chunk at the idle limit or the deadline. Dropping it
/// (client gone) drops the upstream response, which closes the upstream connection, and the
/// `StreamMeter` records what was used.
pub fn relay(
    mut stream: StreamMeter<StreamRewriter>,
    mut upstream: UpstreamEvents,
    first: Step,
    mut limits: StreamLimits,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    async_stream::stream! {
        let mut pending = Some(first);
        let mut last_activity = Instant::now();
        loop {
            if let Some(mut step) = pending.take() {
                // This frame and the others already decoded from the same upstream read go out
                // as one chunk: one pass through the body and one chunk header, not one each.
                let mut batch = Batch::default();
                loop {
                    match step {
                        Step::Forward(bytes) => batch.add(bytes),
                        Step::Done(bytes) | Step::Failed(bytes, _) => {
                            batch.add(bytes);
                            if let Some(bytes) = batch.into_bytes() {
                                yield Ok(bytes);
                            }
                            stream.finish(200);
                            return;
                        }
                    }
                    match upstream.next_ready() {
                        Some(frame) if batch.len() < MAX_BATCH_BYTES => step = stream.source.push(&frame),
                        Some(frame) => {
                            pending = Some(stream.source.push(&frame));
                            break;
                        }
                        None => break,
                    }
                }
                if let Some(bytes) = batch.into_bytes() {
                    yield Ok(bytes);
                }
                if pending.is_some() {
                    continue; // the batch was full; the next one starts with that frame
                }
            }
            match limits.wait(last_activity, upstream.next_frame()).await {
                Waited::KeepAlive => yield Ok(Bytes::from_static(sse::KEEP_ALIVE_COMMENT)),
                Waited::Expired(err) => {
                    yield Ok(stream.source.abort(&err));
                    stream.finish(200);
                    return;
                }
                Waited::Got(Ok(Some(frame))) => {
                    last_activity = Instant::now();
                    pending = Some(stream.source.push(&frame));
                }
                Waited::Got(Ok(None) | Err(UpstreamBroken::Transport)) => {
                    let (bytes, _err) = stream.source.cut_short();
                    yield Ok(bytes);
                    stream.finish(200);
                    return;
                }
                Waited::Got(Err(UpstreamBroken::Garbage)) => {
                    let err = ApiError::new(ErrorKind::UpstreamFailed, "invalid stream from upstream");
                    yield Ok(stream.source.abort(&err));
                    stream.finish(200);
                    return;
                }
            }
        }
    }
}

/// Same-format streams: forwards upstream bytes as they arrive, untouched, and meters them from
/// the decoded events. A stream the upstream cut short, or that went silent past the idle
/// limit or ran past the deadline, gets a final error in `dialect`'s shape.
pub fn tap_passthrough(
    mut watched: StreamMeter<EventTap>,
    peeked: Peeked,
    dialect: Dialect,
    mut limits: StreamLimits,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    async_stream::stream! {
        let mut bytes = peeked.into_bytes();
        let mut frames = SseDecoder::default();
        let mut decoder = dialect.stream_decoder();
        let mut scratch: Vec<SseFrame> = Vec::new();
        let mut failed = false;
        let mut last_activity = Instant::now();
        loop {
            let chunk = match limits.wait(last_activity, bytes.next()).await {
                Waited::KeepAlive => {
                    yield Ok(Bytes::from_static(dialect.keep_alive_frame()));
                    continue;
                }
                Waited::Expired(err) => {
                    watched.source.failed();
                    yield Ok(dialect.error_frame(&err));
                    watched.finish(200);
                    return;
                }
                Waited::Got(Some(Ok(chunk))) => chunk,
                Waited::Got(None | Some(Err(_))) => break,
            };
            last_activity = Instant::now();
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
