//! `POST /v1/chat/completions` without streaming: routing, rewriting, fidelity, accounting.

use serde_json::{Value, json};

use crate::common::{Harness, assert_error, chat};

#[tokio::test]
async fn forwards_to_openai_with_provider_key_and_native_model() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let response = h.post("/v1/chat/completions", &key).json(&chat("openai/gpt-5.4")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let generation_id = response.headers()["x-generation-id"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();

    // What the client got.
    let id = body["id"].as_str().unwrap();
    assert_eq!(id, generation_id);
    let parts: Vec<&str> = id.splitn(3, '-').collect();
    assert_eq!(parts[0], "gen");
    assert!(parts[1].parse::<i64>().is_ok());
    assert!(parts[2].len() == 32 && parts[2].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(body["model"], "openai/gpt-5.4");
    assert_eq!(body["object"], "chat.completion");
    assert!(body["choices"][0]["message"]["content"].as_str().unwrap().contains("You said: Hello!"));
    assert_eq!(body["usage"]["prompt_tokens"], 4);
    assert_eq!(body["usage"]["is_byok"], false);
    assert!(body["usage"]["cost"].as_f64().unwrap() > 0.0);

    // What the upstream received.
    let requests = h.mock.requests();
    assert_eq!(requests.len(), 1);
    let upstream = &requests[0];
    assert_eq!(upstream.path, "/v1/chat/completions");
    assert_eq!(upstream.headers["authorization"], format!("Bearer {}", arouter::mock::MOCK_API_KEY));
    assert_eq!(upstream.json()["model"], "gpt-5.4");
    // One `Host`, the upstream's authority (the gateway writes it ahead for plain-HTTP endpoints).
    let base: reqwest::Url = h.mock.openai_base_url().parse().unwrap();
    let hosts: Vec<_> = upstream.headers.get_all("host").iter().collect();
    assert_eq!(hosts, [format!("127.0.0.1:{}", base.port().unwrap()).as_str()]);
    for (name, value) in &upstream.headers {
        assert!(!value.to_str().unwrap_or("").contains(&key), "client key leaked upstream in {name}");
    }
}

#[tokio::test]
async fn unknown_fields_reach_the_upstream_byte_for_byte() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let body = r#"{"model":"gpt-5.4","messages":[{"role":"user","content":"Hi"}],"temperature":0.70,"x_vendor":{"nested":[1.0,2e3,"\u00e9"]},"metadata":{"a":"b"}}"#;
    let response = h
        .post("/v1/chat/completions", &key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["model"], "openai/gpt-5.4", "bare ids are OpenAI's and answered with the prefix");
    let sent = String::from_utf8(h.mock.requests()[0].body.to_vec()).unwrap();
    assert_eq!(
        sent,
        r#"{"model":"gpt-5.4","messages":[{"role":"user","content":"Hi"}],"temperature":0.70,"x_vendor":{"nested":[1.0,2e3,"\u00e9"]},"metadata":{"a":"b"}}"#
    );
}

#[tokio::test]
async fn every_documented_key_transport_works() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let url = h.url("/v1/chat/completions");
    let body = chat("openai/gpt-5.4");
    let bearer = h.http.post(&url).bearer_auth(&key).json(&body).send().await.unwrap();
    let x_api_key = h.http.post(&url).header("X-Api-Key", &key).json(&body).send().await.unwrap();
    let query = h.http.post(format!("{url}?key={key}")).json(&body).send().await.unwrap();
    let goog = h.http.post(&url).header("x-goog-api-key", &key).json(&body).send().await.unwrap();
    for response in [bearer, x_api_key, query, goog] {
        assert_eq!(response.status(), 200);
    }
    assert_eq!(h.upstream_calls(), 4);
    assert!(h.mock.requests().iter().all(|r| r.query.is_none()), "the ?key= never goes upstream");
}

#[tokio::test]
async fn openrouter_base_path_serves_inference_too() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let response = h.post("/api/v1/chat/completions", &key).json(&chat("openai/gpt-5.4")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "openai/gpt-5.4");
    let embeddings = h
        .post("/api/v1/embeddings", &key)
        .json(&json!({ "model": "openai/text-embedding-3-small", "input": "hello" }))
        .send()
        .await
        .unwrap();
    assert_eq!(embeddings.status(), 200);
    let models = h.get("/api/v1/models", &key).send().await.unwrap();
    assert_eq!(models.status(), 200);
    let models: Value = models.json().await.unwrap();
    assert!(models["data"].as_array().unwrap().iter().any(|m| m["id"] == "openai/gpt-5.4"));
}

#[tokio::test]
async fn every_request_is_recorded_and_charged_exactly() {
    let h = Harness::start().await;
    let (key, created) = h.create_key(json!({ "name": "metered", "limit": 10, "limit_reset": "daily" })).await;
    assert_eq!(created["usage"], 0.0);
    let response = h.post("/v1/chat/completions", &key).json(&chat("openai/gpt-5.4")).send().await.unwrap();
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    let record = h.generation(id).await;
    // gpt-5.4: $2.50 / M prompt, $15 / M completion; the mock reports usage deterministically.
    let prompt = body["usage"]["prompt_tokens"].as_i64().unwrap();
    let completion = body["usage"]["completion_tokens"].as_i64().unwrap();
    assert_eq!(record.usage.prompt_tokens as i64, prompt);
    assert_eq!(record.usage.completion_tokens as i64, completion);
    assert_eq!(record.cost_nano, prompt * 2_500 + completion * 15_000);
    assert_eq!((record.status, record.streamed, record.cancelled), (200, false, false));
    assert_eq!(record.model, "openai/gpt-5.4");
    assert_eq!(record.native_model, "gpt-5.4");
    assert_eq!(record.finish_reason.as_deref(), Some("stop"));

    let current: Value = h.get("/api/v1/key", &key).send().await.unwrap().json().await.unwrap();
    let usd = record.cost_nano as f64 / 1e9;
    assert_eq!(current["data"]["usage"], usd);
    assert_eq!(current["data"]["usage_daily"], usd);
    assert_eq!(current["data"]["limit_remaining"], 10.0 - usd);
    assert_eq!(body["usage"]["cost"], usd);
}

#[tokio::test]
async fn bad_input_is_a_400_and_never_reaches_the_upstream() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let cases: Vec<(&str, &str)> = vec![
        ("", "not valid JSON"),
        ("{", "not valid JSON"),
        ("[1]", "not valid JSON"),
        (r#"{"messages":[{"role":"user","content":"x"}]}"#, "'model' is required"),
        (r#"{"model":"gpt-5.4"}"#, "'messages' is required"),
        (r#"{"model":"gpt-5.4","messages":"hi"}"#, "'messages' must be an array"),
        (r#"{"model":"gpt-5.4","messages":[]}"#, "at least one message"),
        (r#"{"model":"gpt-5.4","messages":[{"role":"user","content":"x"}],"max_tokens":"abc"}"#, "'max_tokens'"),
        (r#"{"model":"gpt-5.4","messages":[{"role":"user","content":"x"}],"temperature":5}"#, "'temperature'"),
        (r#"{"model":"nosuch/model","messages":[{"role":"user","content":"x"}]}"#, "unknown provider 'nosuch'"),
    ];
    for (body, fragment) in cases {
        let response = h.post("/v1/chat/completions", &key).body(body).send().await.unwrap();
        assert_error(response, 400, "invalid_request_error", fragment).await;
    }
    let nested = format!(r#"{{"model":"gpt-5.4","messages":{}}}"#, "[".repeat(50_000));
    let response = h.post("/v1/chat/completions", &key).body(nested).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let invalid_utf8 = b"{\"model\":\"gpt-5.4\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}".to_vec();
    let response = h.post("/v1/chat/completions", &key).body(invalid_utf8).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(h.upstream_calls(), 0);
}

#[tokio::test]
async fn oversized_bodies_get_413_with_or_without_content_length() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let big =
        format!(r#"{{"model":"gpt-5.4","messages":[{{"role":"user","content":"{}"}}]}}"#, "a".repeat(11 * 1024 * 1024));
    let response = h.post("/v1/chat/completions", &key).body(big.clone()).send().await.unwrap();
    assert_error(response, 413, "invalid_request_error", "larger than 10 MB").await;
    let chunks = futures_util::stream::iter(
        big.into_bytes().chunks(1 << 20).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
    );
    let response = h.post("/v1/chat/completions", &key).body(reqwest::Body::wrap_stream(chunks)).send().await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(h.upstream_calls(), 0);
}

#[tokio::test]
async fn upstream_failures_map_to_documented_statuses_without_leaking() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let send = |model: &str| h.post("/v1/chat/completions", &key).json(&chat(model)).send();
    assert_error(send("openai/fault-500").await.unwrap(), 502, "server_error", "upstream request failed").await;
    assert_error(
        send("openai/fault-400").await.unwrap(),
        400,
        "invalid_request_error",
        "mock: this request was rejected",
    )
    .await;
    let limited = send("openai/fault-429").await.unwrap();
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_error(limited, 429, "rate_limit_error", "rate limiting").await;
    let malformed = send("openai/fault-malformed").await.unwrap();
    let body = assert_error(malformed, 502, "server_error", "invalid response from upstream").await;
    let text = body.to_string();
    assert!(
        !text.contains("127.0.0.1") && !text.contains(&h.mock.addr().port().to_string()),
        "upstream address leaked: {text}"
    );
}

#[tokio::test]
async fn a_bad_provider_key_is_the_gateways_fault_not_the_clients() {
    let h = Harness::with(Default::default(), |config| {
        config.provider_mut("openai").unwrap().api_key = Some(arouter::config::Secret("sk-wrong".into()));
    })
    .await;
    let key = h.api_key().await;
    let response = h.post("/v1/chat/completions", &key).json(&chat("openai/gpt-5.4")).send().await.unwrap();
    let body = assert_error(response, 502, "server_error", "rejected the gateway's credentials").await;
    assert!(!body.to_string().contains("sk-wrong"));
}

#[tokio::test]
async fn an_unconfigured_provider_answers_503() {
    let h = Harness::with(Default::default(), |config| config.provider_mut("openai").unwrap().api_key = None).await;
    let key = h.api_key().await;
    let response = h.post("/v1/chat/completions", &key).json(&chat("openai/gpt-5.4")).send().await.unwrap();
    assert_error(response, 503, "server_error", "provider 'openai' is not configured").await;
    assert_eq!(h.upstream_calls(), 0);
}

#[tokio::test]
async fn embeddings_forward_strings_and_arrays() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    for (input, count) in [(json!("hello world"), 1), (json!(["a", "b", "c"]), 3)] {
        let response = h
            .post("/v1/embeddings", &key)
            .json(&json!({ "model": "openai/text-embedding-3-small", "input": input, "dimensions": 4 }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let id = response.headers()["x-generation-id"].to_str().unwrap().to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["model"], "openai/text-embedding-3-small");
        assert_eq!(body["data"].as_array().unwrap().len(), count);
        assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 4);
        let upstream = h.mock.requests().last().unwrap().json();
        assert_eq!(upstream["model"], "text-embedding-3-small");
        assert_eq!(upstream["input"], input);
        assert_eq!(upstream["dimensions"], 4);
        let record = h.generation(&id).await;
        assert_eq!(record.api, "embeddings");
        assert_eq!(record.usage.prompt_tokens, body["usage"]["prompt_tokens"].as_u64().unwrap());
        assert_eq!(record.cost_nano, record.usage.prompt_tokens as i64 * 20);
    }
    // The OpenAI SDK's default: base64 float32, passed through untouched.
    let response = h
        .post("/v1/embeddings", &key)
        .json(&json!({ "model": "openai/text-embedding-3-small", "input": "x", "encoding_format": "base64" }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert!(body["data"][0]["embedding"].is_string());
}

/// `--busy-poll-us`: the workers spin between requests, and everything still works: answers,
/// streams, and what the upstream got.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_polling_gateway_answers_and_streams_as_usual() {
    let h =
        Harness::with(Default::default(), |config| config.busy_poll = Some(std::time::Duration::from_millis(2))).await;
    let key = h.api_key().await;
    for i in 0..20 {
        let body = json!({ "model": "openai/gpt-5.4", "messages": [{ "role": "user", "content": format!("n{i}") }] });
        let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert!(body["choices"][0]["message"]["content"].as_str().unwrap().contains(&format!("You said: n{i}")));
    }
    let mut streamed = chat("openai/gpt-5.4");
    streamed["stream"] = json!(true);
    let response = h.post("/v1/chat/completions", &key).json(&streamed).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let events = crate::common::sse_events(response).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{events:?}");
    let requests = h.mock.requests();
    assert_eq!(requests.len(), 21);
    assert_eq!(requests[7].json()["messages"][0]["content"], "n7");
    assert_eq!(requests[20].json()["stream"], true);
}
