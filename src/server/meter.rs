//! Settling a request: its cost goes onto the key's counters at once and its record into the
//! ledger. A drop guard makes sure this happens exactly once however the request ends,
//! including when the client disconnects and the handler or stream is dropped mid-way.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::forward::{GENERATION_ID, generation_header};

use crate::dialect::openai::StreamRewriter;
use crate::dialect::openai::stream::Metered;
use crate::error::ApiError;
use crate::keys::admission::Reservation;
use crate::llm::Event;
use crate::routing::{Plan, Route};
use crate::state::AppState;
use crate::usage::{GenerationRecord, Pricing, Usage, estimate_tokens};

/// HTTP-like status recorded for requests whose client went away (nginx's convention).
pub const CLIENT_CLOSED: u16 = 499;

/// The worst-case cost of a request on `route`, reserved against a limited key before it is
/// sent (0 for unpriced models, which limited keys refuse unless configured otherwise).
pub fn worst_case(state: &AppState, route: &Route, prompt_bytes: usize, max_tokens: Option<u64>) -> i64 {
    let model_max = state.config.catalog.find(&route.catalog_id).and_then(|m| m.max_completion_tokens);
    route.pricing.map_or(0, |p| p.worst_case(prompt_bytes, max_tokens, model_max))
}

/// Admission with the gateway's own conditions on top of the key's: while the ledger cannot
/// commit and its backlog is full, keys with a spend limit are refused (their spend could not
/// be made durable); keys without one keep working.
pub fn admit_request(
    state: &AppState,
    key: &std::sync::Arc<crate::keys::CachedKey>,
    route: &Route,
    now: DateTime<Utc>,
    estimate_nano: i64,
) -> Result<Reservation, crate::error::ApiError> {
    if key.record.limit_nano.is_some() && state.ledger.backlogged() {
        return Err(crate::error::ApiError::new(
            crate::error::ErrorKind::Unavailable,
            "usage cannot be recorded right now (database unavailable); keys with a spend limit are refused until it recovers",
        )
        .with_retry_after(Some(5)));
    }
    crate::keys::admission::admit(key, route, now, state.config.allow_unpriced_models, estimate_nano)
}

/// Admission for a request with a plan: candidates the key may not use are dropped (so a
/// fallback never reaches a provider or model the key may not use; when none is left, the
/// first refusal is the answer), and the worst case of the remaining candidates is reserved.
pub fn admit_plan(
    state: &AppState,
    key: &std::sync::Arc<crate::keys::CachedKey>,
    plan: &mut Plan,
    now: DateTime<Utc>,
    estimate: impl Fn(&Route) -> i64,
) -> Result<Reservation, ApiError> {
    let allow_unpriced = state.config.allow_unpriced_models;
    let mut refused = None;
    plan.candidates.retain(|route| match crate::keys::admission::permitted(key, route, allow_unpriced) {
        Ok(()) => true,
        Err(err) => {
            refused.get_or_insert(err);
            false
        }
    });
    if let Some(err) = refused.filter(|_| plan.candidates.is_empty()) {
        return Err(err);
    }
    let worst = plan.candidates.iter().map(estimate).max().unwrap_or(0);
    admit_request(state, key, plan.first(), now, worst)
}

/// When a request that arrived at `arrived` must be over, retries and streaming included.
pub fn deadline(state: &AppState, arrived: std::time::Instant) -> tokio::time::Instant {
    tokio::time::Instant::from_std(arrived) + state.config.timeouts.total
}

/// How a request ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: u16,
    pub metered: Metered,
    pub cancelled: bool,
}

/// Accounting for one request from routing to its end.
#[derive(Debug)]
pub struct Meter {
    state: AppState,
    /// The budget held for this request; settled with the actual cost when it is recorded.
    reservation: Reservation,
    pub id: String,
    api: &'static str,
    pub route: Route,
    /// Arrival time; the spend belongs to the limit period the request arrived in.
    created_at: DateTime<Utc>,
    arrived: Instant,
    streamed: bool,
    prompt_bytes: usize,
    first_byte: Option<Duration>,
    /// Set once the record is written, so `Drop` does nothing afterwards.
    recorded: bool,
}

impl Meter {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        state: AppState,
        reservation: Reservation,
        id: String,
        api: &'static str,
        route: Route,
        created_at: DateTime<Utc>,
        arrived: Instant,
        streamed: bool,
        prompt_bytes: usize,
    ) -> Self {
        Self {
            state,
            reservation,
            id,
            api,
            route,
            created_at,
            arrived,
            streamed,
            prompt_bytes,
            first_byte: None,
            recorded: false,
        }
    }

    /// Runs `plan` (retries, fallbacks, circuit breakers) with `attempt` for each candidate
    /// tried, and returns the first usable answer; when every candidate failed, records the
    /// failure and hands the error back. The meter follows the candidate being tried, so a
    /// request abandoned during a fallback is recorded against the model it was waiting for.
    pub async fn run<'p, T, Fut>(
        &mut self,
        plan: &'p Plan,
        deadline: tokio::time::Instant,
        attempt: impl Fn(&'p Route) -> Fut,
    ) -> Result<T, ApiError>
    where
        Fut: std::future::Future<Output = Result<T, crate::routing::Failure>>,
    {
        let state = self.state.clone();
        let mut current = 0;
        let won = state
            .resilience
            .execute(plan, deadline, |i| {
                let route = &plan.candidates[i];
                if i != current {
                    self.route = route.clone();
                    current = i;
                }
                attempt(route)
            })
            .await;
        let won = won.map_err(|err| self.fail(err))?;
        self.first_byte();
        Ok(won.value)
    }

    /// Notes that the upstream's first byte arrived.
    pub fn first_byte(&mut self) {
        self.first_byte.get_or_insert_with(|| self.arrived.elapsed());
    }

    /// An outcome with no upstream usage: the prompt is charged by estimate, nothing else.
    pub fn unanswered(&self, status: u16, cancelled: bool) -> Outcome {
        let usage = Usage { prompt_tokens: estimate_tokens(self.prompt_bytes), ..Usage::default() };
        // A request the upstream refused or never received costs nothing.
        let cost_nano = if cancelled { self.route.pricing.map_or(0, |p| p.cost(&usage)) } else { 0 };
        let usage = if cancelled { usage } else { Usage::default() };
        Outcome { status, metered: Metered { usage, estimated: cancelled, cost_nano, finish_reason: None }, cancelled }
    }

    /// Records a request the upstream refused, failed or answered unusably (it costs nothing),
    /// and hands the error back for the client.
    pub fn fail(&mut self, err: impl Into<ApiError>) -> ApiError {
        let err = err.into();
        let outcome = self.unanswered(err.status().as_u16(), false);
        self.record(outcome);
        err
    }

    /// Records a successful whole (non-streamed) answer and builds its 200 JSON response,
    /// carrying the generation id.
    pub fn answer(mut self, metered: Metered, body: impl Into<Body>) -> Response {
        let id = generation_header(&self.id);
        self.record(Outcome { status: 200, metered, cancelled: false });
        ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json")), (GENERATION_ID, id)], body.into())
            .into_response()
    }

    /// Settles the key's spend and queues the ledger record. Idempotent.
    pub fn record(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        let Outcome { status, metered, cancelled } = outcome;
        self.reservation.settle(metered.cost_nano, self.created_at);
        self.reservation.count_tokens(metered.usage.total_tokens(), self.state.clock.now());
        self.state.ledger.record(GenerationRecord {
            id: std::mem::take(&mut self.id),
            key_hash: self.reservation.key().record.hash,
            api: self.api.to_owned(),
            model: self.route.model.clone(),
            provider: self.route.provider.clone(),
            native_model: self.route.native.clone(),
            created_at: self.created_at,
            first_byte_ms: self.first_byte.map(|d| d.as_millis() as i64),
            latency_ms: self.arrived.elapsed().as_millis() as i64,
            usage: metered.usage,
            usage_estimated: metered.estimated,
            cost_nano: metered.cost_nano,
            status,
            streamed: self.streamed,
            cancelled,
            finish_reason: metered.finish_reason,
        });
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if !self.recorded {
            // The handler was dropped before it finished: the client went away while the
            // upstream was still working on a non-streamed answer.
            let outcome = self.unanswered(CLIENT_CLOSED, true);
            self.record(outcome);
        }
    }
}

/// Whatever watches a stream go by and can say what it used so far.
pub trait MeterSource {
    fn metered(&self) -> Metered;
}

impl MeterSource for StreamRewriter {
    fn metered(&self) -> Metered {
        StreamRewriter::metered(self)
    }
}

/// Meters a translated stream from its neutral events.
#[derive(Debug)]
pub struct EventTap {
    pricing: Option<Pricing>,
    prompt_bytes: usize,
    usage: Option<Usage>,
    /// Bytes of generated text and tool arguments, for an estimate if usage never arrives.
    generated_bytes: usize,
    finish_reason: Option<&'static str>,
}

impl EventTap {
    pub fn new(pricing: Option<Pricing>, prompt_bytes: usize) -> Self {
        Self { pricing, prompt_bytes, usage: None, generated_bytes: 0, finish_reason: None }
    }

    pub fn observe(&mut self, event: &Event) {
        match event {
            Event::TextDelta(text) | Event::ThinkingDelta(text) => self.generated_bytes += text.len(),
            Event::ToolArgsDelta { json, .. } => self.generated_bytes += json.len(),
            Event::Usage(usage) => self.usage = Some(*usage),
            Event::Finish { reason, .. } => self.finish_reason = Some(reason.as_openai()),
            Event::Start { .. } | Event::ThinkingSignature(_) | Event::ToolCallStart { .. } => {}
        }
    }

    /// Marks the stream as ended by an upstream error.
    pub fn failed(&mut self) {
        self.finish_reason = Some("error");
    }
}

impl MeterSource for EventTap {
    fn metered(&self) -> Metered {
        // A usage of all zeros (some translated upstreams) counts as none.
        Metered::from_counts(
            self.usage.filter(|u| u.total_tokens() > 0),
            self.prompt_bytes,
            self.generated_bytes,
            self.pricing.as_ref(),
            self.finish_reason.map(str::to_owned),
        )
    }
}

/// A stream's meter and what watches the stream, together, so a dropped stream is charged for
/// what was seen.
#[derive(Debug)]
pub struct StreamMeter<S: MeterSource> {
    pub meter: Meter,
    pub source: S,
}

impl<S: MeterSource> StreamMeter<S> {
    pub fn finish(&mut self, status: u16) {
        let metered = self.source.metered();
        self.meter.record(Outcome { status, metered, cancelled: false });
    }
}

impl<S: MeterSource> Drop for StreamMeter<S> {
    fn drop(&mut self) {
        if !self.meter.recorded {
            let metered = self.source.metered();
            self.meter.record(Outcome { status: CLIENT_CLOSED, metered, cancelled: true });
        }
    }
}
