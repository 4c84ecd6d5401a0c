//! The key management API (`/api/v1/keys…`), the current-key endpoint, and the key lifecycle
//! as inference sees it: every change takes effect on the very next request.

use arouter::App;
use arouter::clock::Clock;
use arouter::config::{Config, Secret};
use chrono::SecondsFormat;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{Harness, assert_error, chat};

const CHAT: &str = "/v1/chat/completions";

fn patch_key(h: &Harness, hash: &str, body: Value) -> reqwest::RequestBuilder {
    h.http.patch(h.url(&format!("/api/v1/keys/{hash}"))).bearer_auth(&h.mgmt_key).json(&body)
}

fn delete_key(h: &Harness, hash: &str) -> reqwest::RequestBuilder {
    h.http.delete(h.url(&format!("/api/v1/keys/{hash}"))).bearer_auth(&h.mgmt_key)
}

async fn send_chat(h: &Harness, key: &str, model: &str) -> reqwest::Response {
    h.post(CHAT, key).json(&chat(model)).send().await.unwrap()
}

/// Sends, asserts 200, and returns the JSON body.
async fn ok(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn hashes(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(|k| k["hash"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_documented_create_call_returns_the_key_once_and_every_field() {
    let h = Harness::start().await;
    let body = json!({"name":"backend-service","allowed_providers":["openai","anthropic"],"limit":150,"limit_reset":"monthly"});
    let response = h.post("/api/v1/keys", &h.mgmt_key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let key = body["key"].as_str().unwrap();
    assert!(key.starts_with("lr_live_") && is_hex(&key[8..], 48), "{key}");
    let d = &body["data"];
    let hash = d["hash"].as_str().unwrap();
    assert!(is_hex(hash, 64), "{hash}");
    assert_eq!(hash, hex::encode(Sha256::digest(key.as_bytes())));

    let label = d["label"].as_str().unwrap();
    assert!(label.starts_with("lr_live_") && label.contains("...") && !label.contains(&key[8..20]), "{label}");
    assert!(!d.to_string().contains(key), "the key object never carries the plaintext");
    assert_eq!(d["name"], "backend-service");
    assert_eq!(d["key_type"], "regular");
    assert_eq!(d["disabled"], false);
    assert_eq!(d["limit"], 150.0);
    assert_eq!(d["limit_remaining"], 150.0);
    assert_eq!(d["limit_reset"], "monthly");
    assert_eq!(d["allowed_providers"], json!(["openai", "anthropic"]));
    assert_eq!(d["allowed_models"], Value::Null);
    for field in ["usage", "usage_daily", "usage_weekly", "usage_monthly"] {
        assert_eq!(d[field], 0.0, "{field}");
    }
    for field in ["byok_usage", "byok_usage_daily", "byok_usage_weekly", "byok_usage_monthly"] {
        assert_eq!(d[field], 0.0, "{field}");
    }
    assert_eq!(d["include_byok_in_limit"], false);
    assert!(d["workspace_id"].is_string());
    let created = chrono::DateTime::parse_from_rfc3339(d["created_at"].as_str().unwrap()).unwrap();
    assert!((created.timestamp() - h.clock.now().timestamp()).abs() <= 1);
    for field in ["updated_at", "expires_at", "creator_user_id", "external_user", "last_used_at"] {
        assert!(d.as_object().unwrap().contains_key(field), "missing {field}");
        assert_eq!(d[field], Value::Null, "{field}");
    }

    // curl -d sends no JSON content type; the gateway reads the body anyway.
    let response = h.post("/api/v1/keys", &h.mgmt_key).body(r#"{"name":"curl-made","limit":5}"#).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let curl: Value = response.json().await.unwrap();
    assert_eq!((curl["data"]["name"].clone(), curl["data"]["limit"].clone()), (json!("curl-made"), json!(5.0)));
    assert_ne!(curl["key"], body["key"]);

    // The new key works at once.
    assert_eq!(send_chat(&h, key, "openai/gpt-5.4").await.status(), 200);
}

#[tokio::test]
async fn listing_pages_filters_disabled_and_never_shows_a_plaintext_key() {
    let h = Harness::start().await;
    let mut created = Vec::new();
    for i in 0..4 {
        created.push(h.create_key(json!({ "name": format!("k{i}") })).await);
    }
    let disabled = created[3].1["hash"].as_str().unwrap().to_owned();
    ok(patch_key(&h, &disabled, json!({ "disabled": true }))).await;

    let raw = h.get("/api/v1/keys", &h.mgmt_key).send().await.unwrap().text().await.unwrap();
    for (key, _) in &created {
        assert!(!raw.contains(key.as_str()), "a plaintext key is listed");
    }
    assert!(!raw.contains(&h.mgmt_key), "the management key is listed in plaintext");
    let listed = hashes(&serde_json::from_str(&raw).unwrap());
    for (_, object) in &created[..3] {
        assert!(listed.contains(&object["hash"].as_str().unwrap().to_owned()));
    }
    assert!(!listed.contains(&disabled), "disabled keys are hidden by default");

    let all = ok(h.get("/api/v1/keys?include_disabled=true", &h.mgmt_key)).await;
    let all_hashes = hashes(&all);
    assert!(all_hashes.contains(&disabled));
    assert_eq!(all_hashes.len(), listed.len() + 1);
    let shown = all["data"].as_array().unwrap().iter().find(|k| k["hash"] == disabled.as_str()).unwrap();
    assert_eq!((shown["disabled"].clone(), shown["name"].clone()), (json!(true), json!("k3")));
    let off = ok(h.get("/api/v1/keys?include_disabled=false", &h.mgmt_key)).await;
    assert_eq!(hashes(&off), listed);

    // offset skips into the same order.
    let page = ok(h.get("/api/v1/keys?offset=2&include_disabled=true", &h.mgmt_key)).await;
    assert_eq!(hashes(&page), all_hashes[2..].to_vec());
    let past = ok(h.get(&format!("/api/v1/keys?offset={}", all_hashes.len()), &h.mgmt_key)).await;
    assert_eq!(past, json!({ "data": [] }));
    for bad in ["offset=-1", "offset=abc", "offset=1.5"] {
        let response = h.get(&format!("/api/v1/keys?{bad}"), &h.mgmt_key).send().await.unwrap();
        assert_error(response, 400, "invalid_request_error", "'offset'").await;
    }
    let response = h.get("/api/v1/keys?include_disabled=maybe", &h.mgmt_key).send().await.unwrap();
    assert_error(response, 400, "invalid_request_error", "'include_disabled'").await;
}

#[tokio::test]
async fn get_patch_and_delete_by_hash() {
    let h = Harness::start().await;
    let (_, created) = h.create_key(json!({ "name": "svc", "limit": 10, "limit_reset": "daily" })).await;
    let hash = created["hash"].as_str().unwrap().to_owned();
    let got = ok(h.get(&format!("/api/v1/keys/{hash}"), &h.mgmt_key)).await;
    assert_eq!(got, json!({ "data": created }));
    for unknown in ["0".repeat(64), "f".repeat(64), "not-a-hash".to_owned()] {
        let response = h.get(&format!("/api/v1/keys/{unknown}"), &h.mgmt_key).send().await.unwrap();
        assert_error(response, 404, "not_found_error", "no API key").await;
        let response = patch_key(&h, &unknown, json!({ "name": "x" })).send().await.unwrap();
        assert_error(response, 404, "not_found_error", "no API key").await;
        assert_error(delete_key(&h, &unknown).send().await.unwrap(), 404, "not_found_error", "no API key").await;
    }

    // Each field on its own; the others stay as they were.
    let patch = |body: Value| ok(patch_key(&h, &hash, body));
    let d = patch(json!({ "name": "renamed" })).await["data"].clone();
    assert_eq!(
        (d["name"].clone(), d["limit"].clone(), d["limit_reset"].clone()),
        (json!("renamed"), json!(10.0), json!("daily"))
    );
    assert_eq!(
        (d["hash"].clone(), d["label"].clone(), d["created_at"].clone()),
        (created["hash"].clone(), created["label"].clone(), created["created_at"].clone())
    );
    let updated = chrono::DateTime::parse_from_rfc3339(d["updated_at"].as_str().unwrap()).unwrap();
    assert!((updated.timestamp() - h.clock.now().timestamp()).abs() <= 1);
    let d = patch(json!({ "disabled": true })).await["data"].clone();
    assert_eq!((d["disabled"].clone(), d["name"].clone()), (json!(true), json!("renamed")));
    let d = patch(json!({ "disabled": false })).await["data"].clone();
    assert_eq!(d["disabled"], false);
    let d = patch(json!({ "limit": 2.5 })).await["data"].clone();
    assert_eq!(
        (d["limit"].clone(), d["limit_remaining"].clone(), d["limit_reset"].clone()),
        (json!(2.5), json!(2.5), json!("daily"))
    );
    let d = patch(json!({ "limit_reset": "weekly" })).await["data"].clone();
    assert_eq!((d["limit_reset"].clone(), d["limit"].clone()), (json!("weekly"), json!(2.5)));
    let d = patch(json!({ "allowed_providers": ["anthropic"] })).await["data"].clone();
    assert_eq!(d["allowed_providers"], json!(["anthropic"]));
    let d = patch(json!({ "allowed_models": ["openai/gpt-5.4-mini"] })).await["data"].clone();
    assert_eq!(
        (d["allowed_models"].clone(), d["allowed_providers"].clone()),
        (json!(["openai/gpt-5.4-mini"]), json!(["anthropic"]))
    );
    let d = patch(json!({ "expires_at": "2099-01-01T00:00:00Z" })).await["data"].clone();
    assert_eq!(d["expires_at"], "2099-01-01T00:00:00.000Z");
    assert_eq!(d["name"], "renamed");
    let before_clear = d;

    // An empty body changes nothing but updated_at.
    let d = patch(json!({})).await["data"].clone();
    for field in ["name", "disabled", "limit", "limit_reset", "allowed_providers", "allowed_models", "expires_at"] {
        assert_eq!(d[field], before_clear[field], "{field}");
    }

    // null clears.
    let body = json!({ "limit": null, "limit_reset": null, "expires_at": null, "allowed_providers": null, "allowed_models": null });
    let d = patch(body).await["data"].clone();
    for field in ["limit", "limit_remaining", "limit_reset", "expires_at", "allowed_providers", "allowed_models"] {
        assert_eq!(d[field], Value::Null, "{field}");
    }
    assert_eq!(d["name"], "renamed");
    // The cleared state is what GET (and so the cache) holds.
    let got = ok(h.get(&format!("/api/v1/keys/{hash}"), &h.mgmt_key)).await;
    assert_eq!(got["data"]["limit"], Value::Null);
    assert_eq!(got["data"]["name"], "renamed");

    let response = delete_key(&h, &hash).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "deleted": true, "data": { "deleted": true } }));
    let response = h.get(&format!("/api/v1/keys/{hash}"), &h.mgmt_key).send().await.unwrap();
    assert_error(response, 404, "not_found_error", &hash).await;
    assert_error(delete_key(&h, &hash).send().await.unwrap(), 404, "not_found_error", "no API key").await;
    let response = patch_key(&h, &hash, json!({ "disabled": false })).send().await.unwrap();
    assert_error(response, 404, "not_found_error", "no API key").await;
    let listed = ok(h.get("/api/v1/keys?include_disabled=true", &h.mgmt_key)).await;
    assert!(!hashes(&listed).contains(&hash));
}

#[tokio::test]
async fn validation_errors_are_400_and_name_the_field() {
    let h = Harness::start().await;
    let (_, created) = h.create_key(json!({ "name": "target", "limit": 3 })).await;
    let hash = created["hash"].as_str().unwrap();
    let past = (h.clock.now() - chrono::Duration::minutes(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "limit_reset": "yearly" }), "'limit_reset'"),
        (json!({ "limit": -1 }), "'limit'"),
        (json!({ "limit": "150" }), "'limit'"),
        (json!({ "expires_at": "2030-01-01T00:00:00+02:00" }), "'expires_at' must be in UTC"),
        (json!({ "expires_at": past }), "'expires_at' must be in the future"),
        (json!({ "expires_at": "next tuesday" }), "'expires_at'"),
        (json!({ "allowed_providers": ["openai", "nosuch"] }), "'allowed_providers' names unknown provider 'nosuch'"),
        (json!({ "allowed_models": "gpt-5.4" }), "'allowed_models'"),
        (json!({ "name": "" }), "'name'"),
        (json!({ "disabled": "yes" }), "'disabled'"),
    ];
    let count = || async {
        ok(h.get("/api/v1/keys?include_disabled=true", &h.mgmt_key)).await["data"].as_array().unwrap().len()
    };
    let before = count().await;
    for (fields, fragment) in &cases {
        let mut create = fields.clone();
        if create.get("name").is_none() {
            create["name"] = json!("x");
        }
        let response = h.post("/api/v1/keys", &h.mgmt_key).json(&create).send().await.unwrap();
        assert_error(response, 400, "invalid_request_error", fragment).await;
        let response = patch_key(&h, hash, fields.clone()).send().await.unwrap();
        assert_error(response, 400, "invalid_request_error", fragment).await;
    }
    let response = h.post("/api/v1/keys", &h.mgmt_key).json(&json!({ "limit": 5 })).send().await.unwrap();
    assert_error(response, 400, "invalid_request_error", "'name' is required").await;
    let response = h.post("/api/v1/keys", &h.mgmt_key).body("{").send().await.unwrap();
    assert_error(response, 400, "invalid_request_error", "not valid JSON").await;

    // Nothing was created and the target was not touched.
    assert_eq!(count().await, before);
    let got = ok(h.get(&format!("/api/v1/keys/{hash}"), &h.mgmt_key)).await;
    assert_eq!(got["data"], created);
}

#[tokio::test]
async fn lifecycle_changes_apply_to_the_very_next_request() {
    let h = Harness::start().await;
    let (key, created) = h.create_key(json!({ "name": "life" })).await;
    let hash = created["hash"].as_str().unwrap();
    assert_eq!(send_chat(&h, &key, "openai/gpt-5.4").await.status(), 200);
    assert_eq!(h.upstream_calls(), 1);

    ok(patch_key(&h, hash, json!({ "disabled": true }))).await;
    assert_error(send_chat(&h, &key, "openai/gpt-5.4").await, 401, "authentication_error", "disabled").await;
    assert_error(h.get("/v1/key", &key).send().await.unwrap(), 401, "authentication_error", "disabled").await;
    assert_eq!(h.upstream_calls(), 1);

    ok(patch_key(&h, hash, json!({ "disabled": false }))).await;
    assert_eq!(send_chat(&h, &key, "openai/gpt-5.4").await.status(), 200);
    assert_eq!(h.upstream_calls(), 2);

    assert_eq!(delete_key(&h, hash).send().await.unwrap().status(), 200);
    assert_error(send_chat(&h, &key, "openai/gpt-5.4").await, 401, "authentication_error", "invalid api key").await;

    let unknown = format!("lr_live_{}", "0".repeat(48));
    assert_error(send_chat(&h, &unknown, "openai/gpt-5.4").await, 401, "authentication_error", "invalid api key").await;
    assert_error(
        send_chat(&h, "sk-something-else", "openai/gpt-5.4").await,
        401,
        "authentication_error",
        "invalid api key",
    )
    .await;
    let anonymous = h.http.post(h.url(CHAT)).json(&chat("openai/gpt-5.4")).send().await.unwrap();
    assert_error(anonymous, 401, "authentication_error", "missing or invalid Authorization header").await;
    let anonymous = h.http.get(h.url("/api/v1/keys")).send().await.unwrap();
    assert_error(anonymous, 401, "authentication_error", "missing").await;
    assert_eq!(h.upstream_calls(), 2);
}

#[tokio::test]
async fn expired_keys_are_refused_and_clearing_expiry_revives_them() {
    let h = Harness::start().await;
    let in_an_hour = (h.clock.now() + chrono::Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (key, created) = h.create_key(json!({ "name": "temp", "expires_at": in_an_hour })).await;
    let at = chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(at, chrono::DateTime::parse_from_rfc3339(&in_an_hour).unwrap());
    assert_eq!(send_chat(&h, &key, "openai/gpt-5.4").await.status(), 200);
    assert_eq!(h.upstream_calls(), 1);

    h.clock.advance(chrono::Duration::hours(2));
    assert_error(send_chat(&h, &key, "openai/gpt-5.4").await, 401, "authentication_error", "expired").await;
    assert_error(h.get("/api/v1/key", &key).send().await.unwrap(), 401, "authentication_error", "expired").await;
    assert_eq!(h.upstream_calls(), 1);
    // Still listed for its owner, who can lift the expiry.
    let hash = created["hash"].as_str().unwrap();
    ok(h.get(&format!("/api/v1/keys/{hash}"), &h.mgmt_key)).await;
    ok(patch_key(&h, hash, json!({ "expires_at": null }))).await;
    assert_eq!(send_chat(&h, &key, "openai/gpt-5.4").await.status(), 200);
    assert_eq!(h.upstream_calls(), 2);
}

#[tokio::test]
async fn management_and_api_keys_stay_in_their_lanes() {
    let h = Harness::start().await;
    let (key, created) = h.create_key(json!({ "name": "app" })).await;
    let hash = created["hash"].as_str().unwrap();
    let response = send_chat(&h, &h.mgmt_key, "openai/gpt-5.4").await;
    assert_error(response, 403, "forbidden_error", "management keys cannot call inference").await;
    let response = h
        .post("/v1/embeddings", &h.mgmt_key)
        .json(&json!({ "model": "openai/text-embedding-3-small", "input": "x" }))
        .send()
        .await
        .unwrap();
    assert_error(response, 403, "forbidden_error", "management keys").await;
    assert_eq!(h.upstream_calls(), 0);

    let only = "Only management keys";
    assert_error(h.get("/api/v1/keys", &key).send().await.unwrap(), 403, "forbidden_error", only).await;
    let response = h.post("/api/v1/keys", &key).json(&json!({ "name": "sneaky" })).send().await.unwrap();
    assert_error(response, 403, "forbidden_error", only).await;
    assert_error(h.get(&format!("/api/v1/keys/{hash}"), &key).send().await.unwrap(), 403, "forbidden_error", only)
        .await;
    let response = h
        .http
        .patch(h.url(&format!("/api/v1/keys/{hash}")))
        .bearer_auth(&key)
        .json(&json!({ "limit": 1e6 }))
        .send()
        .await
        .unwrap();
    assert_error(response, 403, "forbidden_error", only).await;
    let response = h.http.delete(h.url(&format!("/api/v1/keys/{hash}"))).bearer_auth(&key).send().await.unwrap();
    assert_error(response, 403, "forbidden_error", only).await;

    let listed = ok(h.get("/api/v1/keys", &h.mgmt_key)).await;
    assert!(listed["data"].as_array().unwrap().iter().all(|k| k["name"] != "sneaky"));
    let got = ok(h.get(&format!("/api/v1/keys/{hash}"), &h.mgmt_key)).await;
    assert_eq!(got["data"], created, "the API key could not change itself");
}

#[tokio::test]
async fn allowed_providers_and_models_are_enforced() {
    let h = Harness::start().await;
    let (anthropic_only, _) = h.create_key(json!({ "name": "a", "allowed_providers": ["anthropic"] })).await;
    let body = assert_error(send_chat(&h, &anthropic_only, "openai/gpt-5.4").await, 403, "forbidden_error", "").await;
    assert_eq!(body["error"]["message"], "provider 'openai' is not allowed for this API key");
    assert_error(send_chat(&h, &anthropic_only, "gpt-5.4").await, 403, "forbidden_error", "provider 'openai'").await;
    assert_eq!(h.upstream_calls(), 0);

    let (mini_only, _) = h.create_key(json!({ "name": "m", "allowed_models": ["openai/gpt-5.4-mini"] })).await;
    let response = send_chat(&h, &mini_only, "openai/gpt-5.4").await;
    assert_error(response, 403, "forbidden_error", "model 'openai/gpt-5.4' is not allowed for this API key").await;
    assert_eq!(h.upstream_calls(), 0);
    let response = send_chat(&h, &mini_only, "openai/gpt-5.4-mini").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["model"], "openai/gpt-5.4-mini");
    assert_eq!(h.upstream_calls(), 1);
    assert_eq!(h.mock.requests()[0].json()["model"], "gpt-5.4-mini");

    // Both lists at once: the provider must be allowed and the model listed.
    let (both, created) = h
        .create_key(json!({ "name": "b", "allowed_providers": ["openai"], "allowed_models": ["openai/gpt-5.4"] }))
        .await;
    assert_eq!(send_chat(&h, &both, "openai/gpt-5.4").await.status(), 200);
    assert_error(send_chat(&h, &both, "openai/gpt-5.4-mini").await, 403, "forbidden_error", "not allowed").await;
    assert_eq!(h.upstream_calls(), 2);
    // Widening the list takes effect on the next request.
    let hash = created["hash"].as_str().unwrap();
    ok(patch_key(&h, hash, json!({ "allowed_models": null }))).await;
    assert_eq!(send_chat(&h, &both, "openai/gpt-5.4-mini").await.status(), 200);
    assert_eq!(h.upstream_calls(), 3);
}

#[tokio::test]
async fn current_key_endpoint_describes_the_calling_key() {
    let h = Harness::start().await;
    let expires = "2099-06-30T12:00:00Z";
    let (key, created) =
        h.create_key(json!({ "name": "me", "limit": 20, "limit_reset": "weekly", "expires_at": expires })).await;
    for path in ["/api/v1/key", "/v1/key"] {
        let body = ok(h.get(path, &key)).await;
        let d = &body["data"];
        assert_eq!(d["label"], created["label"]);
        assert_eq!(
            (d["limit"].clone(), d["limit_remaining"].clone(), d["limit_reset"].clone()),
            (json!(20.0), json!(20.0), json!("weekly"))
        );
        for field in ["usage", "usage_daily", "usage_weekly", "usage_monthly", "byok_usage"] {
            assert_eq!(d[field], 0.0, "{field}");
        }
        assert_eq!(d["expires_at"], "2099-06-30T12:00:00.000Z");
        assert_eq!((d["is_free_tier"].clone(), d["is_management_key"].clone()), (json!(false), json!(false)));
        assert_eq!(d["is_provisioning_key"], false);
        assert_eq!(d["include_byok_in_limit"], false);
        let rate = &d["rate_limit"];
        assert!(rate["requests"].is_number() && rate["interval"].is_string() && rate["note"].is_string(), "{rate}");
        assert!(!body.to_string().contains(&key));
    }
    let other = ok(h.get("/v1/key", &h.mgmt_key)).await;
    assert_eq!(
        (other["data"]["is_management_key"].clone(), other["data"]["limit"].clone()),
        (json!(true), Value::Null)
    );
    assert!(other["data"]["label"].as_str().unwrap().starts_with("lr_mgmt_"));
    let via_header = h.http.get(h.url("/v1/key")).header("X-Api-Key", &key).send().await.unwrap();
    assert_eq!(via_header.json::<Value>().await.unwrap()["data"]["label"], created["label"]);
    assert_error(h.http.get(h.url("/api/v1/key")).send().await.unwrap(), 401, "authentication_error", "missing").await;

    let health = h.http.get(h.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["ledger"]["failing"], false, "{health}");
}

#[tokio::test]
async fn a_spent_limit_refuses_with_402_until_raised_or_reset() {
    let h = Harness::start().await;
    let (key, created) = h.create_key(json!({ "name": "tight", "limit": 0.0001 })).await;
    assert_eq!(created["limit_remaining"], 0.0001);
    // Admission only checks that something remains; this request then spends past the limit.
    let first = send_chat(&h, &key, "openai/gpt-5.4").await;
    assert_eq!(first.status(), 200);
    let cost = first.json::<Value>().await.unwrap()["usage"]["cost"].as_f64().unwrap();
    assert!(cost > 0.0001, "the mock answer must cost more than the limit, cost {cost}");
    let me = ok(h.get("/api/v1/key", &key)).await;
    assert_eq!((me["data"]["usage"].clone(), me["data"]["limit_remaining"].clone()), (json!(cost), json!(0.0)));

    let refused = send_chat(&h, &key, "openai/gpt-5.4").await;
    assert_error(refused, 402, "payment_required", "reached its limit").await;
    assert_eq!(h.upstream_calls(), 1);

    let hash = created["hash"].as_str().unwrap();
    let raised = ok(patch_key(&h, hash, json!({ "limit": 1 }))).await;
    assert_eq!(raised["data"]["usage"], cost, "patching keeps the spend");
    assert_eq!(send_chat(&h, &key, "openai/gpt-5.4").await.status(), 200);
    assert_eq!(h.upstream_calls(), 2);

    // A daily limit: spent today, fresh tomorrow.
    ok(patch_key(&h, hash, json!({ "limit": 0.0001, "limit_reset": "daily" }))).await;
    assert_error(send_chat(&h, &key, "openai/gpt-5.4").await, 402, "payment_required", "daily limit").await;
    h.clock.advance(chrono::Duration::days(1));
    let me = ok(h.get("/api/v1/key", &key)).await;
    assert_eq!((me["data"]["usage_daily"].clone(), me["data"]["limit_remaining"].clone()), (json!(0.0), json!(0.0001)));
    assert_eq!(send_chat(&h, &key, "openai/gpt-5.4").await.status(), 200);
    assert_eq!(h.upstream_calls(), 3);
}

fn sqlite_config(url: &str) -> Config {
    let mut config = Config::for_tests();
    config.database_url = url.to_owned();
    config
}

/// Every byte SQLite keeps for the database: the file, its WAL and shared-memory index.
fn database_bytes(path: &std::path::Path) -> Vec<u8> {
    // The WAL first: a checkpoint in between moves its pages into the file, never away.
    let mut bytes = Vec::new();
    for suffix in ["-wal", "-shm"] {
        bytes.extend(std::fs::read(format!("{}{suffix}", path.display())).unwrap_or_default());
    }
    bytes.extend(std::fs::read(path).unwrap());
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn the_bootstrap_key_is_created_once_stored_hashed_and_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boot.db");
    let url = format!("sqlite://{}", path.display());
    let first = App::build(sqlite_config(&url), Clock::System).await.unwrap();
    let mgmt = first.bootstrap_key.clone().expect("a first start creates a management key");
    assert!(mgmt.starts_with("lr_mgmt_") && is_hex(&mgmt[8..], 48), "{mgmt}");
    drop(first);
    let second = App::build(sqlite_config(&url), Clock::System).await.unwrap();
    assert_eq!(second.bootstrap_key, None, "the stored key is reused, not replaced");
    drop(second);

    let h = Harness::on_database(&url, Default::default(), |_| {}).await;
    assert!(h.mgmt_key.is_empty());
    let response = h.post("/api/v1/keys", &mgmt).json(&json!({ "name": "after-restart" })).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let hash = created["data"]["hash"].as_str().unwrap().to_owned();
    let answer: Value = send_chat(&h, &key, "openai/gpt-5.4").await.json().await.unwrap();
    let cost = answer["usage"]["cost"].as_f64().unwrap();
    let changes = json!({
        "name": "patched", "limit": 7, "limit_reset": "weekly", "allowed_providers": ["openai"],
        "allowed_models": ["openai/gpt-5.4"], "expires_at": "2099-01-01T00:00:00Z", "creator_user_id": "user-1"
    });
    let patch = h.http.patch(h.url(&format!("/api/v1/keys/{hash}"))).bearer_auth(&mgmt).json(&changes);
    let before = ok(patch).await["data"].clone();
    assert_eq!((before["name"].clone(), before["creator_user_id"].clone()), (json!("patched"), json!("user-1")));
    h.stop().await;

    // A restart keeps the key exactly as it was patched, and its spend from the ledger.
    let h = Harness::on_database(&url, Default::default(), |_| {}).await;
    let me = ok(h.get("/v1/key", &key)).await;
    assert_eq!(me["data"]["usage"], cost);
    let after = ok(h.get(&format!("/api/v1/keys/{hash}"), &mgmt)).await;
    assert_eq!(after["data"], before);
    h.stop().await;

    let bytes = database_bytes(&path);
    assert!(contains(&bytes, &hash), "sanity: the key's hash is in the database");
    assert!(contains(&bytes, &hex::encode(Sha256::digest(mgmt.as_bytes()))));
    for secret in [&mgmt, &key] {
        assert!(!contains(&bytes, secret), "a plaintext key is in the database");
        assert!(!contains(&bytes, &secret[8..]), "a key's secret part is in the database");
    }
}

#[tokio::test]
async fn an_env_management_key_replaces_the_bootstrap_key_and_is_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env.db");
    let url = format!("sqlite://{}", path.display());
    let env_key = format!("lr_mgmt_{}", "ab".repeat(24));
    let mut config = sqlite_config(&url);
    config.management_key = Some(Secret(env_key.clone()));
    let app = App::build(config, Clock::System).await.unwrap();
    assert_eq!(app.bootstrap_key, None);
    drop(app);

    let with_env = |c: &mut Config| c.management_key = Some(Secret(env_key.clone()));
    let h = Harness::on_database(&url, Default::default(), with_env).await;
    assert!(h.mgmt_key.is_empty(), "no key is created when one is configured");
    let stored = h.state.store.load_keys().await.unwrap();
    assert!(stored.is_empty(), "the configured key is never written: {stored:?}");
    let response = h.post("/api/v1/keys", &env_key).json(&json!({ "name": "from-env" })).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let key = response.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned();
    assert_eq!(send_chat(&h, &key, "openai/gpt-5.4").await.status(), 200);
    assert_error(send_chat(&h, &env_key, "openai/gpt-5.4").await, 403, "forbidden_error", "management keys").await;
    let me = ok(h.get("/api/v1/key", &env_key)).await;
    assert_eq!(me["data"]["is_management_key"], true);
    // The configured key is configuration: not listed, not patchable, not deletable.
    let env_hash = hex::encode(Sha256::digest(env_key.as_bytes()));
    let listed = ok(h.get("/api/v1/keys?include_disabled=true", &env_key)).await;
    assert!(listed["data"].as_array().unwrap().iter().all(|k| k["hash"] != env_hash.as_str()), "{listed}");
    let key_path = format!("/api/v1/keys/{env_hash}");
    let patch =
        h.http.patch(h.url(&key_path)).bearer_auth(&env_key).json(&json!({ "disabled": true })).send().await.unwrap();
    assert_eq!(patch.status(), 404);
    let delete = h.http.delete(h.url(&key_path)).bearer_auth(&env_key).send().await.unwrap();
    assert_eq!(delete.status(), 404);
    assert_eq!(ok(h.get("/api/v1/key", &env_key)).await["data"]["disabled"], false);
    h.stop().await;

    let bytes = database_bytes(&path);
    for secret in [&env_key, &key] {
        assert!(!contains(&bytes, secret), "a plaintext key is in the database");
    }
    assert!(!contains(&bytes, &hex::encode(Sha256::digest(env_key.as_bytes()))), "the env key is not stored at all");
}
