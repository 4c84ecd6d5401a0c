//! Mock upstreams: a fake OpenAI API, a fake Anthropic Messages API and a fake Google Gemini
//! API on one port, with deterministic answers in the real wire formats, streaming and not, tool
//! calls, thinking, embeddings, usage, and fault modes chosen by model name.
//!
//! Routes: OpenAI `/v1/chat/completions`, `/v1/embeddings`; Anthropic `/v1/messages`,
//! `/v1/messages/count_tokens`; and `/v1/models`, which answers in Anthropic's shape when the
//! request carries `x-api-key` and in OpenAI's otherwise; Gemini `/v1beta/models/{model}:
//! generateContent`, `:streamGenerateContent`, `:countTokens`, `:embedContent`,
//! `:batchEmbedContents`, and `GET /v1beta/models[/{model}]`. See `openai.rs`, `anthropic.rs`
//! and `gemini.rs` for the exact answers and token counts.
//!
//! Tests, benchmarks and the offline quickstart (`arouter serve --mock-upstreams`) use it, and
//! `arouter mock` runs it alone so you can point your own app at it. It records every request
//! it receives and how each stream ended, so tests can assert what the upstream saw.
//!
//! Fault modes (the model name the upstream receives contains):
//! * `fault-500`, `fault-503`, `fault-400`: that status with an OpenAI error body
//! * `fault-429`: 429 with `Retry-After: 7`
//! * `fault-malformed`: 200 with a body (or stream event) that is not JSON
//! * `fault-cut`: a stream that stops after two chunks without `[DONE]`
//! * `fault-midstream-error`: a stream that sends an in-band `error` event after two chunks
//! * `fault-no-usage`: never reports usage
//! * `fault-hang`: accepts the request and never answers
//!
//! On every API (see `faults.rs`): `fault-502`, `fault-flaky-<n>` (the first n requests get
//! 503), `fault-slow-<ms>` (slow first byte), `fault-silent` (a stream that goes quiet after its
//! first event) and `fault-endless` (a stream that never ends).
//!
//! Anthropic fault modes (same words, in the model of a `/v1/messages` request): `fault-500` (500
//! `api_error`), `fault-529` (529 `overloaded_error`), `fault-429` (429 `rate_limit_error`,
//! `retry-after: 7`), `fault-400` / `fault-401` (`invalid_request_error` / `authentication_error`),
//! `fault-malformed` (non-JSON 200 body, or a `data: {not json` stream event), `fault-cut` (the
//! stream stops after the first text delta, no `message_stop`), `fault-midstream-error` (an
//! in-band `event: error` `overloaded_error` after two text deltas), `fault-hang`.
//!
//! Gemini fault modes (same words, in the model of the `/v1beta/models/{model}:…` path):
//! `fault-500` (500 `INTERNAL`), `fault-503` (503 `UNAVAILABLE`), `fault-429` (429
//! `RESOURCE_EXHAUSTED`, `retry-after: 7` and a `RetryInfo` detail), `fault-400` (400
//! `INVALID_ARGUMENT`), `fault-malformed` (non-JSON 200 body, or `{not json` after the first
//! stream chunk), `fault-cut` (the stream stops after two chunks, no `finishReason`),
//! `fault-midstream-error` (an in-band `{"error":{…"UNAVAILABLE"}}` chunk after two chunks),
//! `fault-no-usage` (no `usageMetadata`), `fault-hang`.

pub mod anthropic;
mod faults;
pub mod gemini;
mod openai;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{Config, MockArgs, Secret};

/// The provider key the mock expects (and the gateway sends in mock mode).
pub const MOCK_API_KEY: &str = "sk-mock-arouter-upstream-key";

/// How the mock behaves.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// Pause before each streamed chunk after the first.
    pub chunk_delay: Duration,
    /// Pause before the response headers.
    pub first_byte_delay: Duration,
    /// The provider key accepted: as `Authorization: Bearer` by the OpenAI API, as `x-api-key`
    /// by the Anthropic API, as `x-goog-api-key` or `?key=` by the Gemini API.
    pub api_key: String,
    /// More keys accepted besides `api_key` (tests of key rotation read which one arrived from
    /// the recorded headers).
    pub extra_api_keys: Vec<String>,
    /// The OpenAI API also answers requests that carry no key at all, like a local Ollama.
    pub keyless: bool,
    /// Extra words appended to every answer, to make long streams.
    pub extra_words: usize,
    /// Keep every request for `requests()`; off for the long-running standalone mock.
    pub record_requests: bool,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            chunk_delay: Duration::from_millis(20),
            first_byte_delay: Duration::ZERO,
            api_key: MOCK_API_KEY.into(),
            extra_api_keys: Vec::new(),
            keyless: false,
            extra_words: 0,
            record_requests: true,
        }
    }
}

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    /// The body as JSON (panics in tests if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("mock received a JSON body")
    }
}

/// How one streamed response went, from the mock's side.
#[derive(Debug, Clone)]
pub struct StreamLog {
    pub started: Instant,
    pub chunks_sent: usize,
    pub last_chunk_at: Option<Instant>,
    /// The mock sent everything it meant to.
    pub finished: bool,
    /// When the gateway closed the stream before the end.
    pub dropped_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct Logs {
    requests: Vec<Recorded>,
    streams: Vec<StreamLog>,
    /// Requests seen per `fault-flaky-<n>` model.
    flaky: std::collections::HashMap<String, usize>,
}

/// Shared between the mock's handlers and its owner.
#[derive(Debug)]
pub(crate) struct MockState {
    options: MockOptions,
    logs: Mutex<Logs>,
}

impl MockState {
    /// Whether `key` is one of the provider keys the mock accepts.
    fn accepts(&self, key: &str) -> bool {
        key == self.options.api_key || self.options.extra_api_keys.iter().any(|k| k == key)
    }

    /// Keeps the request for `requests()` (when recording is on).
    fn record(&self, method: Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) {
        if !self.options.record_requests {
            return;
        }
        let request = Recorded {
            method,
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers: headers.clone(),
            body: body.clone(),
        };
        self.logs.lock().expect("mock log poisoned").requests.push(request);
    }

    /// Waits the configured pause before the response headers.
    async fn first_byte_delay(&self) {
        if !self.options.first_byte_delay.is_zero() {
            tokio::time::sleep(self.options.first_byte_delay).await;
        }
    }

    fn stream_started(&self) -> usize {
        if !self.options.record_requests {
            return usize::MAX;
        }
        let mut logs = self.logs.lock().expect("mock log poisoned");
        logs.streams.push(StreamLog {
            started: Instant::now(),
            chunks_sent: 0,
            last_chunk_at: None,
            finished: false,
            dropped_at: None,
        });
        logs.streams.len() - 1
    }

    fn update_stream(&self, index: usize, update: impl FnOnce(&mut StreamLog)) {
        if let Some(log) = self.logs.lock().expect("mock log poisoned").streams.get_mut(index) {
            update(log);
        }
    }
}

/// A running mock upstream on a loopback port. Stops when dropped (unless detached).
#[derive(Debug)]
pub struct MockUpstream {
    addr: SocketAddr,
    state: Arc<MockState>,
    task: Option<JoinHandle<()>>,
}

impl MockUpstream {
    /// Starts on `127.0.0.1:0`.
    pub async fn start(options: MockOptions) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::start_on(listener, options)
    }

    fn start_on(listener: TcpListener, options: MockOptions) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let state = Arc::new(MockState { options, logs: Mutex::default() });
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(without_nagle(listener), app).await {
                tracing::error!(%err, "mock upstream stopped");
            }
        });
        Ok(Self { addr, state, task: Some(task) })
    }

    /// The loopback address it listens on, with the port the OS picked.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of the fake OpenAI API (`http://127.0.0.1:port/v1`).
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Base URL of the fake Anthropic API (`http://127.0.0.1:port`, no `/v1`, like
    /// `https://api.anthropic.com`).
    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Base URL of the fake Gemini API (`http://127.0.0.1:port`, no `/v1beta`, like
    /// `https://generativelanguage.googleapis.com`).
    pub fn gemini_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Points the config's providers at this mock, with the key it expects.
    pub fn configure(&self, config: &mut Config) {
        let key = Secret(self.state.options.api_key.clone());
        if let Some(openai) = config.provider_mut("openai") {
            openai.base_url = self.openai_base_url();
            openai.api_key = Some(key.clone());
            openai.keys.clear();
        }
        if let Some(anthropic) = config.provider_mut("anthropic") {
            anthropic.base_url = self.anthropic_base_url();
            anthropic.api_key = Some(key.clone());
            anthropic.keys.clear();
        }
        if let Some(google) = config.provider_mut("google") {
            google.base_url = self.gemini_base_url();
            google.api_key = Some(key);
            google.keys.clear();
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.logs.lock().expect("mock log poisoned").requests.clone()
    }

    /// Every stream served so far.
    pub fn streams(&self) -> Vec<StreamLog> {
        self.state.logs.lock().expect("mock log poisoned").streams.clone()
    }

    /// Keeps the mock running for the life of the process.
    pub fn detach(mut self) {
        self.task.take();
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// `arouter mock`: serves the mock on a fixed address until `shutdown`.
pub async fn run_standalone(
    args: MockArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(args.listen).await?;
    // The bound address, so `--listen 127.0.0.1:0` prints the port the OS picked.
    let addr = listener.local_addr()?;
    let options = MockOptions {
        chunk_delay: Duration::from_millis(args.chunk_delay_ms),
        extra_words: args.extra_words,
        record_requests: false,
        ..MockOptions::default()
    };
    let state = Arc::new(MockState { options, logs: Mutex::default() });
    println!(
        "mock OpenAI API on http://{0}/v1, Anthropic API on http://{0} and Gemini API on http://{0} \
         (provider key: {MOCK_API_KEY})",
        addr
    );
    axum::serve(without_nagle(listener), router(state).into_make_service()).with_graceful_shutdown(shutdown).await
}

/// Accepted connections with `TCP_NODELAY`, as real APIs serve streams: with Nagle on, each
/// stream stalled after its first write until the gateway's delayed ACK (40 ms), and arrived
/// as one burst, which no real upstream does.
fn without_nagle(listener: TcpListener) -> impl axum::serve::Listener<Addr = SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "could not set TCP_NODELAY");
        }
    })
}

/// All dialects on one router; `/v1/models` is shared by OpenAI and Anthropic and picks its shape
/// by the auth header (Gemini lists models under `/v1beta/models`).
fn router(state: Arc<MockState>) -> Router {
    openai::routes()
        .merge(anthropic::routes())
        .merge(gemini::routes())
        .route("/v1/models", get(models))
        .layer(axum::middleware::from_fn_with_state(state.clone(), faults::apply))
        .with_state(state)
}

async fn models(State(state): State<Arc<MockState>>, uri: Uri, headers: HeaderMap) -> Response {
    if headers.contains_key(anthropic::API_KEY_HEADER) {
        anthropic::models(&state, &uri, &headers)
    } else {
        openai::models()
    }
}

/// The model named `fault-hang`: accept the request and never answer.
async fn hang_if_asked(model: &str) {
    if model.contains("fault-hang") {
        std::future::pending::<()>().await;
    }
}

/// A short deterministic hex tag of `parts`, for response ids.
fn digest_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    format!("{:x}", hasher.finalize()[0..6].iter().fold(0u64, |a, b| a << 8 | u64::from(*b)))
}

/// Marks a stream as dropped if the gateway closed it before the end.
struct StreamGuard {
    state: Arc<MockState>,
    index: usize,
    finished: bool,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let finished = self.finished;
        self.state.update_stream(self.index, |log| {
            log.finished = finished;
            if !finished {
                log.dropped_at = Some(Instant::now());
            }
        });
    }
}

/// An SSE response sending `events` (each a complete event, blank line included), pausing
/// `chunk_delay` before each one after the first, and logging the stream for `streams()`.
fn sse_response(state: Arc<MockState>, events: Vec<String>, headers: &[(HeaderName, HeaderValue)]) -> Response {
    let delay = state.options.chunk_delay;
    let index = state.stream_started();
    let body = async_stream::stream! {
        let mut guard = StreamGuard { state: state.clone(), index, finished: false };
        for (i, event) in events.into_iter().enumerate() {
            if i > 0 && delay > Duration::ZERO {
                tokio::time::sleep(delay).await;
            }
            state.update_stream(index, |log| {
                log.chunks_sent += 1;
                log.last_chunk_at = Some(Instant::now());
            });
            yield Ok::<Bytes, Infallible>(Bytes::from(event));
        }
        guard.finished = true;
    };
    let mut response =
        ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], Body::from_stream(body))
            .into_response();
    for (name, value) in headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}
