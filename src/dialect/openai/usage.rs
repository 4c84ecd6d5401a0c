//! OpenAI `usage` objects: reading counts, and adding the gateway's `cost` and `is_byok`.

use serde::{Deserialize, Serialize};
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
///
/// The usual object, which has neither member yet, keeps its bytes and gets the two appended
/// before its closing brace: taking it apart and writing it back cost about half of a
/// same-format response's rewrite. One that already names either (an upstream that is itself a
/// gateway) is taken apart so the values are replaced, not repeated.
pub fn with_cost(raw: &RawValue, cost_nano: i64) -> String {
    let text = raw.get();
    let cost = serde_json::to_string(&nano_to_usd(cost_nano)).expect("a float serialises");
    let already_priced = text.contains("\"cost\"") || text.contains("\"is_byok\"") || text.contains('\\');
    match text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        Some(members) if !already_priced => {
            let members = members.trim_end();
            let comma = if members.trim_start().is_empty() { "" } else { "," };
            // Pushed piece by piece: `format!` cost twice as much for this one string.
            let mut out = String::with_capacity(text.len() + cost.len() + 32);
            out.push('{');
            out.push_str(members);
            out.push_str(comma);
            out.push_str(r#""cost":"#);
            out.push_str(&cost);
            out.push_str(r#","is_byok":false}"#);
            out
        }
        _ => {
            let mut usage = RawObject::parse(text.as_bytes()).unwrap_or_default();
            usage.set("cost", RawValue::from_string(cost).expect("a float is JSON"));
            usage.set_value("is_byok", &false);
            String::from_utf8(usage.to_vec()).expect("JSON is UTF-8")
        }
    }
}

/// `with_cost` as a JSON value to set on a parsed object.
pub fn with_cost_raw(raw: &RawValue, cost_nano: i64) -> Box<RawValue> {
    RawValue::from_string(with_cost(raw, cost_nano)).expect("a priced usage object is JSON")
}

/// A usage object built by the gateway (translated answers, and estimates when the upstream
/// reported none), its members in the order OpenAI writes them, then `cost` and `is_byok`.
/// A typed struct rather than a `json!` map: a translated answer spent 3 % of its
/// instructions building and writing that map.
#[derive(Debug, Serialize)]
pub struct Rendered {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetailsOut,
    completion_tokens_details: CompletionDetailsOut,
    cost: f64,
    is_byok: bool,
}

#[derive(Debug, Serialize)]
struct PromptDetailsOut {
    cached_tokens: u64,
    cache_write_tokens: u64,
}

#[derive(Debug, Serialize)]
struct CompletionDetailsOut {
    reasoning_tokens: u64,
}

/// The usage object for a body the gateway builds, with `cost` converted to USD.
pub fn render(usage: &Usage, cost_nano: i64) -> Rendered {
    Rendered {
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        total_tokens: usage.total_tokens(),
        prompt_tokens_details: PromptDetailsOut {
            cached_tokens: usage.cached_tokens,
            cache_write_tokens: usage.cache_write_tokens,
        },
        completion_tokens_details: CompletionDetailsOut { reasoning_tokens: usage.reasoning_tokens },
        cost: nano_to_usd(cost_nano),
        is_byok: false,
    }
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
    fn a_rendered_usage_has_every_member_in_openai_order() {
        let usage = Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
            cached_tokens: 4,
            cache_write_tokens: 2,
            reasoning_tokens: 1,
        };
        assert_eq!(
            serde_json::to_string(&render(&usage, 1_500)).unwrap(),
            r#"{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4,"cache_write_tokens":2},"completion_tokens_details":{"reasoning_tokens":1},"cost":1.5e-6,"is_byok":false}"#
        );
    }

    #[test]
    fn cost_is_added_without_touching_other_members() {
        let raw: Box<RawValue> = serde_json::from_str(r#"{"prompt_tokens":1,"x":[1.0]}"#).unwrap();
        assert_eq!(with_cost(&raw, 1_500), r#"{"prompt_tokens":1,"x":[1.0],"cost":1.5e-6,"is_byok":false}"#);
    }

    #[test]
    fn cost_is_appended_to_the_upstream_bytes_as_they_are() {
        let cases = [
            (
                r#"{ "prompt_tokens": 1, "completion_tokens": 2 }"#,
                r#"{ "prompt_tokens": 1, "completion_tokens": 2,"cost":0.25,"is_byok":false}"#,
            ),
            ("{}", r#"{"cost":0.25,"is_byok":false}"#),
            ("{ \n }", r#"{"cost":0.25,"is_byok":false}"#),
            (r#"{"a":{"b":"}"}}"#, r#"{"a":{"b":"}"},"cost":0.25,"is_byok":false}"#),
        ];
        for (upstream, expected) in cases {
            let raw: Box<RawValue> = serde_json::from_str(upstream).unwrap();
            let priced = with_cost(&raw, 250_000_000);
            assert_eq!(priced, expected, "{upstream}");
            let _: serde_json::Value = serde_json::from_str(&priced).expect("valid JSON");
        }
    }

    #[test]
    fn an_upstream_cost_is_replaced_not_repeated() {
        for upstream in [
            r#"{"prompt_tokens":1,"cost":9.9,"is_byok":true}"#,
            r#"{"prompt_tokens":1,"is_byok":true}"#,
            r#"{"prompt_tokens":1,"\u0063ost":9.9}"#,
        ] {
            let raw: Box<RawValue> = serde_json::from_str(upstream).unwrap();
            let priced: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&with_cost(&raw, 1_500)).unwrap();
            assert_eq!(priced["cost"], serde_json::json!(1.5e-6), "{upstream}");
            assert_eq!(priced["is_byok"], serde_json::json!(false), "{upstream}");
            assert_eq!(priced["prompt_tokens"], serde_json::json!(1));
        }
        let raw: Box<RawValue> = serde_json::from_str(r#"{"cost":9.9,"prompt_tokens":1}"#).unwrap();
        let text = with_cost(&raw, 1_500);
        assert_eq!(text.matches("\"cost\"").count(), 1, "{text}");
    }
}
