//! Mock upstreams: a fake OpenAI API with deterministic answers in the real wire format,
//! streaming and not, tool calls, embeddings, usage, and fault modes chosen by model name.
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

mod openai;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
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
    /// The `Authorization: Bearer` value accepted.
    pub api_key: String,
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
}

/// Shared between the mock's handlers and its owner.
#[derive(Debug)]
pub(crate) struct MockState {
    options: MockOptions,
    logs: Mutex<Logs>,
}

impl MockState {
    fn record(&self, request: Recorded) {
        self.logs.lock().expect("mock log poisoned").requests.push(request);
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
        let app = openai::router(state.clone());
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(%err, "mock upstream stopped");
            }
        });
        Ok(Self { addr, state, task: Some(task) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of the fake OpenAI API (`http://127.0.0.1:port/v1`).
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Points the config's providers at this mock, with the key it expects.
    pub fn configure(&self, config: &mut Config) {
        if let Some(openai) = config.provider_mut("openai") {
            openai.base_url = self.openai_base_url();
            openai.api_key = Some(Secret(self.state.options.api_key.clone()));
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
    let options = MockOptions {
        chunk_delay: Duration::from_millis(args.chunk_delay_ms),
        record_requests: false,
        ..MockOptions::default()
    };
    let state = Arc::new(MockState { options, logs: Mutex::default() });
    println!("mock OpenAI API on http://{}/v1 (provider key: {MOCK_API_KEY})", args.listen);
    axum::serve(listener, openai::router(state).into_make_service()).with_graceful_shutdown(shutdown).await
}
