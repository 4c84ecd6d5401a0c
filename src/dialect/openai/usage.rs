//! OpenAI `usage` objects: reading counts, and adding the gateway's `cost` and `is_byok`.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::dialect::raw::RawObject;
use crate::keys::spend::nano_to_usd;
use crate::usage::Usage;

#[derive(Deserialize)]
struct WireUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<PromptDetails>,
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Deserialize)]
struct PromptDetails {
    cached_tokens: Option<u64>,
    cache_write_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct CompletionDetails {
    reasoning_tokens: Option<u64>,
}

/// Reads a `usage` value; `None` for `null` or anything that is not a usage object.
pub fn parse(raw: &RawValue) -> Option<Usage> {
    let wire: Option<WireUsage> = serde_json::from_str(raw.get()).ok()?;
    let wire = wire?;
    let prompt = wire.prompt_tokens_details;
    Some(Usage {
        prompt_tokens: wire.prompt_tokens.unwrap_or(0),
        completion_tokens: wire.completion_tokens.unwrap_or(0),
        cached_tokens: prompt.as_ref().and_then(|p| p.cached_tokens).unwrap_or(0),
        cache_write_tokens: prompt.as_ref().and_then(|p| p.cache_write_tokens).unwrap_or(0),
        reasoning_tokens: wire.completion_tokens_details.and_then(|c| c.reasoning_tokens).unwrap_or(0),
    })
}

/// The upstream's usage object with `cost` (USD) and `is_byok` added; other members untouched.
pub fn with_cost(raw: &RawValue, cost_nano: i64) -> Box<RawValue> {
    let mut usage = RawObject::parse(raw.get().as_bytes()).unwrap_or_default();
    usage.set_value("cost", &nano_to_usd(cost_nano));
    usage.set_value("is_byok", &false);
    RawValue::from_string(String::from_utf8(usage.to_vec()).expect("JSON is UTF-8")).expect("valid JSON object")
}

/// A usage object built by the gateway (for estimates, when the upstream reported none).
pub fn render(usage: &Usage, cost_nano: i64) -> serde_json::Value {
    serde_json::json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens(),
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "completion_tokens_details": { "reasoning_tokens": usage.reasoning_tokens },
        "cost": nano_to_usd(cost_nano),
        "is_byok": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_details_and_tolerates_nulls() {
        let raw: Box<RawValue> = serde_json::from_str(
            r#"{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,
                "prompt_tokens_details":{"cached_tokens":60,"audio_tokens":null},
                "completion_tokens_details":{"reasoning_tokens":5}}"#,
        )
        .unwrap();
        let u = parse(&raw).unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.reasoning_tokens), (100, 20, 60, 5));
        let null: Box<RawValue> = serde_json::from_str("null").unwrap();
        assert_eq!(parse(&null), None);
    }

    #[test]
    fn cost_is_added_without_touching_other_members() {
        let raw: Box<RawValue> = serde_json::from_str(r#"{"prompt_tokens":1,"x":[1.0]}"#).unwrap();
        assert_eq!(with_cost(&raw, 1_500).get(), r#"{"prompt_tokens":1,"x":[1.0],"cost":1.5e-6,"is_byok":false}"#);
    }
}
