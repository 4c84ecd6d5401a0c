//! The test harness: a real gateway on an ephemeral port, backed by a temporary SQLite file
//! and pointed at a real mock upstream, driven over real HTTP.

use std::net::SocketAddr;
use std::time::Duration;

use arouter::App;
use arouter::clock::Clock;
use arouter::config::Config;
use arouter::mock::{MockOptions, MockUpstream};
use arouter::state::AppState;
use arouter::usage::GenerationRecord;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Harness {
    pub addr: SocketAddr,
    pub mock: MockUpstream,
    /// The bootstrap management key printed at first start.
    pub mgmt_key: String,
    pub state: AppState,
    /// A manual clock starting at the real time; `clock.advance` moves the gateway's "now".
    pub clock: Clock,
    pub http: reqwest::Client,
    pub db_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(MockOptions { chunk_delay: Duration::from_millis(5), ..MockOptions::default() }, |_| {}).await
    }

    pub async fn with(options: MockOptions, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db_url = format!("sqlite://{}", dir.path().join("arouter.db").display());
        let mut harness = Self::on_database(&db_url, options, tweak).await;
        harness._dir = Some(dir);
        harness
    }

    /// Starts a gateway over an existing database file.
    pub async fn on_database(db_url: &str, options: MockOptions, tweak: impl FnOnce(&mut Config)) -> Self {
        let mock = MockUpstream::start(options).await.unwrap();
        let mut config = Config::for_tests();
        config.database_url = db_url.to_owned();
        mock.configure(&mut config);
        tweak(&mut config);
        let clock = Clock::manual(chrono::Utc::now());
        let app = App::build(config, clock.clone()).await.unwrap();
        let mgmt_key = app.bootstrap_key.clone().unwrap_or_default();
        let state = app.state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            app.run(listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Self {
            addr,
            mock,
            mgmt_key,
            state,
            clock,
            http: reqwest::Client::new(),
            db_url: db_url.to_owned(),
            shutdown: Some(tx),
            task: Some(task),
            _dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn post(&self, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(key)
    }

    pub fn get(&self, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(key)
    }

    /// Creates an API key with the management key; returns (plaintext, key object).
    pub async fn create_key(&self, body: Value) -> (String, Value) {
        let response = self.post("/api/v1/keys", &self.mgmt_key).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 201, "create key: {}", response.text().await.unwrap());
        let body: Value = response.json().await.unwrap();
        (body["key"].as_str().unwrap().to_owned(), body["data"].clone())
    }

    /// An unrestricted API key.
    pub async fn api_key(&self) -> String {
        self.create_key(json!({ "name": "test" })).await.0
    }

    /// Waits (up to 5 s) for the ledger to commit a generation.
    pub async fn generation(&self, id: &str) -> GenerationRecord {
        for _ in 0..500 {
            if let Some(record) = self.state.store.get_generation(id).await.unwrap() {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("generation {id} was never recorded");
    }

    /// Number of requests the mock upstream received.
    pub fn upstream_calls(&self) -> usize {
        self.mock.requests().len()
    }

    /// Graceful shutdown: in-flight work finishes and the ledger is flushed.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task).await.expect("shutdown within 10 s").unwrap();
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A minimal chat body.
pub fn chat(model: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": "Hello!" }] })
}

/// Reads an SSE response into its `data:` payloads (comments skipped).
pub async fn sse_events(response: reqwest::Response) -> Vec<String> {
    let text = response.text().await.unwrap();
    text.split("\n\n")
        .filter_map(|event| event.lines().find_map(|l| l.strip_prefix("data: ")).map(str::to_owned))
        .collect()
}

/// Asserts an error response: status, ARouter/OpenRouter body shape, and a message fragment.
pub async fn assert_error(response: reqwest::Response, status: u16, kind: &str, fragment: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert_eq!(body["error"]["code"], status, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(fragment), "message {message:?} lacks {fragment:?}");
    body
}
