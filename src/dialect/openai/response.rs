//! Upstream OpenAI responses on their way back: `id` and `model` replaced by the gateway's,
//! `usage` gaining `cost`, everything else byte for byte.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::usage;
use crate::dialect::raw::{RawObject, looks_like_object, span_in, splice_into};
pub use crate::dialect::{Identity, InvalidResponse};
use crate::usage::{Usage, estimate_tokens};

/// A rewritten response and what it used.
#[derive(Debug)]
pub struct Rewritten {
    /// The upstream's bytes with `id`, `model` and a priced `usage` spliced in.
    pub body: Vec<u8>,
    pub usage: Usage,
    /// True when the upstream sent no usage and `usage` is the gateway's estimate.
    pub estimated: bool,
    /// In nano-USD; 0 for an unpriced model.
    pub cost_nano: i64,
    /// The answer's `finish_reason` as the upstream wrote it, for the ledger.
    pub finish_reason: Option<String>,
}

impl Rewritten {
    /// What to record for this answer, and the body to send.
    pub fn into_parts(self) -> (super::stream::Metered, Vec<u8>) {
        let metered = super::stream::Metered {
            usage: self.usage,
            estimated: self.estimated,
            cost_nano: self.cost_nano,
            finish_reason: self.finish_reason,
        };
        (metered, self.body)
    }
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow)]
    finish_reason: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Message<'a>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    content: Option<&'a RawValue>,
}

/// The members of a `chat.completion` the gateway reads or replaces, borrowed from the body;
/// the rest are skipped by the parser and kept as their bytes.
#[derive(Deserialize)]
struct CompletionView<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(borrow)]
    choices: Option<Vec<Choice<'a>>>,
    #[serde(borrow)]
    usage: Option<&'a RawValue>,
    #[serde(default)]
    system_fingerprint: Present,
}

/// Whether a member is there at all (`null` included).
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Present(true))
    }
}

/// Rewrites a `chat.completion` body. The usual answer (with `id`, `model` and a `usage`
/// object) keeps its own bytes with three values spliced; anything else is taken apart member
/// by member (`rewrite_completion_rebuilt`).
pub fn rewrite_completion(bytes: &[u8], who: Identity<'_>) -> Result<Rewritten, InvalidResponse> {
    let Ok(text) = std::str::from_utf8(bytes) else { return rewrite_completion_rebuilt(bytes, who) };
    let view = match serde_json::from_str::<CompletionView>(text) {
        Ok(view) if looks_like_object(text) => view,
        _ => return rewrite_completion_rebuilt(bytes, who),
    };
    let (Some(id), Some(model), Some(choices), Some(raw_usage)) = (view.id, view.model, view.choices, view.usage)
    else {
        return rewrite_completion_rebuilt(bytes, who);
    };
    let Some(usage) = usage::parse(raw_usage) else { return rewrite_completion_rebuilt(bytes, who) };
    let (finish_reason, _) = summarise(&choices);
    let cost_nano = who.cost(&usage);
    let priced = usage::with_cost(raw_usage, cost_nano);
    let id_json = serde_json::to_vec(who.id).expect("a string serialises");
    let model_json = serde_json::to_vec(who.model).expect("a string serialises");
    let mut edits = [
        (span_in(text, id.get()), id_json.as_slice()),
        (span_in(text, model.get()), model_json.as_slice()),
        (span_in(text, raw_usage.get()), priced.as_bytes()),
    ];
    let append: &[u8] = if view.system_fingerprint.0 { b"" } else { br#","system_fingerprint":null"# };
    let mut body = Vec::with_capacity(bytes.len() + priced.len() + id_json.len() + model_json.len() + append.len());
    splice_into(&mut body, text, &mut edits, append);
    Ok(Rewritten { body, usage, estimated: false, cost_nano, finish_reason })
}

/// The first choice's finish reason and the bytes of content in all of them.
fn summarise(choices: &[Choice<'_>]) -> (Option<String>, usize) {
    let finish_reason = choices.first().and_then(|c| c.finish_reason.as_deref()).map(str::to_owned);
    let content_bytes = choices.iter().filter_map(|c| c.message.as_ref()?.content).map(|c| c.get().len()).sum();
    (finish_reason, content_bytes)
}

/// `rewrite_completion` for any body: parsed into members, changed, written back.
fn rewrite_completion_rebuilt(bytes: &[u8], who: Identity<'_>) -> Result<Rewritten, InvalidResponse> {
    let mut body = RawObject::parse(bytes).map_err(|e| InvalidResponse(e.to_string()))?;
    let choices: Vec<Choice> = body
        .get("choices")
        .map(|raw| serde_json::from_str(raw.get()))
        .transpose()
        .map_err(|_| InvalidResponse("'choices' is not an array of choices".into()))?
        .ok_or_else(|| InvalidResponse("no 'choices'".into()))?;
    let (finish_reason, content_bytes) = summarise(&choices);
    drop(choices);

    body.set_value("id", who.id);
    body.set_value("model", who.model);
    if body.get("system_fingerprint").is_none() {
        body.set_value("system_fingerprint", &serde_json::Value::Null);
    }
    let (usage, estimated, cost_nano) = settle_usage(&mut body, who, content_bytes);
    Ok(Rewritten { body: body.to_vec(), usage, estimated, cost_nano, finish_reason })
}

/// Rewrites an embeddings `list` body.
pub fn rewrite_embeddings(bytes: &[u8], who: Identity<'_>) -> Result<Rewritten, InvalidResponse> {
    let mut body = RawObject::parse(bytes).map_err(|e| InvalidResponse(e.to_string()))?;
    if body.get("data").is_none() {
        return Err(InvalidResponse("no 'data'".into()));
    }
    body.set_value("id", who.id);
    body.set_value("model", who.model);
    let (usage, estimated, cost_nano) = settle_usage(&mut body, who, 0);
    Ok(Rewritten { body: body.to_vec(), usage, estimated, cost_nano, finish_reason: None })
}

/// Reads `usage` (or estimates it), prices it, and writes it back with `cost`.
fn settle_usage(body: &mut RawObject<'_>, who: Identity<'_>, completion_bytes: usize) -> (Usage, bool, i64) {
    match body.get("usage").and_then(|raw| Some((usage::parse(raw)?, raw))) {
        Some((usage, raw)) => {
            let cost = who.cost(&usage);
            let with_cost = usage::with_cost_raw(raw, cost);
            body.set("usage", with_cost);
            (usage, false, cost)
        }
        None => {
            let usage = Usage {
                prompt_tokens: estimate_tokens(who.prompt_bytes),
                completion_tokens: estimate_tokens(completion_bytes),
                ..Usage::default()
            };
            let cost = who.cost(&usage);
            body.set_value("usage", &usage::render(&usage, cost));
            (usage, true, cost)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Pricing;
    use crate::usage::pricing::parse_usd;

    fn pricing() -> Pricing {
        Pricing {
            prompt: parse_usd("2.5").unwrap(),
            completion: parse_usd("10").unwrap(),
            cache_read: None,
            cache_write: None,
        }
    }

    #[test]
    fn replaces_identity_and_prices_usage() {
        let upstream = br#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-5.4-2026","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":100,"total_tokens":1100},"service_tier":"default"}"#;
        let p = pricing();
        let who = Identity { id: "gen-1-abc", model: "openai/gpt-5.4", pricing: Some(&p), prompt_bytes: 0 };
        let out = rewrite_completion(upstream, who).unwrap();
        assert_eq!(out.cost_nano, 2_500 * 1000 + 10_000 * 100);
        assert_eq!(out.finish_reason.as_deref(), Some("stop"));
        let text = String::from_utf8(out.body).unwrap();
        assert_eq!(
            text,
            r#"{"id":"gen-1-abc","object":"chat.completion","created":1,"model":"openai/gpt-5.4","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":100,"total_tokens":1100,"cost":0.0035,"is_byok":false},"service_tier":"default","system_fingerprint":null}"#
        );
    }

    #[test]
    fn the_usual_answer_keeps_its_own_bytes_around_the_spliced_values() {
        let upstream = br#"{ "model" : "m", "system_fingerprint": null, "id":"x", "choices":[{"message":{"content":"ab"},"finish_reason":"length"}], "usage":{"prompt_tokens":1000,"completion_tokens":100}, "x":1.0e2 }"#;
        let p = pricing();
        let who = Identity { id: "gen", model: "openai/m", pricing: Some(&p), prompt_bytes: 0 };
        let out = rewrite_completion(upstream, who).unwrap();
        assert_eq!(
            String::from_utf8(out.body).unwrap(),
            r#"{ "model" : "openai/m", "system_fingerprint": null, "id":"gen", "choices":[{"message":{"content":"ab"},"finish_reason":"length"}], "usage":{"prompt_tokens":1000,"completion_tokens":100,"cost":0.0035,"is_byok":false}, "x":1.0e2 }"#
        );
        assert_eq!((out.finish_reason.as_deref(), out.estimated), (Some("length"), false));
        // An array has the view's fields in order, but is not an answer.
        assert!(rewrite_completion(br#"["x","m",[],{"prompt_tokens":1}]"#, who).is_err());
    }

    #[test]
    fn missing_usage_is_estimated_and_bad_bodies_are_refused() {
        let upstream = br#"{"id":"x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"12345678"},"finish_reason":"stop"}]}"#;
        let who = Identity { id: "gen", model: "openai/m", pricing: None, prompt_bytes: 40 };
        let out = rewrite_completion(upstream, who).unwrap();
        assert!(out.estimated);
        assert_eq!((out.usage.prompt_tokens, out.usage.completion_tokens), (10, 3));
        assert!(rewrite_completion(b"<html>oops</html>", who).is_err());
        assert!(rewrite_completion(br#"{"id":"x"}"#, who).is_err());
    }
}
