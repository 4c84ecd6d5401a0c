//! Requests whose client format differs from the upstream's: the client's body is decoded into
//! `llm`, encoded for the upstream, and the answer (whole or streamed) comes back the same way.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::response::Response;
use base64::Engine;
use bytes::BytesMut;
use chrono::{DateTime, Utc};
use futures_util::Stream;

use super::forward::{UpstreamBroken, UpstreamEvents, sse_response};
use super::meter::{EventTap, Meter, StreamMeter};
use crate::dialect::hub::{Dialect, StreamDecoder, StreamEncoder};
use crate::dialect::openai::stream::Metered;
use crate::dialect::{Identity, Target};
use crate::error::{ApiError, ErrorKind};
use crate::keys::admission::Reservation;
use crate::llm::{self, Event};
use crate::providers::ProviderError;
use crate::routing::Route;
use crate::state::AppState;
use crate::usage::new_generation_id;

/// One translated request, as the handler hands it over.
pub struct Translated {
    /// The admitted key's budget hold for this request.
    pub reservation: Reservation,
    pub route: Route,
    /// The format the client speaks (and gets its answer in).
    pub client: Dialect,
    pub request: llm::ChatRequest,
    /// Size of the client's body, for a token estimate when the upstream reports none.
    pub prompt_bytes: usize,
    /// OpenAI clients may opt out of the final usage chunk.
    pub wants_usage_chunk: bool,
    pub arrived: Instant,
    pub now: DateTime<Utc>,
}

/// Sends a translated request and answers in the client's format.
pub async fn chat(state: &AppState, t: Translated) -> Result<Response, ApiError> {
    let client = state.providers.client(&t.route.provider)?;
    let upstream = Dialect::of(client.kind()).ok_or_else(|| ProviderError::Unsupported(t.route.provider.clone()))?;
    let max_output_tokens = state.config.catalog.find(&t.route.catalog_id).and_then(|m| m.max_completion_tokens);
    let mut request = t.request;
    if upstream.needs_inline_media() {
        inline_media_urls(state, &mut request).await?;
    }
    let body = upstream.encode_request(&request, Target { model: &t.route.native, max_output_tokens })?;
    let stream = request.stream;
    let path = client.chat_path(&t.route.native, stream)?;
    // OpenRouter's `reasoning.exclude`: the model reasons, the client does not see it.
    let hide_reasoning = request.reasoning.as_ref().is_some_and(|r| r.exclude);
    let mut meter = Meter::new(
        state.clone(),
        t.reservation,
        new_generation_id(t.now),
        "chat.completions",
        t.route,
        t.now,
        t.arrived,
        stream,
        t.prompt_bytes,
    );
    let response = client.post(&path, body, stream, None).await.map_err(|err| meter.fail(err))?;
    meter.first_byte();
    let pricing = meter.route.pricing;

    if !stream {
        let bytes = client.read_body(response).await.map_err(|err| meter.fail(err))?;
        let answer = upstream.decode_response(&bytes).map_err(|invalid| meter.fail(invalid))?;
        let reported = Some(answer.usage).filter(|u| u.total_tokens() > 0);
        let finish_reason = Some(answer.finish_reason.as_openai().to_owned());
        let metered =
            Metered::from_counts(reported, t.prompt_bytes, generated_bytes(&answer), pricing.as_ref(), finish_reason);
        let mut answer = answer;
        answer.usage = metered.usage;
        if answer.created == 0 {
            answer.created = t.now.timestamp();
        }
        if hide_reasoning {
            answer
                .content
                .retain(|part| !matches!(part, llm::Part::Thinking { .. } | llm::Part::RedactedThinking { .. }));
        }
        let who = Identity {
            id: &meter.id,
            model: &meter.route.model,
            pricing: pricing.as_ref(),
            prompt_bytes: t.prompt_bytes,
        };
        let body = t.client.encode_response(&answer, who);
        return Ok(meter.answer(metered, body));
    }

    let mut decoder = upstream.stream_decoder();
    let mut events = UpstreamEvents::new(response);
    let mut watched = StreamMeter { meter, source: EventTap::new(pricing, t.prompt_bytes) };
    // Wait for the first event before committing to 200, so an upstream that fails at once
    // gets a proper HTTP error.
    let first = loop {
        let step = match events.next_frame().await {
            Ok(Some(frame)) => decoder.push(&frame),
            Ok(None) => decoder.finish(),
            Err(_) => Err(ApiError::new(ErrorKind::UpstreamFailed, "upstream request failed: the stream broke")),
        };
        match step {
            Ok(batch) if batch.is_empty() && !decoder.is_done() => continue,
            Ok(batch) => break batch,
            Err(err) => {
                watched.source.failed();
                watched.finish(err.status().as_u16());
                return Err(err);
            }
        }
    };
    let who = Identity {
        id: &watched.meter.id,
        model: &watched.meter.route.model,
        pricing: pricing.as_ref(),
        prompt_bytes: t.prompt_bytes,
    };
    let encoder = t.client.stream_encoder(who, t.wants_usage_chunk, t.now.timestamp());
    let id = watched.meter.id.clone();
    let keep_alive = state.config.timeouts.keep_alive;
    let relay =
        Relay { watched, events, decoder, encoder, keep_alive_frame: t.client.keep_alive_frame(), hide_reasoning };
    Ok(sse_response(&id, Body::from_stream(relay.run(first, keep_alive))))
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
    fn run(mut self, first: Vec<Event>, keep_alive: Duration) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
        async_stream::stream! {
            let mut out = BytesMut::new();
            let mut batch = first;
            let mut closed = false;
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
                let step = match tokio::time::timeout(keep_alive, self.events.next_frame()).await {
                    Err(_silent) => {
                        yield Ok(Bytes::from_static(self.keep_alive_frame));
                        continue;
                    }
                    Ok(Ok(Some(frame))) => self.decoder.push(&frame),
                    Ok(Ok(None)) => {
                        // `finish` is an error unless the terminal event was seen, so `Ok`
                        // means the stream is complete.
                        closed = true;
                        self.decoder.finish()
                    }
                    Ok(Err(UpstreamBroken::Transport | UpstreamBroken::Garbage)) => {
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
