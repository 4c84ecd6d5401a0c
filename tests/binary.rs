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
    let mut command = Command::new(env!("CARGO_BIN_EXE_arouter"));
    command
        .args(["serve", "--mock-upstreams"])
        .env("AROUTER_LISTEN", "127.0.0.1:0")
        .env("AROUTER_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env_remove("AROUTER_MANAGEMENT_KEY")
        .env_remove("OPENAI_API_KEY")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
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
