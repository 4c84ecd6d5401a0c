//! Providers from the config file (an OpenAI-compatible one with extra headers and prices, a
//! keyless local one), several upstream keys per provider, and the raw proxy `/{provider}/v1/…`.

use std::collections::HashMap;
use std::time::Duration;

use arouter::config::{Config, RawConfig, ServeArgs};
use arouter::mock::{MOCK_API_KEY, MockOptions};
use serde_json::{Value, json};

use crate::common::{Harness, assert_error, chat};

fn serve_args() -> ServeArgs {
    ServeArgs {
        listen: ([127, 0, 0, 1], 0).into(),
        database_url: "sqlite::memory:".into(),
        management_key: None,
        config: None,
        mock_upstreams: false,
        openai_api_key: None,
        openai_base_url: None,
        anthropic_api_key: None,
        anthropic_base_url: None,
        gemini_api_key: None,
        gemini_base_url: None,
        drain_timeout_secs: None,
        busy_poll_us: None,
    }
}

/// Applies a config file to the harness config: `{mock}` in `toml` is the mock's OpenAI base
/// URL, `env` the only environment variables set. Providers the file names replace the
/// harness's; the catalog is the file's.
fn apply(config: &mut Config, toml: &str, env: &[(&str, &str)]) {
    let base = config.provider("openai").unwrap().base_url.clone();
    let raw = RawConfig::parse(&toml.replace("{mock}", &base)).expect("test config parses");
    let named: Vec<String> = raw.providers.keys().cloned().collect();
    let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let resolved = raw.resolve_with_env(&serve_args(), &|var| env.get(var).cloned()).expect("test config is valid");
    for provider in resolved.providers.into_iter().filter(|p| named.contains(&p.id)) {
        match config.provider_mut(&provider.id) {
            Some(existing) => *existing = provider,
            None => config.providers.push(provider),
        }
    }
    config.catalog = resolved.catalog;
}

fn fast() -> MockOptions {
    MockOptions { chunk_delay: Duration::from_millis(1), ..MockOptions::default() }
}

const DEEPSEEK: &str = r#"
[providers.deepseek]
base_url = "{mock}"
api_key_env = "DEEPSEEK_API_KEY"
headers = { "X-Custom" = "value" }
[[providers.deepseek.models]]
id = "deepseek-v3.2"
native = "deepseek-chat"
prompt = 0.28
completion = 0.42

[providers.localai]
base_url = "{mock}"
api_key_env = "LOCALAI_KEY_UNSET"
"#;

async fn deepseek() -> Harness {
    Harness::with(fast(), |config| apply(config, DEEPSEEK, &[("DEEPSEEK_API_KEY", MOCK_API_KEY)])).await
}

#[tokio::test]
async fn a_config_defined_provider_gets_its_headers_key_native_id_and_price() {
    let h = deepseek().await;
    let (key, _) = h.create_key(json!({ "name": "ds", "allowed_providers": ["deepseek"], "limit": 5 })).await;
    let response = h.post("/v1/chat/completions", &key).json(&chat("deepseek/deepseek-v3.2")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "deepseek/deepseek-v3.2");

    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.json()["model"], "deepseek-chat");
    assert_eq!(sent.headers["x-custom"], "value");
    assert_eq!(sent.headers["authorization"], format!("Bearer {MOCK_API_KEY}").as_str());

    // $0.28 / M prompt and $0.42 / M completion, as the config says.
    let record = h.generation(body["id"].as_str().unwrap()).await;
    let (prompt, completion) = (record.usage.prompt_tokens as i64, record.usage.completion_tokens as i64);
    assert!(prompt > 0 && completion > 0);
    assert_eq!(record.cost_nano, prompt * 280 + completion * 420);
    assert_eq!((record.provider.as_str(), record.native_model.as_str()), ("deepseek", "deepseek-chat"));
    assert_eq!(body["usage"]["cost"], record.cost_nano as f64 / 1e9);
}

#[tokio::test]
async fn the_new_slug_is_listed_and_is_an_allow_list_value() {
    let h = deepseek().await;
    let (openai_only, _) = h.create_key(json!({ "name": "o", "allowed_providers": ["openai"] })).await;
    let refused = h.post("/v1/chat/completions", &openai_only).json(&chat("deepseek/deepseek-v3.2")).send().await;
    assert_error(refused.unwrap(), 403, "forbidden_error", "provider 'deepseek' is not allowed").await;
    assert_eq!(h.upstream_calls(), 0);

    let key = h.api_key().await;
    let providers: Value = h.get("/api/v1/providers", &key).send().await.unwrap().json().await.unwrap();
    let find = |slug: &str| providers["data"].as_array().unwrap().iter().find(|p| p["slug"] == slug).cloned();
    let ds = find("deepseek").expect("deepseek listed");
    assert_eq!((ds["configured"].clone(), ds["model_count"].clone()), (json!(true), json!(1)));
    assert_eq!(find("localai").expect("localai listed")["configured"], false);
    let models: Value = h.get("/v1/models", &key).send().await.unwrap().json().await.unwrap();
    let listed = models["data"].as_array().unwrap().iter().find(|m| m["id"] == "deepseek/deepseek-v3.2");
    assert_eq!(listed.expect("model listed")["pricing"]["prompt"], "0.00000028");

    // A provider whose key variable is unset is "not configured", and nothing is sent.
    let unset = h.post("/v1/chat/completions", &key).json(&chat("localai/some-model")).send().await.unwrap();
    assert_error(unset, 503, "server_error", "provider 'localai' is not configured").await;
    assert_eq!(h.upstream_calls(), 0);
}

#[tokio::test]
async fn a_provider_without_credentials_sends_none() {
    let options = MockOptions { keyless: true, ..fast() };
    let toml = "[providers.ollama]\nbase_url = \"{mock}\"\n";
    let h = Harness::with(options, |config| apply(config, toml, &[])).await;
    let key = h.api_key().await;
    let response = h.post("/v1/chat/completions", &key).json(&chat("ollama/llama3.2")).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.json()["model"], "llama3.2");
    for credential in ["authorization", "x-api-key", "x-goog-api-key"] {
        assert!(!sent.headers.contains_key(credential), "{credential} was sent");
    }
}

/// Which key each upstream request carried.
fn keys_seen(h: &Harness) -> Vec<String> {
    h.mock
        .requests()
        .iter()
        .map(|r| r.headers["authorization"].to_str().unwrap().trim_start_matches("Bearer ").to_owned())
        .collect()
}

#[tokio::test]
async fn two_keys_weighted_three_to_one_share_requests_three_to_one() {
    let options = MockOptions { extra_api_keys: vec!["sk-a".into(), "sk-b".into()], ..fast() };
    let toml = r#"
[providers.openai]
base_url = "{mock}"
keys = [{ env = "OPENAI_KEY_A", weight = 3 }, { env = "OPENAI_KEY_B", weight = 1 }]
"#;
    let env = [("OPENAI_KEY_A", "sk-a"), ("OPENAI_KEY_B", "sk-b")];
    let h = Harness::with(options, |config| apply(config, toml, &env)).await;
    let key = h.api_key().await;
    for _ in 0..40 {
        let response = h.post("/v1/chat/completions", &key).json(&chat("openai/gpt-5.4")).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let seen = keys_seen(&h);
    let count = |k: &str| seen.iter().filter(|s| *s == k).count();
    assert_eq!((count("sk-a"), count("sk-b")), (30, 10), "{seen:?}");
}

#[tokio::test]
async fn a_key_the_upstream_rejects_is_taken_out_of_rotation() {
    // The mock accepts only MOCK_API_KEY; the second key is wrong.
    let toml = r#"
[providers.openai]
base_url = "{mock}"
keys = [{ env = "GOOD" }, { env = "BAD" }]
"#;
    let env = [("GOOD", MOCK_API_KEY), ("BAD", "sk-revoked-key")];
    let h = Harness::with(fast(), |config| apply(config, toml, &env)).await;
    let key = h.api_key().await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let response = h.post("/v1/chat/completions", &key).json(&chat("openai/gpt-5.4")).send().await.unwrap();
        statuses.push(response.status().as_u16());
        let text = response.text().await.unwrap();
        assert!(!text.contains("sk-revoked-key") && !text.contains(MOCK_API_KEY), "{text}");
    }
    // Round robin tries the bad key second; its 401 takes it out of rotation and the request
    // is sent again at once with the good key, so the client never sees the failure.
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let seen = keys_seen(&h);
    assert_eq!(seen.iter().filter(|k| *k == "sk-revoked-key").count(), 1, "{seen:?}");
    assert_eq!(seen.len(), 13, "twelve answers and one rejected attempt: {seen:?}");
    assert_eq!(seen[1..3], ["sk-revoked-key", MOCK_API_KEY], "{seen:?}");
}
