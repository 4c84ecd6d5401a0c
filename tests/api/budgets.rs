//! Spend limits under concurrency: admission reserves each request's worst-case cost and
//! settles the actual cost, so concurrent requests cannot overshoot a limit by more than one
//! request's estimate, and the recorded usage is exactly the sum of what succeeded.

use std::time::Duration;

use arouter::mock::MockOptions;
use serde_json::{Value, json};

use crate::common::Harness;

#[tokio::test]
async fn concurrent_requests_cannot_overshoot_a_limit() {
    // Slow answers, so the requests really are in flight together.
    let options = MockOptions { first_byte_delay: Duration::from_millis(150), ..MockOptions::default() };
    let h = Harness::with(options, |_| {}).await;
    // gpt-5.4: $2.50/M prompt, $15/M completion. With max_tokens 10 the mock answers 10 words:
    // 4 prompt + 10 completion tokens = 160_000 nano-USD a request. The limit covers 20.
    let per_request = 4 * 2_500 + 10 * 15_000;
    let limit_nano = 20 * per_request;
    let (key, _) = h.create_key(json!({ "name": "tight", "limit": limit_nano as f64 / 1e9 })).await;
    let body =
        json!({ "model": "openai/gpt-5.4", "max_tokens": 10, "messages": [{ "role": "user", "content": "Hello!" }] });

    let mut tasks = Vec::new();
    for _ in 0..200 {
        let request = h.post("/v1/chat/completions", &key).json(&body);
        tasks.push(tokio::spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }));
    }
    let mut succeeded = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            200 => succeeded.push(body),
            402 => assert_eq!(body["error"]["type"], "payment_required", "{body}"),
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    // The estimate: prompt by size (the messages' JSON, ~4 bytes a token) + 10 completion tokens.
    let estimate = (r#"[{"role":"user","content":"Hello!"}]"#.len() as u64).div_ceil(4) as i64 * 2_500 + 10 * 15_000;
    let spent: i64 = succeeded.iter().map(|b| (b["usage"]["cost"].as_f64().unwrap() * 1e9).round() as i64).sum();
    assert!(spent <= limit_nano + estimate, "overshoot: spent {spent} of {limit_nano} (bound {estimate})");
    assert!(succeeded.len() >= 18, "the budget was used: only {} requests succeeded", succeeded.len());
    assert!(succeeded.len() <= 21, "{} succeeded", succeeded.len());

    // Every success is in the ledger and on the key, exactly once.
    for body in &succeeded {
        let record = h.generation(body["id"].as_str().unwrap()).await;
        assert_eq!(record.cost_nano, per_request);
    }
    let current: Value = h.get("/api/v1/key", &key).send().await.unwrap().json().await.unwrap();
    assert_eq!((current["data"]["usage"].as_f64().unwrap() * 1e9).round() as i64, spent);
    assert_eq!(spent, succeeded.len() as i64 * per_request);
    // The hold of every refused or finished request was given back: a raised limit admits again.
    let hash = h.state.keys.snapshot().iter().find(|k| k.record.name == "tight").unwrap().record.hash.to_hex();
    let patch = h
        .http
        .patch(h.url(&format!("/api/v1/keys/{hash}")))
        .bearer_auth(&h.mgmt_key)
        .json(&json!({ "limit": (spent + per_request * 2) as f64 / 1e9 }))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    let again = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn failed_and_abandoned_requests_leave_no_reservation_behind() {
    let options = MockOptions { first_byte_delay: Duration::from_millis(300), ..MockOptions::default() };
    let h = Harness::with(options, |config| {
        // A priced model the mock always fails.
        let failing = arouter::catalog::RawModel {
            id: "openai/fault-500".into(),
            prompt: Some("1".into()),
            completion: Some("1".into()),
            ..Default::default()
        };
        config.catalog.merge(vec![failing]).unwrap();
        // One attempt per request, so the failures stay below the circuit breaker's threshold.
        config.retry.max_retries = 0;
    })
    .await;
    let (key, _) = h.create_key(json!({ "name": "held", "limit": 1.0 })).await;
    let reserved =
        || h.state.keys.snapshot().iter().find(|k| k.record.name == "held").unwrap().spend.lock().unwrap().reserved();
    let unpriced = json!({ "model": "openai/not-in-the-catalog", "messages": [{ "role": "user", "content": "x" }] });
    let refused = h.post("/v1/chat/completions", &key).json(&unpriced).send().await.unwrap();
    assert_eq!(refused.status(), 403, "a limited key refuses unpriced models");

    let failing =
        json!({ "model": "openai/fault-500", "max_tokens": 10, "messages": [{ "role": "user", "content": "x" }] });
    for _ in 0..3 {
        let response = h.post("/v1/chat/completions", &key).json(&failing).send().await.unwrap();
        assert_eq!(response.status(), 502);
    }
    let slow =
        json!({ "model": "openai/gpt-5.4", "max_tokens": 10, "messages": [{ "role": "user", "content": "Hello!" }] });
    for _ in 0..3 {
        // The client gives up while the upstream is still thinking: wait until the upstream has
        // the request, then drop the client's side.
        let before = h.upstream_calls();
        let request = h.post("/v1/chat/completions", &key).json(&slow);
        let client = tokio::spawn(async move { request.send().await.map(|r| r.status()) });
        for _ in 0..500 {
            if h.upstream_calls() > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(h.upstream_calls() > before, "the request reached the upstream");
        client.abort();
        assert!(client.await.is_err(), "the client gave up before the answer");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(reserved(), 0, "every hold was given back");
    let current: Value = h.get("/api/v1/key", &key).send().await.unwrap().json().await.unwrap();
    // Failures cost nothing; abandoned requests are charged their prompt estimate (the
    // upstream had it): 3 × ceil(37 / 4) tokens × $2.50/M.
    let expected = 3.0 * (r#"[{"role":"user","content":"Hello!"}]"#.len() as f64 / 4.0).ceil() * 2.5e-6;
    assert!((current["data"]["usage"].as_f64().unwrap() - expected).abs() < 1e-12, "{current}");
}

#[tokio::test]
async fn a_failing_database_loses_nothing_and_limited_keys_fail_closed() {
    let h = Harness::with(MockOptions::default(), |config| config.ledger_backlog_limit = 3).await;
    let free = h.api_key().await;
    let (limited, _) = h.create_key(json!({ "name": "limited", "limit": 10 })).await;
    let body = crate::common::chat("openai/gpt-5.4");
    h.state.store.inject_write_failures(true);

    let mut ids = Vec::new();
    for _ in 0..4 {
        let response = h.post("/v1/chat/completions", &free).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200, "requests are served from memory while the database is down");
        ids.push(response.headers()["x-generation-id"].to_str().unwrap().to_owned());
    }
    // Wait for the writer to notice.
    let mut health = Value::Null;
    for _ in 0..100 {
        health = h.http.get(h.url("/healthz")).send().await.unwrap().json().await.unwrap();
        if health["ledger"]["backlogged"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["ledger"]["failing"], true);
    assert!(health["ledger"]["pending"].as_u64().unwrap() >= 3, "{health}");
    let refused = h.post("/v1/chat/completions", &limited).json(&body).send().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let refused: Value = refused.json().await.unwrap();
    assert!(refused["error"]["message"].as_str().unwrap().contains("spend limit"), "{refused}");
    assert_eq!(
        h.post("/v1/chat/completions", &free).json(&body).send().await.unwrap().status(),
        200,
        "keys without a limit keep working"
    );

    // The database comes back: every record is committed, exactly once, and limits work again.
    h.state.store.inject_write_failures(false);
    for id in &ids {
        let record = h.generation(id).await;
        assert_eq!(&record.id, id);
    }
    for _ in 0..500 {
        health = h.http.get(h.url("/healthz")).send().await.unwrap().json().await.unwrap();
        if health["status"] == "ok" && health["ledger"]["pending"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(h.post("/v1/chat/completions", &limited).json(&body).send().await.unwrap().status(), 200);
    let current: Value = h.get("/api/v1/key", &free).send().await.unwrap().json().await.unwrap();
    let single: f64 = {
        let record = h.generation(&ids[0]).await;
        record.cost_nano as f64 / 1e9
    };
    assert!((current["data"]["usage"].as_f64().unwrap() - 5.0 * single).abs() < 1e-12, "{current}");
}

#[tokio::test]
async fn limits_reset_exactly_at_the_utc_period_boundary() {
    use arouter::keys::LimitReset;
    use chrono::{Datelike, Duration as Days, TimeZone, Utc};

    let h = Harness::start().await;
    let body = crate::common::chat("openai/gpt-5.4");
    for reset in [LimitReset::Daily, LimitReset::Weekly, LimitReset::Monthly] {
        let (key, _) =
            h.create_key(json!({ "name": reset.as_str(), "limit": 0.000001, "limit_reset": reset.as_str() })).await;
        assert_eq!(h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap().status(), 200);
        let spent = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
        assert_eq!(spent.status(), 402, "{reset:?}: over the limit");
        let now = h.clock.now();
        let start = reset.period_start(now);
        let next = match reset {
            LimitReset::Daily => start + Days::days(1),
            LimitReset::Weekly => start + Days::days(7),
            LimitReset::Monthly => {
                let (y, m) =
                    if start.month() == 12 { (start.year() + 1, 1) } else { (start.year(), start.month() + 1) };
                Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).unwrap()
            }
        };
        h.clock.advance(next - now - Days::milliseconds(1));
        let before = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
        assert_eq!(before.status(), 402, "{reset:?}: 1 ms before the boundary");
        h.clock.advance(Days::milliseconds(1));
        let current: Value = h.get("/api/v1/key", &key).send().await.unwrap().json().await.unwrap();
        assert_eq!(current["data"][format!("usage_{}", reset.as_str())], 0.0, "{reset:?}: {current}");
        assert!(current["data"]["usage"].as_f64().unwrap() > 0.0, "lifetime usage stays");
        let after = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
        assert_eq!(after.status(), 200, "{reset:?}: at the boundary");
    }
}
