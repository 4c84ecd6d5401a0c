//! Accounting cost benchmark (issue 5): requests per second through the gateway for a key
//! without a spend limit and a key with one (reservation + settlement on every request), same
//! run, same machine, so the ratio is what matters.
//!
//! `cargo run --release --example accounting_bench [seconds per run] [concurrency]`
//!
//! Everything runs in this one process on loopback: the mock upstream (no delay), the gateway
//! (SQLite in a temp dir, real ledger), and the load generator. The absolute numbers are
//! therefore lower than a dedicated setup would show; the full benchmark suite (separate
//! processes, pinned cores, oha) is tracked separately.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arouter::App;
use arouter::clock::Clock;
use arouter::config::Config;
use arouter::mock::{MockOptions, MockUpstream};
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let concurrency: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(32);

    let mock = MockUpstream::start(MockOptions {
        chunk_delay: Duration::ZERO,
        record_requests: false,
        ..MockOptions::default()
    })
    .await
    .expect("mock starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_tests();
    config.database_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    mock.configure(&mut config);
    let app = App::build(config, Clock::System).await.expect("gateway builds");
    let mgmt = app.bootstrap_key.clone().expect("fresh database prints a key");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(app.run(listener, std::future::pending()));

    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().expect("client");
    let create = |body: Value| {
        let http = http.clone();
        let (base, mgmt) = (base.clone(), mgmt.clone());
        async move {
            let created: Value = http
                .post(format!("{base}/api/v1/keys"))
                .bearer_auth(mgmt)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            created["key"].as_str().unwrap().to_owned()
        }
    };
    let unlimited = create(json!({ "name": "unlimited" })).await;
    let limited = create(json!({ "name": "limited", "limit": 1_000_000, "limit_reset": "monthly" })).await;

    println!("{seconds} s per run, concurrency {concurrency}, non-stream chat (openai/gpt-5.4 via the mock)");
    for (name, key) in [
        ("warm-up", &unlimited),
        ("no limit", &unlimited),
        ("limit", &limited),
        ("no limit", &unlimited),
        ("limit", &limited),
    ] {
        let rate = run(&http, &base, key, concurrency, Duration::from_secs(seconds)).await;
        if name != "warm-up" {
            println!("{name:>9}: {rate:>8.0} req/s");
        }
    }
}

async fn run(http: &reqwest::Client, base: &str, key: &str, concurrency: usize, length: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + length;
    let body = json!({ "model": "openai/gpt-5.4", "messages": [{ "role": "user", "content": "Hello!" }] });
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, url, key, body, done) =
            (http.clone(), format!("{base}/v1/chat/completions"), key.to_owned(), body.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < until {
                let response = http.post(&url).bearer_auth(&key).json(&body).send().await.unwrap();
                assert_eq!(response.status(), 200);
                let _ = response.bytes().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / length.as_secs_f64()
}
