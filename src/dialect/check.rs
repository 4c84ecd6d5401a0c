//! Checks on request bodies that are forwarded as they are (same format in and out), so a body
//! the upstream would refuse gets a 400 naming the problem and never leaves the gateway. The
//! translated paths get the same from their typed decoders. Checks borrow the client's bytes
//! and only look at the members they name; everything else passes through untouched.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::dialect::raw::RawObject;
use crate::error::ApiError;

/// A member parsed as `T` (absent and `null` are `None`), or a 400 saying what was expected.
pub fn field<'a, T: Deserialize<'a>>(
    obj: &'a RawObject<'_>,
    path: &str,
    name: &str,
    expected: &str,
) -> Result<Option<T>, ApiError> {
    match obj.get(name) {
        None => Ok(None),
        Some(raw) => serde_json::from_str::<Option<T>>(raw.get())
            .map_err(|_| ApiError::bad_request(format!("'{path}{name}' must be {expected}"))),
    }
}

/// A number member within `min..=max`, when present.
pub fn number_in(obj: &RawObject<'_>, path: &str, name: &str, min: f64, max: f64) -> Result<(), ApiError> {
    let expected = format!("a number between {min} and {max}");
    match field::<f64>(obj, path, name, &expected)? {
        Some(v) if !(min..=max).contains(&v) => {
            Err(ApiError::bad_request(format!("'{path}{name}' must be {expected}, got {v}")))
        }
        _ => Ok(()),
    }
}

/// A positive integer member, when present.
pub fn positive_int(obj: &RawObject<'_>, path: &str, name: &str) -> Result<Option<u64>, ApiError> {
    match field::<u64>(obj, path, name, "a positive integer")? {
        Some(0) => Err(ApiError::bad_request(format!("'{path}{name}' must be a positive integer"))),
        other => Ok(other),
    }
}

/// A forced tool choice must name a declared tool: providers refuse it otherwise, and a
/// translation would silently force a tool the model does not have.
pub fn chosen_tool_is_declared<'a>(
    chosen: Option<&str>,
    mut declared: impl Iterator<Item = &'a str>,
    any_tools: bool,
) -> Result<(), ApiError> {
    let Some(name) = chosen else { return Ok(()) };
    if !any_tools {
        return Err(ApiError::bad_request(format!(
            "'tool_choice' must not force the tool '{name}' when 'tools' is empty"
        )));
    }
    if declared.any(|declared| declared == name) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("'tool_choice' must name a tool in 'tools'; '{name}' is not there")))
    }
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct AnthropicChoice<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
}

/// The members of a native `/v1/messages` body that are checked before forwarding: sampling
/// numbers, `tools` an array of objects, and `tool_choice` naming a declared tool.
pub fn anthropic_messages(body: &RawObject<'_>) -> Result<(), ApiError> {
    number_in(body, "", "temperature", 0.0, 1.0)?;
    number_in(body, "", "top_p", 0.0, 1.0)?;
    field::<u64>(body, "", "top_k", "a non-negative integer")?;
    field::<Vec<&RawValue>>(body, "", "stop_sequences", "an array of strings")?;
    let tools = field::<Vec<Named>>(body, "", "tools", "an array of tool objects")?.unwrap_or_default();
    let choice = field::<AnthropicChoice>(body, "", "tool_choice", "an object with a 'type'")?;
    let forced = choice.as_ref().filter(|c| c.kind.as_deref() == Some("tool"));
    if let Some(choice) = forced {
        let name = choice.name.as_deref().ok_or_else(|| ApiError::bad_request("'tool_choice.name' is required"))?;
        let declared = tools.iter().filter_map(|t| t.name.as_deref());
        chosen_tool_is_declared(Some(name), declared, !tools.is_empty())?;
    }
    Ok(())
}

/// The members of a native Gemini `generateContent` body checked before forwarding:
/// `generationConfig` an object with numbers where Gemini wants numbers, `tools` an array.
pub fn gemini_generate(body: &RawObject<'_>) -> Result<(), ApiError> {
    field::<Vec<&RawValue>>(body, "", "tools", "an array of tool objects")?;
    field::<&RawValue>(body, "", "toolConfig", "an object")?;
    field::<Vec<&RawValue>>(body, "", "safetySettings", "an array")?;
    let Some(config) = body.get("generationConfig") else { return Ok(()) };
    let config = match RawObject::parse(config.get().as_bytes()) {
        Ok(config) => config,
        Err(_) if config.get() == "null" => return Ok(()),
        Err(_) => return Err(ApiError::bad_request("'generationConfig' must be an object")),
    };
    let path = "generationConfig.";
    number_in(&config, path, "temperature", 0.0, 2.0)?;
    number_in(&config, path, "topP", 0.0, 1.0)?;
    field::<u64>(&config, path, "topK", "a non-negative integer")?;
    positive_int(&config, path, "maxOutputTokens")?;
    positive_int(&config, path, "candidateCount")?;
    field::<Vec<&RawValue>>(&config, path, "stopSequences", "an array of strings")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anthropic(body: &str) -> Result<(), String> {
        anthropic_messages(&RawObject::parse(body.as_bytes()).unwrap()).map_err(|e| e.message.into_owned())
    }

    fn gemini(body: &str) -> Result<(), String> {
        gemini_generate(&RawObject::parse(body.as_bytes()).unwrap()).map_err(|e| e.message.into_owned())
    }

    #[test]
    fn anthropic_bodies_are_checked_only_where_the_upstream_would_refuse() {
        assert!(
            anthropic(r#"{"temperature":0.5,"tools":[{"name":"a","x":1}],"tool_choice":{"type":"tool","name":"a"}}"#)
                .is_ok()
        );
        assert!(anthropic(r#"{"tool_choice":{"type":"auto"},"server_tool":{"anything":true}}"#).is_ok());
        assert!(anthropic(r#"{"temperature":"hot"}"#).unwrap_err().contains("'temperature'"));
        assert!(anthropic(r#"{"temperature":1.5}"#).unwrap_err().contains("between 0 and 1"));
        assert!(anthropic(r#"{"tools":"x"}"#).unwrap_err().contains("'tools'"));
        let missing = anthropic(r#"{"tools":[{"name":"a"}],"tool_choice":{"type":"tool","name":"b"}}"#).unwrap_err();
        assert!(missing.contains("'b' is not there"), "{missing}");
        assert!(anthropic(r#"{"tool_choice":{"type":"tool","name":"b"}}"#).unwrap_err().contains("'tools' is empty"));
    }

    #[test]
    fn gemini_generation_config_is_typed() {
        assert!(
            gemini(r#"{"generationConfig":{"temperature":0.2,"maxOutputTokens":10,"responseMimeType":"x"}}"#).is_ok()
        );
        assert!(gemini(r#"{"generationConfig":null}"#).is_ok());
        assert!(gemini(r#"{"generationConfig":"x"}"#).unwrap_err().contains("'generationConfig' must be an object"));
        let e = gemini(r#"{"generationConfig":{"maxOutputTokens":"ten"}}"#).unwrap_err();
        assert!(e.contains("'generationConfig.maxOutputTokens'"), "{e}");
        assert!(gemini(r#"{"generationConfig":{"candidateCount":0}}"#).unwrap_err().contains("candidateCount"));
        assert!(gemini(r#"{"tools":{}}"#).unwrap_err().contains("'tools'"));
    }
}
