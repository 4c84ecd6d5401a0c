//! Checks across turns: roles, function call / response pairing and thought signatures.

use serde_json::Value;

use super::content::{parts, parts_with, role};
use super::models::thinking_model;
use super::parse::get_in;
use super::{BYPASS_SIGNATURES, THOUGHT_SIGNATURE};

const FUNCTION_CALL_ORDER: &str =
    "Please ensure that function call turn comes immediately after a user turn or after a function response turn.";
const FUNCTION_RESPONSE_ORDER: &str =
    "Please ensure that function response turn comes immediately after a function call turn.";
const FUNCTION_RESPONSE_COUNT: &str = "Please ensure that the number of function response parts is equal to the number \
                                       of function call parts of the function call turn.";

fn names<'a>(items: impl Iterator<Item = &'a Value>) -> Vec<String> {
    let mut names: Vec<String> =
        items.map(|item| get_in(item, "name").and_then(Value::as_str).unwrap_or_default().to_owned()).collect();
    names.sort_unstable();
    names
}

/// Roles, function call / response pairing and thought signatures.
pub(super) fn check_turns(contents: &[Value], model: &str) -> Result<(), String> {
    if contents.iter().any(|c| !matches!(role(c), "user" | "model")) {
        return Err("Please use a valid role: user, model.".into());
    }
    for (i, content) in contents.iter().enumerate() {
        let previous = i.checked_sub(1).map(|p| &contents[p]);
        let calls = parts_with(content, "functionCall").count();
        let responses = parts_with(content, "functionResponse").count();
        if role(content) == "model" && calls > 0 {
            if previous.is_none_or(|p| role(p) != "user") {
                return Err(FUNCTION_CALL_ORDER.into());
            }
            if let Some(next) = contents.get(i + 1) {
                let answered = parts_with(next, "functionResponse").count();
                if role(next) != "user" || answered != calls {
                    return Err(FUNCTION_RESPONSE_COUNT.into());
                }
                let called = names(parts_with(content, "functionCall"));
                let answered = names(parts_with(next, "functionResponse"));
                if called != answered {
                    return Err(format!(
                        "Please ensure that the function response parts answer the function call parts of the \
                         function call turn: called [{}], answered [{}].",
                        called.join(", "),
                        answered.join(", ")
                    ));
                }
            }
        }
        if role(content) == "user"
            && responses > 0
            && previous.is_none_or(|p| role(p) != "model" || parts_with(p, "functionCall").next().is_none())
        {
            return Err(FUNCTION_RESPONSE_ORDER.into());
        }
    }
    if thinking_model(model) {
        check_signatures(contents)?;
    }
    Ok(())
}

fn signature(part: &Value) -> Option<&str> {
    get_in(part, "thoughtSignature").and_then(Value::as_str)
}

/// In the current turn, every model step's first function call carries a signature the mock
/// issued (or a documented bypass value).
fn check_signatures(contents: &[Value]) -> Result<(), String> {
    let start = contents
        .iter()
        .rposition(|c| role(c) == "user" && parts(c).iter().any(|p| get_in(p, "functionResponse").is_none()))
        .map_or(0, |i| i + 1);
    for (i, content) in contents.iter().enumerate().skip(start) {
        if role(content) != "model" {
            continue;
        }
        for part in parts(content) {
            if let Some(signature) = signature(part) {
                if signature != THOUGHT_SIGNATURE && !BYPASS_SIGNATURES.contains(&signature) {
                    return Err("Corrupted thought signature.".into());
                }
            }
        }
        let first_call = parts(content).iter().find(|p| get_in(p, "functionCall").is_some());
        if let Some(part) = first_call.filter(|p| signature(p).is_none_or(str::is_empty)) {
            let name = get_in(part, "functionCall").and_then(|c| get_in(c, "name")).and_then(Value::as_str);
            return Err(format!(
                "Function call is missing a thought_signature in functionCall parts. This is required for tools to \
                 work correctly, and missing thought_signature may lead to degraded model performance. Additional \
                 data, function call `default_api:{}` , position {}. Please refer to \
                 https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                name.unwrap_or_default(),
                i + 1
            ));
        }
    }
    Ok(())
}
