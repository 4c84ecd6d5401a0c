//! `GET /api/v1/generation?id=` (and `/v1/generation`): the caller's own ledger record, in
//! ARouter's flat shape and OpenRouter's `data` shape; `GET /api/v1/providers`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Harness, assert_error, chat, sse_events};

/// Looks a generation up right after the response, without waiting for the ledger first: the
/// endpoint itself waits for the batch to land.
async fn lookup(h: &Harness, path: &str, key: &str, id: &str) -> Value {
    let response = h.get(&format!("{path}?id={id}"), key).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// Every field of OpenRouter's generation record that its SDK requires (key present; value may
/// be null for the nullable ones).
const OPENROUTER_FIELDS: &[&str] = &[
    "id",
    "model",
    "provider_name",
    "total_cost",
    "usage",
    "tokens_prompt",
    "tokens_completion",
    "native_tokens_prompt",
    "native_tokens_completion",
    "native_tokens_reasoning",
    "native_tokens_cached",
    "native_tokens_completion_images",
    "created_at",
    "latency",
    "generation_time",
    "moderation_latency",
    "streamed",
    "cancelled",
    "finish_reason",
    "native_finish_reason",
    "is_byok",
    "origin",
    "app_id",
    "upstream_id",
    "cache_discount",
    "upstream_inference_cost",
    "num_media_prompt",
    "num_media_completion",
    "num_search_results",
    "num_fetches",
    "num_input_audio_prompt",
    "api_type",
    "external_user",
    "router",
    "provider_responses",
    "data_region",
    "http_referer",
    "user_agent",
    "preset_id",
    "service_tier",
    "web_search_engine",
    "workspace_id",
];

/// The generation agrees with the `usage` the client was given, in both shapes.
fn assert_matches_usage(generation: &Value, usage: &Value) {
    let prompt = usage["prompt_tokens"].as_u64().unwrap();
    let completion = usage["completion_tokens"].as_u64().unwrap_or(0);
    let cost = usage["cost"].as_f64().unwrap();
    let g = &generation["usage"];
    assert_eq!(g["prompt_tokens"], prompt, "{generation}");
    assert_eq!(g["completion_tokens"], completion, "{generation}");
    assert_eq!(g["total_tokens"], prompt + completion, "{generation}");
    assert_eq!(g["cost"].as_f64().unwrap(), cost, "{generation}");
    assert_eq!(g["is_byok"], false);
    let d = &generation["data"];
    assert_eq!(d["tokens_prompt"], prompt);
    assert_eq!(d["tokens_completion"], completion);
    assert_eq!(d["native_tokens_prompt"], prompt);
    assert_eq!(d["native_tokens_completion"], completion);
    assert_eq!(d["total_cost"].as_f64().unwrap(), cost);
    assert_eq!(d["usage"].as_f64().unwrap(), cost, "OpenRouter's `usage` is the cost number");
}

#[tokio::test]
async fn non_streamed_chat_is_readable_right_after_the_response() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let response = h.post("/v1/chat/completions", &key).json(&chat("openai/gpt-5.4")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let id = answer["id"].as_str().unwrap();

    let g = lookup(&h, "/api/v1/generation", &key, id).await;
    assert_eq!(g["id"], id);
    assert_eq!(g["model"], "openai/gpt-5.4");
    assert_eq!(g["provider"], "openai");
    assert_eq!(g["streamed"], false);
    assert_eq!(g["cancelled"], false);
    assert_eq!(g["finish_reason"], answer["choices"][0]["finish_reason"]);
    assert_eq!(g["finish_reason"], "stop");
    assert!(g["latency_ms"].as_i64().unwrap() >= 0);
    assert_eq!(g["usage"]["prompt_tokens_details"], json!({ "cached_tokens": 0, "cache_write_tokens": 0 }));
    assert_eq!(g["usage"]["completion_tokens_details"], json!({ "reasoning_tokens": 0 }));
    assert_matches_usage(&g, &answer["usage"]);
    let created = chrono::DateTime::parse_from_rfc3339(g["created_at"].as_str().unwrap()).expect("RFC 3339");
    assert!((chrono::Utc::now() - created.with_timezone(&chrono::Utc)).num_seconds().abs() < 60);

    // OpenRouter's record.
    let d = &g["data"];
    for field in OPENROUTER_FIELDS {
        assert!(d.get(*field).is_some(), "data.{field} is missing: {d}");
    }
    assert_eq!(d["id"], id);
    assert_eq!(d["model"], "openai/gpt-5.4");
    assert_eq!(d["provider_name"], "OpenAI");
    assert_eq!(d["created_at"], g["created_at"]);
    assert_eq!(d["latency"], g["latency_ms"]);
    assert_eq!((&d["streamed"], &d["cancelled"], &d["is_byok"]), (&json!(false), &json!(false), &json!(false)));
    assert_eq!(d["finish_reason"], "stop");
    assert_eq!(d["api_type"], "completions");
    assert_eq!(d["origin"], "");
    assert_eq!(d["native_tokens_reasoning"], 0);
    assert_eq!(d["native_tokens_cached"], 0);
    assert!(d["moderation_latency"].is_null() && d["upstream_id"].is_null() && d["provider_responses"].is_null());
    let generation_time = d["generation_time"].as_i64().expect("the upstream answered, so this is known");
    assert!((0..=d["latency"].as_i64().unwrap()).contains(&generation_time));

    // `/v1/generation` is the same endpoint.
    assert_eq!(lookup(&h, "/v1/generation", &key, id).await, g);
}

#[tokio::test]
async fn streamed_chat_is_readable_right_after_the_stream() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let mut body = chat("openai/gpt-5.4");
    body["stream"] = true.into();
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-generation-id"].to_str().unwrap().to_owned();
    let events = sse_events(response).await;
    let chunks: Vec<Value> =
        events.iter().filter(|e| *e != "[DONE]").map(|e| serde_json::from_str(e).unwrap()).collect();
    let usage = chunks.iter().find(|c| !c["usage"].is_null()).map(|c| c["usage"].clone()).expect("a usage chunk");
    let finish = chunks.iter().find_map(|c| c["choices"][0]["finish_reason"].as_str()).expect("a finish_reason");

    let g = lookup(&h, "/api/v1/generation", &key, &id).await;
    assert_eq!(g["id"], id.as_str());
    assert_eq!(g["model"], "openai/gpt-5.4");
    assert_eq!(g["streamed"], true);
    assert_eq!(g["data"]["streamed"], true);
    assert_eq!(g["cancelled"], false);
    assert_eq!(g["finish_reason"], finish);
    assert_eq!(g["data"]["finish_reason"], finish);
    assert_matches_usage(&g, &usage);
}

#[tokio::test]
async fn embeddings_are_recorded_as_embeddings() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let response = h
        .post("/v1/embeddings", &key)
        .json(&json!({ "model": "openai/text-embedding-3-small", "input": "hello there" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-generation-id"].to_str().unwrap().to_owned();
    let answer: Value = response.json().await.unwrap();

    let g = lookup(&h, "/api/v1/generation", &key, &id).await;
    assert_eq!(g["model"], "openai/text-embedding-3-small");
    assert_eq!(g["streamed"], false);
    assert_eq!(g["data"]["api_type"], "embeddings");
    assert_eq!(g["usage"]["completion_tokens"], 0);
    assert_matches_usage(&g, &answer["usage"]);
}

#[tokio::test]
async fn another_keys_generation_is_indistinguishable_from_an_unknown_one() {
    let h = Harness::start().await;
    let owner = h.api_key().await;
    let other = h.api_key().await;
    let answer: Value = h
        .post("/v1/chat/completions", &owner)
        .json(&chat("openai/gpt-5.4"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = answer["id"].as_str().unwrap();
    h.generation(id).await; // certainly in the store now

    let theirs = h.get(&format!("/api/v1/generation?id={id}"), &other).send().await.unwrap();
    let theirs = assert_error(theirs, 404, "not_found_error", "not found").await;
    let unknown_id = "gen-1775226820-719aea642d4b4d279c8977930000abcd";
    let unknown = h.get(&format!("/api/v1/generation?id={unknown_id}"), &other).send().await.unwrap();
    let unknown = assert_error(unknown, 404, "not_found_error", "not found").await;
    // Same message apart from the id itself.
    assert_eq!(
        theirs["error"]["message"].as_str().unwrap().replace(id, "<id>"),
        unknown["error"]["message"].as_str().unwrap().replace(unknown_id, "<id>")
    );
    // The owner still sees it.
    assert_eq!(lookup(&h, "/api/v1/generation", &owner, id).await["id"], id);
}

#[tokio::test]
async fn unknown_ids_are_404_after_a_bounded_wait() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let started = Instant::now();
    let response =
        h.get("/api/v1/generation?id=gen-1775226820-00000000000000000000000000000000", &key).send().await.unwrap();
    assert_error(response, 404, "not_found_error", "gen-1775226820-00000000000000000000000000000000").await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(500), "waits for the ledger before giving up: {waited:?}");
    assert!(waited < Duration::from_secs(3), "but not long: {waited:?}");
}

#[tokio::test]
async fn missing_or_malformed_ids_are_400() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    for path in ["/api/v1/generation", "/api/v1/generation?id=", "/v1/generation?other=1"] {
        let response = h.get(path, &key).send().await.unwrap();
        assert_error(response, 400, "invalid_request_error", "'id'").await;
    }
    for bad in ["chatcmpl-123", "gen-", "gen-1%20OR%201=1", &format!("gen-{}", "a".repeat(300))] {
        let response = h.get(&format!("/api/v1/generation?id={bad}"), &key).send().await.unwrap();
        assert_error(response, 400, "invalid_request_error", "'id'").await;
    }
}

#[tokio::test]
async fn generation_lookup_needs_an_api_key() {
    let h = Harness::start().await;
    let id = "gen-1775226820-00000000000000000000000000000000";
    let response = h.http.get(h.url(&format!("/api/v1/generation?id={id}"))).send().await.unwrap();
    assert_error(response, 401, "authentication_error", "").await;
    let response = h.get(&format!("/api/v1/generation?id={id}"), &h.mgmt_key).send().await.unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn providers_lists_every_configured_provider() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let mut lists = Vec::new();
    for k in [&key, &h.mgmt_key] {
        let response = h.get("/api/v1/providers", k).send().await.unwrap();
        assert_eq!(response.status(), 200);
        lists.push(response.json::<Value>().await.unwrap());
    }
    assert_eq!(lists[0], lists[1], "any valid key reads the same list");
    let data = lists[0]["data"].as_array().unwrap();
    let ids: Vec<&str> = data.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["OpenAI", "Anthropic", "Google"]);
    let models = h.get("/api/v1/models?output_modalities=all", &key).send().await.unwrap();
    let models: Value = models.json().await.unwrap();
    for p in data {
        let slug = p["slug"].as_str().unwrap();
        assert_eq!(p["name"], p["id"]);
        assert_eq!(p["is_byok_supported"], false);
        assert_eq!(p["configured"], true, "the harness gives every provider a key: {p}");
        assert!(p.get("privacy_policy_url").is_some(), "the OpenRouter SDK requires it (null is fine)");
        let in_catalog = models["data"].as_array().unwrap().iter().filter(|m| m["owned_by"] == slug).count();
        assert!(in_catalog > 0, "{slug}");
        assert_eq!(p["model_count"], in_catalog, "{slug}");
    }
    let slugs: Vec<&str> = data.iter().map(|p| p["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["openai", "anthropic", "google"]);

    let response = h.http.get(h.url("/api/v1/providers")).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn providers_without_a_key_are_listed_as_not_configured() {
    let h = Harness::with(Default::default(), |config| {
        config.provider_mut("google").unwrap().api_key = None;
    })
    .await;
    let key = h.api_key().await;
    let list: Value = h.get("/api/v1/providers", &key).send().await.unwrap().json().await.unwrap();
    let configured: Vec<(&str, bool)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["slug"].as_str().unwrap(), p["configured"].as_bool().unwrap()))
        .collect();
    assert_eq!(configured, [("openai", true), ("anthropic", true), ("google", false)]);
}
