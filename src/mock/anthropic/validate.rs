//! Request validation with the real API's messages: the top-level fields, sampling, `system` and
//! `thinking`; messages and tools are checked by `content` and `tools`.

use serde_json::{Map, Value};

use super::content::{check_message, check_text};
use super::tools::{check_tool_choice, check_tool_pairing, check_tools};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Messages,
    CountTokens,
}

/// Top-level fields `/v1/messages` accepts.
const MESSAGES_FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "system",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "metadata",
    "service_tier",
    "output_config",
    "cache_control",
    "container",
    "inference_geo",
];

/// Top-level fields `/v1/messages/count_tokens` accepts.
const COUNT_TOKENS_FIELDS: &[&str] =
    &["model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "cache_control"];

/// Opus 4.1 and every 4.5+ model reject `temperature` together with `top_p`.
fn sampling_is_exclusive(model: &str) -> bool {
    let Some(rest) = model.strip_prefix("claude-") else { return false };
    let mut parts = rest.split('-');
    let family = parts.next().unwrap_or_default();
    if !matches!(family, "opus" | "sonnet" | "haiku") {
        return false;
    }
    let Some(major) = parts.next().and_then(|p| p.parse::<u32>().ok()) else { return false };
    // A date suffix (`claude-sonnet-4-20250514`) is not a minor version.
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok()).filter(|&m| m < 100).unwrap_or(0);
    (major, minor) >= (4, 5) || (family == "opus" && (major, minor) >= (4, 1))
}

pub(super) fn check_fields(object: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), String> {
    match object.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(extra) => Err(format!("{path}{extra}: Extra inputs are not permitted")),
        None => Ok(()),
    }
}

fn check_number(request: &Map<String, Value>, field: &str, max: f64) -> Result<(), String> {
    match request.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(value) => match value.as_f64() {
            None => Err(format!("{field}: Input should be a valid number")),
            Some(v) if v < 0.0 => Err(format!("{field}: Input should be greater than or equal to 0")),
            Some(v) if v > max => Err(format!("{field}: Input should be less than or equal to {max}")),
            Some(_) => Ok(()),
        },
    }
}

fn is_set(request: &Map<String, Value>, field: &str) -> bool {
    request.get(field).is_some_and(|v| !v.is_null())
}

pub(super) fn validate(request: &Map<String, Value>, endpoint: Endpoint) -> Result<(), String> {
    match request.get("model") {
        None => return Err("model: Field required".into()),
        Some(Value::String(_)) => {}
        Some(_) => return Err("model: Input should be a valid string".into()),
    }
    let max_tokens = if endpoint == Endpoint::Messages {
        match request.get("max_tokens") {
            None => return Err("max_tokens: Field required".into()),
            Some(value) => match value.as_i64() {
                None => return Err("max_tokens: Input should be a valid integer".into()),
                Some(n) if n < 0 => return Err("max_tokens: Input should be greater than or equal to 0".into()),
                Some(n) => Some(n),
            },
        }
    } else {
        None
    };
    let messages = match request.get("messages") {
        None => return Err("messages: Field required".into()),
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err("messages: Input should be a valid list".into()),
    };
    if messages.is_empty() {
        return Err("messages: at least one message is required".into());
    }
    let allowed = if endpoint == Endpoint::Messages { MESSAGES_FIELDS } else { COUNT_TOKENS_FIELDS };
    check_fields(request, allowed, "")?;
    for (i, message) in messages.iter().enumerate() {
        check_message(i, message, i + 1 == messages.len())?;
    }
    check_tool_pairing(messages)?;
    check_system(request.get("system"))?;

    let model = request["model"].as_str().unwrap_or_default();
    check_number(request, "temperature", 1.0)?;
    check_number(request, "top_p", 1.0)?;
    if let Some(top_k) = request.get("top_k").filter(|v| !v.is_null()) {
        if top_k.as_u64().is_none() {
            return Err("top_k: Input should be a valid integer".into());
        }
    }
    if is_set(request, "temperature") && is_set(request, "top_p") && sampling_is_exclusive(model) {
        return Err("`temperature` and `top_p` cannot both be specified for this model. Please use only one.".into());
    }
    match request.get("stop_sequences") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        Some(_) => return Err("stop_sequences: Input should be a valid list of strings".into()),
    }
    if let Some(stream) = request.get("stream") {
        if !stream.is_boolean() {
            return Err("stream: Input should be a valid boolean".into());
        }
    }
    check_tools(request.get("tools"))?;
    let forced = check_tool_choice(request.get("tool_choice"))?;
    check_thinking(request, max_tokens, forced)
}

fn check_system(system: Option<&Value>) -> Result<(), String> {
    match system {
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
        Some(Value::Array(blocks)) => {
            for (j, block) in blocks.iter().enumerate() {
                if block["type"] != "text" {
                    return Err(format!("system.{j}.type: Input should be 'text'"));
                }
                if let Some(object) = block.as_object() {
                    check_fields(object, &["type", "text", "cache_control", "citations"], &format!("system.{j}."))?;
                }
                match block["text"].as_str() {
                    Some(text) => check_text(text, "system")?,
                    None => return Err(format!("system.{j}.text: Field required")),
                }
            }
            Ok(())
        }
        Some(_) => Err("system: Input should be a valid string or list of text blocks".into()),
    }
}

fn check_thinking(request: &Map<String, Value>, max_tokens: Option<i64>, forced_tool: bool) -> Result<(), String> {
    let thinking = match request.get("thinking") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(thinking)) => thinking,
        Some(_) => return Err("thinking: Input should be a valid dictionary".into()),
    };
    let kind = thinking.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "disabled" => return Ok(()),
        "adaptive" => {}
        "enabled" => {
            let budget = match thinking.get("budget_tokens") {
                None => return Err("thinking.enabled.budget_tokens: Field required".into()),
                Some(budget) => {
                    budget.as_i64().ok_or("thinking.enabled.budget_tokens: Input should be a valid integer")?
                }
            };
            if budget < 1024 {
                return Err("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024".into());
            }
            if max_tokens.is_some_and(|max| max <= budget) {
                return Err("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation \
                            at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
                    .into());
            }
        }
        other => {
            return Err(format!(
                "thinking: Input tag '{other}' found using 'type' does not match any of the expected tags: \
                 'adaptive', 'disabled', 'enabled'"
            ));
        }
    }
    if request.get("temperature").and_then(Value::as_f64).is_some_and(|t| t != 1.0) {
        return Err("`temperature` may only be set to 1 when thinking is enabled or in adaptive mode. Please consult \
                    our documentation at https://platform.claude.com/docs/en/build-with-claude/extended-thinking"
            .into());
    }
    if forced_tool {
        return Err("Thinking may not be enabled when tool_choice forces tool use.".into());
    }
    Ok(())
}
