//! Requests whose client format differs from the upstream's: the client's body is decoded into
//! `llm`, encoded for the upstream, and the answer (whole or streamed) comes back the same way.

use std::convert::Infallible;

use tokio::time::Instant;

use axum::body::{Body, Bytes};
use axum::response::Response;
use base64::Engine;
use bytes::BytesMut;
use chrono::{DateTime, Utc};
use futures_util::Stream;

use super::forward::{StreamLimits, UpstreamBroken, UpstreamEvents, Waited, sse_response};
use super::meter::{EventTap, Meter, StreamMeter};
use crate::dialect::hub::{Dialect, StreamDecoder, StreamEncoder};
use crate::dialect::openai::stream::Metered;
use crate::dialect::{Identity, Target};
use crate::error::{ApiError, ErrorKind};
use crate::llm::{self, Event};
use crate::providers::ProviderError;
use crate::routing::{Failure, Plan, Route};
use crate::state::AppState;

/// A translated request's answer, read as far as it can be before the client sees a byte.
pub enum TranslatedAnswer {
    /// A whole answer, decoded.
    Whole(llm::ChatResponse),
    /// A stream with its first events decoded.
    Stream { decoder: StreamDecoder, events: UpstreamEvents, first: Vec<Event> },
}

/// How the client asked to be answered.
#[derive(Debug, Clone, Copy)]
pub struct ClientSide {
    /// The format the client speaks (and gets its answer in).
    pub dialect: Dialect,
    /// Size of the client's body, for a token estimate when the upstream reports none.
    pub prompt_bytes: usize,
    /// OpenAI clients may opt out of the final usage chunk.
    pub wants_usage_chunk: bool,
}

/// Whether `route`'s provider speaks a format other than `client`'s.
pub fn needs_translation(state: &AppState, route: &Route, client: Dialect) -> bool {
    state.config.provider(&route.provider).and_then(|p| Dialect::of(p.kind)) != Some(client)
}

/// Decodes the client's body into `llm` when any candidate needs translating, and fetches its
/// media URLs when any candidate needs inline bytes (so each attempt needs neither).
pub async fn prepare(
    state: &AppState,
    plan: &Plan,
    client: Dialect,
    decode: impl FnOnce() -> Result<llm::ChatRequest, ApiError>,
) -> Result<Option<llm::ChatRequest>, ApiError> {
    let upstreams = || {
        plan.candidates.iter().filter_map(|r| state.config.provider(&r.provider)).filter_map(|p| Dialect::of(p.kind))
    };
    if !upstreams().any(|d| d != client) {
        return Ok(None);
    }
    let mut request = decode()?;
    if upstreams().any(Dialect::needs_inline_media) {
        inline_media_urls(state, &mut request).await?;
    }
    Ok(Some(request))
}

/// Sends a translated request to `route` and reads its answer up to the first event.
pub async fn send(state: &AppState, route: &Route, request: &llm::ChatRequest) -> Result<TranslatedAnswer, Failure> {
    let client = state.providers.client(&route.provider)?;
    let upstream = Dialect::of(client.kind()).ok_or_else(|| ProviderError::Unsupported(route.provider.clone()))?;
    let max_output_tokens = state.config.catalog.find(&route.catalog_id).and_then(|m| m.max_completion_tokens);
    let body = upstream
        .encode_request(request, Target { model: &route.native, max_output_tokens })
        .map_err(Failure::client)?;
    let stream = request.stream;
    let path = client.chat_path(&route.native, stream).map_err(Failure::client)?;
    let first_byte_by = Instant::now() + state.config.timeouts.first_byte;
    let response = client.post(&path, body, stream, None).await?;
    if !stream {
        let bytes = client.read_body(response).await?;
        let answer = upstream.decode_response(&bytes).map_err(Failure::invalid_answer)?;
        return Ok(TranslatedAnswer::Whole(answer));
    }
    let mut decoder = upstream.stream_decoder();
    let mut events = UpstreamEvents::new(response);
    // Wait for the first event before committing to 200, so an upstream that fails at once
    // gets a proper HTTP error (or the next candidate).
    let first = async {
        loop {
            let step = match events.next_frame().await {
                Ok(Some(frame)) => decoder.push(&frame),
                Ok(None) => decoder.finish(),
                Err(_) => Err(ApiError::new(ErrorKind::UpstreamFailed, "upstream request failed: the stream broke")),
            };
            match step {
                Ok(batch) if batch.is_empty() && !decoder.is_done() => continue,
                Ok(batch) => break Ok(batch),
                Err(err) => break Err(Failure::from_api(err)),
            }
        }
    };
    let first = match tokio::time::timeout_at(first_byte_by, first).await {
        Ok(first) => first?,
        Err(_) => return Err(ProviderError::Timeout { provider: route.provider.clone() }.into()),
    };
    Ok(TranslatedAnswer::Stream { decoder, events, first })
}

/// Answers the client in its own format from a translated answer, metering it.
pub fn respond(
    meter: Meter,
    answer: TranslatedAnswer,
    request: &llm::ChatRequest,
    side: ClientSide,
    limits: StreamLimits,
    now: DateTime<Utc>,
) -> Response {
    let pricing = meter.route.pricing;
    // OpenRouter's `reasoning.exclude`: the model reasons, the client does not see it.
    let hide_reasoning = request.reasoning.as_ref().is_some_and(|r| r.exclude);
    let (decoder, events, first) = match answer {
        TranslatedAnswer::Whole(answer) => return respond_whole(meter, answer, side, hide_reasoning, now),
        TranslatedAnswer::Stream { decoder, events, first } => (decoder, events, first),
    };
    let watched = StreamMeter { meter, source: EventTap::new(pricing, side.prompt_bytes) };
    let who = Identity {
        id: &watched.meter.id,
        model: &watched.meter.route.model,
        pricing: pricing.as_ref(),
        prompt_bytes: side.prompt_bytes,
    };
    let encoder = side.dialect.stream_encoder(who, side.wants_usage_chunk, now.timestamp());
    let id = watched.meter.id.clone();
    let relay =
        Relay { watched, events, decoder, encoder, keep_alive_frame: side.dialect.keep_alive_frame(), hide_reasoning };
    sse_response(&id, Body::from_stream(relay.run(first, limits)))
}

fn respond_whole(
    meter: Meter,
    mut answer: llm::ChatResponse,
    side: ClientSide,
    hide_reasoning: bool,
    now: DateTime<Utc>,
) -> Response {
    let pricing = meter.route.pricing;
    let reported = Some(answer.usage).filter(|u| u.total_tokens() > 0);
    let finish_reason = Some(answer.finish_reason.as_openai().to_owned());
    let metered =
        Metered::from_counts(reported, side.prompt_bytes, generated_bytes(&answer), pricing.as_ref(), finish_reason);
    answer.usage = metered.usage;
    if answer.created == 0 {
        answer.created = now.timestamp();
    }
    if hide_reasoning {
        answer.content.retain(|part| !matches!(part, llm::Part::Thinking { .. } | llm::Part::RedactedThinking { .. }));
    }
    let who = Identity {
        id: &meter.id,
        model: &meter.route.model,
        pricing: pricing.as_ref(),
        prompt_bytes: side.prompt_bytes,
    };
    let body = side.dialect.encode_response(&answer, who);
    meter.answer(metered, body)
}

/// Replaces `http(s)` image and document URLs with their bytes, fetched under the SSRF policy
/// (https only, public addresses only, size and time capped). A refused URL is a 400 naming
/// the problem, and nothing is sent upstream.
async fn inline_media_urls(state: &AppState, request: &mut llm::ChatRequest) -> Result<(), ApiError> {
    for source in request.media_sources_mut() {
        let llm::ImageSource::Url(url) = source else { continue };
        // Gemini's own file URIs (gs://…, its Files API) pass as they are.
        if !crate::dialect::gemini::must_fetch(url) {
            continue;
        }
        let fetched = state.fetcher.fetch(url).await?;
        let data = base64::engine::general_purpose::STANDARD.encode(&fetched.data);
        *source = llm::ImageSource::Base64 { media_type: fetched.media_type, data };
    }
    Ok(())
}

/// Bytes of generated output in an answer, for an estimate when the upstream reported no usage.
fn generated_bytes(answer: &llm::ChatResponse) -> usize {
    answer
        .content
        .iter()
        .map(|part| match part {
            llm::Part::Text { text, .. } | llm::Part::Thinking { text, .. } => text.len(),
            llm::Part::ToolCall { arguments, .. } => arguments.to_string().len(),
            _ => 0,
        })
        .sum()
}

/// The moving parts of a translated stream.
struct Relay {
    watched: StreamMeter<EventTap>,
    events: UpstreamEvents,
    decoder: StreamDecoder,
    encoder: StreamEncoder,
    keep_alive_frame: &'static [u8],
    hide_reasoning: bool,
}

impl Relay {
    /// Decodes upstream frames, encodes them for the client, meters them. Dropping the stream
    /// (client gone) drops the upstream connection, and the meter records what was seen.
    fn run(
        mut self,
        first: Vec<Event>,
        mut limits: StreamLimits,
    ) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
        async_stream::stream! {
            let mut out = BytesMut::new();
            let mut batch = first;
            let mut closed = false;
            let mut last_activity = Instant::now();
            loop {
                for event in batch.drain(..) {
                    self.watched.source.observe(&event);
                    let reasoning = matches!(event, Event::ThinkingDelta(_) | Event::ThinkingSignature(_));
                    if !(reasoning && self.hide_reasoning) {
                        self.encoder.push(&event, &mut out);
                    }
                }
                if self.decoder.is_done() || closed {
                    self.encoder.finish(&mut out);
                    yield Ok(out.split().freeze());
                    self.watched.finish(200);
                    return;
                }
                if !out.is_empty() {
                    yield Ok(out.split().freeze());
                }
                let step = match limits.wait(last_activity, self.events.next_frame()).await {
                    Waited::KeepAlive => {
                        yield Ok(Bytes::from_static(self.keep_alive_frame));
                        continue;
                    }
                    Waited::Expired(err) => Err(err),
                    Waited::Got(Ok(Some(frame))) => {
                        last_activity = Instant::now();
                        self.decoder.push(&frame)
                    }
                    Waited::Got(Ok(None)) => {
                        // `finish` is an error unless the terminal event was seen, so `Ok`
                        // means the stream is complete.
                        closed = true;
                        self.decoder.finish()
                    }
                    Waited::Got(Err(UpstreamBroken::Transport | UpstreamBroken::Garbage)) => {
                        Err(ApiError::new(ErrorKind::UpstreamFailed, "upstream stream ended unexpectedly"))
                    }
                };
                match step {
                    Ok(events) => batch = events,
                    Err(err) => {
                        self.watched.source.failed();
                        self.encoder.error(&err, &mut out);
                        yield Ok(out.split().freeze());
                        self.watched.finish(200);
                        return;
                    }
                }
            }
        }
    }
}
