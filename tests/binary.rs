//! End to end through the real binary: `arouter serve --mock-upstreams` on an ephemeral port,
//! the README's curl flow over HTTP, then the official OpenRouter, OpenAI, Anthropic and Google
//! (google-genai) Python SDKs against it (`tests/sdk/*_sdk_check.py`).
//!
//! The SDK checks need `pip install -r tests/sdk/requirements.txt` (`.ci/run` does it). Set
//! `AROUTER_SKIP_SDK_TESTS=1` to skip that part on a machine without Python.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Gateway {
    child: Child,
    base: String,
    bootstrap_key: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary and reads its address and bootstrap key from stdout.
fn start_gateway(db: &std::path::Path, extra_env: &[(&str, &str)]) -> (Gateway, Vec<String>) {
    start_gateway_logging(db, extra_env, Stdio::null())
}

/// `start_gateway` with the log (stderr) going to `stderr`.
fn start_gateway_logging(db: &std::path::Path, extra_env: &[(&str, &str)], stderr: Stdio) -> (Gateway, Vec<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_arouter"));
    command
        .args(["serve", "--mock-upstreams"])
        .env("AROUTER_LISTEN", "127.0.0.1:0")
        .env("AROUTER_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env_remove("AROUTER_MANAGEMENT_KEY")
        .env_remove("OPENAI_API_KEY")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(stderr);
    for (k, v) in extra_env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let base = loop {
        let line =
            rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("gateway printed its address");
        lines.push(line.clone());
        if let Some(url) = line.strip_prefix("arouter listening on ") {
            break url.to_owned();
        }
    };
    let bootstrap_key = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("lr_mgmt_"))
        .map(|k| format!("lr_mgmt_{k}"))
        .unwrap_or_default();
    (Gateway { child, base, bootstrap_key }, lines)
}

/// Runs `tests/sdk/<script>` with `python3` and the given environment; panics with its output
/// unless it exits 0 and prints OK.
async fn run_sdk_check(what: &'static str, script: &'static str, env: Vec<(&'static str, String)>) {
    let path = format!("{}/tests/sdk/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::task::spawn_blocking(move || {
        let mut command = Command::new("python3");
        command.arg(path);
        // The SDKs read their own variables (keys, base URLs, profiles, extra headers); the
        // checks must see only what they are given.
        for (name, _) in std::env::vars_os() {
            let text = name.to_string_lossy();
            if ["OPENAI_", "ANTHROPIC_", "OPENROUTER_", "GOOGLE_", "GEMINI_"]
                .iter()
                .any(|prefix| text.starts_with(prefix))
            {
                command.env_remove(&name);
            }
        }
        command.envs(env).output().expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.lines().any(|l| l == "OK"),
        "{what} SDK check failed ({script}; pip install -r tests/sdk/requirements.txt):\n{stdout}\n{stderr}"
    );
}

#[tokio::test]
async fn quickstart_works_offline_and_the_official_sdks_accept_every_answer() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("arouter.db");
    let (gateway, lines) = start_gateway(&db, &[]);
    assert!(gateway.bootstrap_key.len() == 8 + 48, "bootstrap key printed once: {lines:?}");
    let http = reqwest::Client::new();

    let health = http.get(format!("{}/healthz", gateway.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);

    // The README's curl flow, as curl sends it (form content type, body is JSON).
    let created = http
        .post(format!("{}/api/v1/keys", gateway.base))
        .bearer_auth(&gateway.bootstrap_key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(r#"{"name":"backend-service","allowed_providers":["openai","anthropic"],"limit":150,"limit_reset":"monthly"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let answer: Value = http
        .post(format!("{}/v1/chat/completions", gateway.base))
        .bearer_auth(&key)
        .json(&json!({ "model": "openai/gpt-5.4", "messages": [{ "role": "user", "content": "Hello!" }] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["model"], "openai/gpt-5.4");
    assert!(answer["choices"][0]["message"]["content"].as_str().unwrap().contains("Hello!"));

    if std::env::var("AROUTER_SKIP_SDK_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("AROUTER_SKIP_SDK_TESTS=1: skipping the OpenRouter, OpenAI, Anthropic and google-genai SDK checks");
    } else {
        run_sdk_check(
            "OpenRouter",
            "openrouter_sdk_check.py",
            vec![
                ("AROUTER_BASE_URL", format!("{}/api/v1", gateway.base)),
                ("AROUTER_API_KEY", key.clone()),
                ("AROUTER_MGMT_KEY", gateway.bootstrap_key.clone()),
                ("AROUTER_CHECK_MODELS", "1".to_owned()),
            ],
        )
        .await;
        let env = vec![("AROUTER_BASE", gateway.base.clone()), ("AROUTER_API_KEY", key)];
        run_sdk_check("OpenAI", "openai_sdk_check.py", env.clone()).await;
        run_sdk_check("Anthropic", "anthropic_sdk_check.py", env).await;
        // The key above allows only openai and anthropic; the Gemini surface needs google too.
        let created = http
            .post(format!("{}/api/v1/keys", gateway.base))
            .bearer_auth(&gateway.bootstrap_key)
            .json(&json!({ "name": "genai-sdk" }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        let genai_key = created["key"].as_str().unwrap().to_owned();
        let env = vec![("AROUTER_BASE", gateway.base.clone()), ("AROUTER_API_KEY", genai_key)];
        run_sdk_check("google-genai", "genai_sdk_check.py", env).await;
    }

    // A restart on the same database prints no new key, and the old one still works.
    drop(gateway);
    let first_key =
        lines.iter().find_map(|l| l.trim().strip_prefix("lr_mgmt_")).map(|k| format!("lr_mgmt_{k}")).unwrap();
    let (again, lines) = start_gateway(&db, &[]);
    assert!(again.bootstrap_key.is_empty(), "no second bootstrap key: {lines:?}");
    let listed = http.get(format!("{}/api/v1/keys", again.base)).bearer_auth(&first_key).send().await.unwrap();
    assert_eq!(listed.status(), 200);
}

#[tokio::test]
async fn kill_9_keeps_every_committed_generation_and_its_spend() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("arouter.db");
    let (mut gateway, _) = start_gateway(&db, &[]);
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{}/api/v1/keys", gateway.base))
        .bearer_auth(&gateway.bootstrap_key)
        .json(&json!({ "name": "crash", "limit": 100 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let mgmt = gateway.bootstrap_key.clone();
    let mut ids = Vec::new();
    let mut spent = 0.0;
    for _ in 0..20 {
        let answer: Value = http
            .post(format!("{}/v1/chat/completions", gateway.base))
            .bearer_auth(&key)
            .json(&json!({ "model": "openai/gpt-5.4", "messages": [{ "role": "user", "content": "Hello!" }] }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        spent += answer["usage"]["cost"].as_f64().unwrap();
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    // Past the flush window (a few ms while the database is healthy), then no graceful anything.
    tokio::time::sleep(Duration::from_millis(500)).await;
    gateway.child.kill().unwrap(); // SIGKILL
    gateway.child.wait().unwrap();

    let (again, _) = start_gateway(&db, &[]);
    for id in &ids {
        let record =
            http.get(format!("{}/api/v1/generation?id={id}", again.base)).bearer_auth(&key).send().await.unwrap();
        assert_eq!(record.status(), 200, "generation {id} survived the crash");
    }
    let current: Value =
        http.get(format!("{}/api/v1/key", again.base)).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
    let usage = current["data"]["usage"].as_f64().unwrap();
    assert!((usage - spent).abs() < 1e-9, "spend rebuilt from the ledger: {usage} vs {spent}");
    let listed = http.get(format!("{}/api/v1/keys", again.base)).bearer_auth(&mgmt).send().await.unwrap();
    assert_eq!(listed.status(), 200);
}

/// Creates an unrestricted API key with the management key.
async fn api_key(http: &reqwest::Client, base: &str, mgmt: &str) -> String {
    let created: Value = http
        .post(format!("{base}/api/v1/keys"))
        .bearer_auth(mgmt)
        .json(&json!({ "name": "test" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["key"].as_str().unwrap().to_owned()
}

/// A streamed chat request whose answer echoes `words` words (the mock sends one a chunk,
/// 20 ms apart).
fn long_stream(http: &reqwest::Client, base: &str, key: &str, words: usize) -> reqwest::RequestBuilder {
    let said = vec!["word"; words].join(" ");
    http.post(format!("{base}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({ "model": "openai/gpt-5.4", "stream": true, "messages": [{ "role": "user", "content": said }] }))
}

/// Reads a stream until its first chunk and returns the generation id in it.
async fn first_chunk_id(response: &mut reqwest::Response) -> (String, String) {
    let mut seen = String::new();
    while !seen.contains("\n\n") {
        seen.push_str(&String::from_utf8_lossy(&response.chunk().await.unwrap().expect("a first chunk")));
    }
    let data = seen.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let id = serde_json::from_str::<Value>(data).unwrap()["id"].as_str().unwrap().to_owned();
    (id, seen)
}

fn sigterm(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// Waits for the process to exit; returns its exit code and how long it took.
fn wait_exit(child: &mut Child, within: Duration) -> (Option<i32>, Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), start.elapsed());
        }
        assert!(start.elapsed() < within, "the gateway did not exit within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn generation(http: &reqwest::Client, base: &str, key: &str, id: &str) -> Value {
    let response = http.get(format!("{base}/api/v1/generation?id={id}")).bearer_auth(key).send().await.unwrap();
    assert_eq!(response.status(), 200, "generation {id} is in the ledger");
    response.json::<Value>().await.unwrap()["data"].clone()
}

#[tokio::test]
async fn sigterm_refuses_new_connections_and_lets_a_stream_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("arouter.db");
    let (mut gateway, _) = start_gateway(&db, &[]);
    let http = reqwest::Client::new();
    let key = api_key(&http, &gateway.base, &gateway.bootstrap_key).await;
    // About 3 s of stream.
    let mut response = long_stream(&http, &gateway.base, &key, 150).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let (id, mut body) = first_chunk_id(&mut response).await;
    sigterm(&gateway.child);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let addr = gateway.base.trim_start_matches("http://").to_owned();
    assert!(std::net::TcpStream::connect(&addr).is_err(), "new connections are refused while draining");
    while let Some(chunk) = response.chunk().await.unwrap() {
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(body.trim_end().ends_with("data: [DONE]"), "the stream completed normally: {body}");
    let (code, _) = wait_exit(&mut gateway.child, Duration::from_secs(10));
    assert_eq!(code, Some(0), "exit 0 after a graceful drain");

    let (again, _) = start_gateway(&db, &[]);
    let record = generation(&http, &again.base, &key, &id).await;
    assert_eq!(record["streamed"], true);
    assert_eq!(record["finish_reason"], "stop", "{record}");
    assert!(record["tokens_completion"].as_u64().unwrap() >= 150, "{record}");
}

#[tokio::test]
async fn past_the_drain_timeout_streams_are_cut_charged_and_the_process_exits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("arouter.db");
    let (mut gateway, _) = start_gateway(&db, &[("AROUTER_DRAIN_TIMEOUT_SECS", "1")]);
    let http = reqwest::Client::new();
    let key = api_key(&http, &gateway.base, &gateway.bootstrap_key).await;
    // About 20 s of stream, far past the 1 s drain.
    let mut response = long_stream(&http, &gateway.base, &key, 1000).send().await.unwrap();
    let (id, mut body) = first_chunk_id(&mut response).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    sigterm(&gateway.child);
    let (code, took) = wait_exit(&mut gateway.child, Duration::from_secs(5));
    assert_eq!(code, Some(0), "exit 0 after cutting what was left");
    assert!(took < Duration::from_secs(3), "exit within the drain timeout plus a margin: {took:?}");
    while let Ok(Some(chunk)) = response.chunk().await {
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!body.contains("[DONE]"), "the stream was cut");
    assert!(body.contains("the gateway is shutting down"), "the cut stream ends with an error chunk: {body}");
    assert!(body.contains("\"finish_reason\":\"error\""), "{body}");

    let (again, _) = start_gateway(&db, &[]);
    let record = generation(&http, &again.base, &key, &id).await;
    assert_eq!(record["streamed"], true);
    let tokens = record["tokens_completion"].as_u64().unwrap();
    assert!(tokens > 0 && tokens < 1000, "charged for what was produced: {record}");
}

#[tokio::test]
async fn no_key_and_no_upstream_address_in_trace_logs_or_answers() {
    const MGMT: &str = "lr_mgmt_0123456789abcdef0123456789abcdef0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("arouter.db");
    let log_path = dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let env = [("RUST_LOG", "trace"), ("AROUTER_MANAGEMENT_KEY", MGMT)];
    let (mut gateway, stdout) = start_gateway_logging(&db, &env, Stdio::from(log));
    let http = reqwest::Client::new();
    let key = api_key(&http, &gateway.base, MGMT).await;
    let base = gateway.base.clone();
    let mut answers = Vec::new();
    let chat = |model: &str, stream: bool| json!({ "model": model, "stream": stream, "max_tokens": 20, "messages": [{ "role": "user", "content": "hi" }] });
    let contents = json!({ "contents": [{ "role": "user", "parts": [{ "text": "hi" }] }] });
    let mut requests = Vec::new();
    for model in
        ["openai/gpt-5.4", "openai/fault-500", "openai/fault-429", "openai/fault-malformed", "anthropic/fault-401"]
    {
        requests.push(http.post(format!("{base}/v1/chat/completions")).bearer_auth(&key).json(&chat(model, false)));
    }
    for model in ["openai/fault-cut", "openai/fault-midstream-error", "anthropic/fault-cut"] {
        requests.push(http.post(format!("{base}/v1/chat/completions")).bearer_auth(&key).json(&chat(model, true)));
    }
    for model in ["claude-sonnet-4.6", "fault-401", "fault-500"] {
        let url = format!("{base}/v1/messages");
        requests.push(http.post(&url).header("x-api-key", &key).json(&chat(model, false)));
        requests.push(http.post(&url).header("x-api-key", &key).json(&chat(model, true)));
    }
    for model in ["gemini-2.5-flash", "fault-400", "fault-500", "fault-cut"] {
        let generate = format!("{base}/v1beta/models/{model}:generateContent?key={key}");
        requests.push(http.post(&generate).json(&contents));
        let stream = format!("{base}/v1beta/models/{model}:streamGenerateContent?alt=sse&key={key}");
        requests.push(http.post(&stream).json(&contents));
        let header = format!("{base}/v1beta/models/{model}:generateContent");
        requests.push(http.post(&header).header("x-goog-api-key", &key).json(&contents));
    }
    // Refused keys, a management key on inference, bad input.
    requests.push(http.post(format!("{base}/v1beta/models/gemini-2.5-flash:generateContent?key=lr_live_wrong")));
    requests
        .push(http.post(format!("{base}/v1/chat/completions")).bearer_auth(MGMT).json(&chat("openai/gpt-5.4", false)));
    requests.push(http.post(format!("{base}/v1/chat/completions")).bearer_auth(&key).body("{"));
    requests.push(http.get(format!("{base}/api/v1/keys")).bearer_auth(MGMT));
    for request in requests {
        let response = request.send().await.unwrap();
        let headers = format!("{:?}", response.headers());
        answers.push(format!("{headers} {}", response.text().await.unwrap_or_default()));
    }
    sigterm(&gateway.child);
    let (code, _) = wait_exit(&mut gateway.child, Duration::from_secs(10));
    assert_eq!(code, Some(0));

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "the log ran at trace level");
    assert!(log.contains("upstream error"), "the fault paths were logged");
    let own = gateway.base.trim_start_matches("http://");
    let listening = format!("arouter listening on http://{own}");
    let stdout: Vec<&String> = stdout.iter().filter(|l| **l != listening).collect();
    let texts = [("stderr", log.clone()), ("stdout", format!("{stdout:?}")), ("answers", answers.join("\n"))];
    for (name, text) in &texts {
        for secret in [key.as_str(), MGMT, arouter::mock::MOCK_API_KEY, "key=", "sk-mock"] {
            assert!(!text.contains(secret), "{name} contains {secret:?}");
        }
        for (at, _) in text.match_indices("127.0.0.1:") {
            let rest = &text[at..];
            assert!(rest.starts_with(own), "{name} names another local address: {}", &rest[..rest.len().min(40)]);
        }
        assert!(!text.contains("localhost"), "{name} names a host");
    }
}
