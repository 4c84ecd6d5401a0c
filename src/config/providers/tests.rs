use std::collections::HashMap;

use super::*;
use crate::config::{Config, RawConfig, ServeArgs};

fn args() -> ServeArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ServeArgs,
    }
    Wrapper::parse_from(["serve"]).args
}

/// Resolves `toml` with only the variables in `vars` set.
fn resolve(toml: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let raw = RawConfig::parse(toml).map_err(|(line, message)| ConfigError::Parse {
        path: "test.toml".into(),
        line,
        message,
    })?;
    raw.resolve_with_env(&args(), &|var| env.get(var).cloned())
}

fn error(toml: &str) -> String {
    resolve(toml, &[]).unwrap_err().to_string()
}

const DEEPSEEK: &str = r#"
[providers.deepseek]
base_url = "https://api.deepseek.com/v1/"
api_key_env = "DEEPSEEK_API_KEY"
headers = { "X-Custom" = "value" }
key_cooldown_secs = 30
[[providers.deepseek.models]]
id = "deepseek-v3.2"
native = "deepseek-chat"
prompt = 0.28
completion = "0.42"
[[providers.deepseek.models]]
id = "deepseek/deepseek-reasoner"
"#;

#[test]
fn a_custom_provider_is_an_openai_compatible_upstream_with_its_models() {
    let config = resolve(DEEPSEEK, &[("DEEPSEEK_API_KEY", "sk-ds")]).unwrap();
    let p = config.provider("deepseek").unwrap();
    assert_eq!((p.kind, p.base_url.as_str()), (ProviderKind::OpenAi, "https://api.deepseek.com/v1"));
    assert_eq!(p.api_key, Some(Secret("sk-ds".into())));
    assert!(!p.keyless && p.is_configured());
    assert_eq!(p.key_cooldown, Duration::from_secs(30));
    assert_eq!(p.headers.get("x-custom").unwrap(), "value");
    assert!(!format!("{p:?}").contains("value") && !format!("{p:?}").contains("sk-ds"), "{p:?}");

    let model = config.catalog.get("deepseek/deepseek-v3.2").unwrap();
    assert_eq!((model.provider.as_str(), model.native.as_str()), ("deepseek", "deepseek-chat"));
    let pricing = model.pricing.unwrap();
    assert_eq!((pricing.prompt, pricing.completion), (280_000_000, 420_000_000));
    let reasoner = config.catalog.get("deepseek/deepseek-reasoner").unwrap();
    assert_eq!((reasoner.native.as_str(), reasoner.pricing), ("deepseek-reasoner", None));
    // The built-ins are still there, first.
    let slugs: Vec<&str> = config.providers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(slugs, ["openai", "anthropic", "google", "deepseek"]);
}

#[test]
fn an_unset_variable_leaves_the_provider_unconfigured_and_no_key_means_keyless() {
    let unset = resolve(DEEPSEEK, &[]).unwrap();
    assert!(!unset.provider("deepseek").unwrap().is_configured());
    let local = resolve("[providers.ollama]\nbase_url = \"http://127.0.0.1:11434/v1\"", &[]).unwrap();
    let ollama = local.provider("ollama").unwrap();
    assert!(ollama.keyless && ollama.is_configured() && ollama.all_keys().is_empty());
    // Built-ins are never keyless: without a key they answer "not configured".
    let builtin = resolve("[providers.openai]\nbase_url = \"http://127.0.0.1:1/v1\"", &[]).unwrap();
    assert!(!builtin.provider("openai").unwrap().is_configured());
}

#[test]
fn several_keys_with_weights_and_unset_ones_skipped() {
    let toml = r#"
[providers.openai]
api_key_env = "OPENAI_KEY_MAIN"
keys = [{ env = "OPENAI_KEY_A", weight = 3 }, { env = "OPENAI_KEY_B" }, { env = "OPENAI_KEY_UNSET" }]
"#;
    let config = resolve(toml, &[("OPENAI_KEY_MAIN", "sk-m"), ("OPENAI_KEY_A", "sk-a"), ("OPENAI_KEY_B", "sk-b")]);
    let keys = config.unwrap().provider("openai").unwrap().all_keys();
    let got: Vec<(&str, u32)> = keys.iter().map(|k| (k.secret.0.as_str(), k.weight)).collect();
    assert_eq!(got, [("sk-m", 1), ("sk-a", 3), ("sk-b", 1)]);
    assert_eq!(keys[1].name, "OPENAI_KEY_A");
    assert!(error("[providers.openai]\nkeys = [{ env = \"A\", weight = 0 }]").contains("weight 0"));
}

#[test]
fn built_ins_take_kind_headers_and_keys_but_not_another_kind() {
    let toml = "[providers.anthropic]\nkind = \"anthropic\"\nheaders = { \"anthropic-beta\" = \"x\" }";
    assert_eq!(resolve(toml, &[]).unwrap().provider("anthropic").unwrap().headers.len(), 1);
    assert!(error("[providers.google]\nkind = \"openai\"").contains("cannot change"));
    let anthropic_like = "[providers.claude-proxy]\nkind = \"anthropic\"\nbase_url = \"https://proxy.example\"";
    assert_eq!(resolve(anthropic_like, &[]).unwrap().provider("claude-proxy").unwrap().kind, ProviderKind::Anthropic);
}

#[test]
fn mistakes_are_reported_before_start() {
    let cases = [
        ("[providers.DeepSeek]\nbase_url = \"https://x/v1\"", "lowercase"),
        ("[providers.\"deep/seek\"]\nbase_url = \"https://x/v1\"", "lowercase"),
        ("[providers.-x]\nbase_url = \"https://x/v1\"", "starting with"),
        ("[providers.v1]\nbase_url = \"https://x/v1\"", "reserved"),
        ("[providers.healthz]\nbase_url = \"https://x/v1\"", "reserved"),
        ("[providers.deepseek]\napi_key_env = \"K\"", "'base_url' is required"),
        ("[providers.deepseek]\nbase_url = \"ftp://x\"", "http(s)"),
        (
            "[providers.deepseek]\nbase_url = \"https://x/v1\"\nheaders = { Authorization = \"Bearer x\" }",
            "set by the gateway",
        ),
        (
            "[providers.deepseek]\nbase_url = \"https://x/v1\"\nheaders = { \"content-type\" = \"text/plain\" }",
            "set by the gateway",
        ),
        (
            "[providers.deepseek]\nbase_url = \"https://x/v1\"\nheaders = { \"bad header\" = \"x\" }",
            "not a header name",
        ),
        ("[providers.deepseek]\nbase_url = \"https://x/v1\"\nkind = \"cohere\"", "unknown variant"),
        ("[providers.deepseek]\nbase_url = \"https://x/v1\"\napi_key = \"sk-inline\"", "line 3: unknown field"),
        (
            "[providers.deepseek]\nbase_url = \"https://x/v1\"\n[providers.deepseek]\nbase_url = \"https://y/v1\"",
            "duplicate",
        ),
    ];
    for (toml, expected) in cases {
        let message = error(toml);
        assert!(message.contains(expected), "{toml:?}: {message}");
        assert!(!message.contains("sk-inline"), "{message}");
    }
}
