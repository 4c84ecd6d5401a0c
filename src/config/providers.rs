//! The `[providers.*]` tables of the config file: the built-in `openai`, `anthropic` and
//! `google`, plus any other provider by slug (`[providers.deepseek]`), resolved into
//! `ProviderConfig`s and the catalog entries of their `[[providers.<slug>.models]]`.
//!
//! Everything a provider needs is data: a base URL, the wire format it speaks (`kind`, OpenAI's
//! for a new provider), where its keys are, extra headers, and its models with prices. Adding
//! DeepSeek, Groq, Mistral, OpenRouter or a local Ollama takes no code.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

use super::{ConfigError, ProviderConfig, Secret};
use crate::catalog::RawModel;
use crate::providers::ProviderKind;

/// How long a key the upstream rejected (401/403) stays out of rotation by default.
pub const DEFAULT_KEY_COOLDOWN: Duration = Duration::from_secs(60);

/// First path segments the gateway's own routes use, so a provider with that slug could not be
/// reached through the raw proxy (`/{provider}/…`).
const RESERVED_SLUGS: &[&str] = &["v1", "v1beta", "api", "healthz", "metrics"];

/// Headers the gateway sets itself (credentials, framing, content negotiation); configured
/// extra headers may not name them, so none is overridden silently.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "x-goog-api-key",
    "content-type",
    "content-length",
    "accept",
    "host",
    "transfer-encoding",
    "connection",
];

/// One `[providers.<slug>]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// Required for a provider that is not built in. OpenAI-format URLs include the version
    /// (`https://api.deepseek.com/v1`); Anthropic and Gemini ones are the host root.
    pub base_url: Option<String>,
    /// Name of the environment variable holding the provider key.
    pub api_key_env: Option<String>,
    /// More keys, load-balanced by weight (together with `api_key_env`, which weighs 1).
    #[serde(default)]
    pub keys: Vec<RawKey>,
    /// Seconds a key the upstream rejects (401/403) sits out of rotation (60).
    pub key_cooldown_secs: Option<u64>,
    /// Extra headers sent with every upstream request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The wire format the provider speaks; `openai` unless it says otherwise.
    pub kind: Option<RawKind>,
    /// Models of this provider, as `[[models]]` entries; the `slug/` prefix is added to `id`.
    #[serde(default)]
    pub models: Vec<RawModel>,
}

/// One entry of `keys = [{ env = "…", weight = 3 }]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    /// The environment variable that holds the key, so the file itself never holds a secret.
    pub env: String,
    /// Share of requests relative to the other keys (1 to 1000; default 1).
    pub weight: Option<u32>,
}

/// `kind = "openai" | "anthropic" | "gemini"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawKind {
    #[serde(alias = "openai-compatible")]
    Openai,
    Anthropic,
    #[serde(alias = "google")]
    Gemini,
}

impl From<RawKind> for ProviderKind {
    fn from(kind: RawKind) -> Self {
        match kind {
            RawKind::Openai => ProviderKind::OpenAi,
            RawKind::Anthropic => ProviderKind::Anthropic,
            RawKind::Gemini => ProviderKind::Gemini,
        }
    }
}

/// One upstream key, resolved from its environment variable.
#[derive(Debug, Clone)]
pub struct UpstreamKey {
    /// Where it came from (the variable's name), for log lines; never the key.
    pub name: String,
    pub secret: Secret,
    /// Share of requests relative to the provider's other keys (smooth weighted round robin).
    pub weight: u32,
}

/// A built-in provider's flags (`--openai-base-url`, `OPENAI_API_KEY`…), which win over the file.
pub struct BuiltinFlags<'a> {
    pub id: &'a str,
    pub base_url: Option<&'a str>,
    pub api_key: Option<&'a str>,
}

/// The providers and the catalog entries their tables declare.
pub struct Resolved {
    pub providers: Vec<ProviderConfig>,
    pub models: Vec<RawModel>,
}

/// The three providers that exist without any config.
pub fn builtin() -> Vec<ProviderConfig> {
    vec![
        ProviderConfig::new("openai", ProviderKind::OpenAi, "https://api.openai.com/v1"),
        ProviderConfig::new("anthropic", ProviderKind::Anthropic, "https://api.anthropic.com"),
        ProviderConfig::new("google", ProviderKind::Gemini, "https://generativelanguage.googleapis.com"),
    ]
}

/// Resolves the `[providers.*]` tables over the built-ins; `env` reads environment variables.
pub fn resolve(
    raw: indexmap::IndexMap<String, RawProvider>,
    flags: &[BuiltinFlags<'_>],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, ConfigError> {
    let mut providers = builtin();
    let mut models = Vec::new();
    let read = |var: &str| env(var).filter(|v| !v.is_empty());
    for (slug, file) in raw {
        check_slug(&slug)?;
        let invalid = |what: String| ConfigError::Invalid(format!("provider '{slug}': {what}"));
        let builtin = providers.iter().position(|p| p.id == slug);
        let index = match builtin {
            Some(index) => index,
            None => {
                let base = file.base_url.as_deref().ok_or_else(|| invalid("'base_url' is required".into()))?;
                let kind = file.kind.map_or(ProviderKind::OpenAi, ProviderKind::from);
                providers.push(ProviderConfig::new(&slug, kind, &super::validate_base_url(&slug, base)?));
                providers.len() - 1
            }
        };
        let provider = &mut providers[index];
        if let Some(kind) = file.kind {
            if builtin.is_some() && ProviderKind::from(kind) != provider.kind {
                return Err(invalid(format!(
                    "a built-in provider speaks {:?}; 'kind' cannot change it",
                    provider.kind
                )));
            }
        }
        if let Some(base) = &file.base_url {
            provider.base_url = super::validate_base_url(&slug, base)?;
        }
        provider.api_key = file.api_key_env.as_deref().and_then(read).map(Secret);
        for key in &file.keys {
            let weight = key.weight.unwrap_or(1);
            if !(1..=1000).contains(&weight) {
                return Err(invalid(format!("key '{}' has weight {weight}; weights are 1 to 1000", key.env)));
            }
            if let Some(secret) = read(&key.env) {
                provider.keys.push(UpstreamKey { name: key.env.clone(), secret: Secret(secret), weight });
            }
        }
        // A provider that is not built in and names no key at all is called without
        // credentials (a local Ollama or vLLM).
        provider.keyless = builtin.is_none() && file.api_key_env.is_none() && file.keys.is_empty();
        provider.key_cooldown = file.key_cooldown_secs.map_or(DEFAULT_KEY_COOLDOWN, Duration::from_secs);
        provider.headers = headers(&file.headers).map_err(invalid)?;
        for mut model in file.models {
            if !model.id.starts_with(&format!("{slug}/")) {
                model.id = format!("{slug}/{}", model.id);
            }
            models.push(model);
        }
    }
    for flag in flags {
        let provider = providers.iter_mut().find(|p| p.id == flag.id).expect("flags name built-in providers");
        if let Some(base) = flag.base_url {
            provider.base_url = super::validate_base_url(flag.id, base)?;
        }
        if let Some(key) = flag.api_key.filter(|k| !k.is_empty()) {
            provider.api_key = Some(Secret(key.to_owned()));
        }
    }
    Ok(Resolved { providers, models })
}

/// A slug is what model ids, allow-lists and the raw proxy's first path segment use.
fn check_slug(slug: &str) -> Result<(), ConfigError> {
    let well_formed = (1..=64).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && slug.as_bytes()[0].is_ascii_alphanumeric();
    if !well_formed {
        return Err(ConfigError::Invalid(format!(
            "provider slug '{slug}' must be 1 to 64 lowercase letters, digits, '-' or '_', starting with a letter or digit"
        )));
    }
    if RESERVED_SLUGS.contains(&slug) {
        return Err(ConfigError::Invalid(format!(
            "provider slug '{slug}' is reserved: the gateway's own routes start with it"
        )));
    }
    Ok(())
}

/// Parses configured headers; values are marked sensitive so they never show in a `Debug`.
fn headers(raw: &BTreeMap<String, String>) -> Result<HeaderMap, String> {
    let mut out = HeaderMap::new();
    for (name, value) in raw {
        let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("'{name}' is not a header name"))?;
        if RESERVED_HEADERS.contains(&parsed.as_str()) {
            return Err(format!("header '{name}' is set by the gateway and cannot be configured"));
        }
        let mut value = HeaderValue::from_str(value).map_err(|_| format!("header '{name}' has an invalid value"))?;
        value.set_sensitive(true);
        out.insert(parsed, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
