//! Structural validation of a parsed `GenerateContentRequest` (every violation on its own
//! `* <path>: <message>` line) and the sampling range checks.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::content::parts;
use super::error::{ApiError, validation_error};
use super::parse::{get, get_in, is_set, list_in, number, parse_as};
use super::spec::{GENERATE_REQUEST, PART_DATA};
use super::turns::check_turns;

fn valid_function_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

pub(super) fn check_content(content: &Value, path: &str, lines: &mut Vec<String>) {
    let parts = parts(content);
    if parts.is_empty() {
        lines.push(format!("{path}.parts: contents.parts must not be empty."));
    }
    for (j, part) in parts.iter().enumerate() {
        let path = format!("{path}.parts[{j}]");
        if !PART_DATA.iter().any(|field| get_in(part, field).is_some_and(is_set)) {
            lines.push(format!("{path}.data: required oneof field 'data' must have one initialized field"));
        }
        for (field, name) in [("functionCall", "function_call"), ("functionResponse", "function_response")] {
            if let Some(inner) = get_in(part, field) {
                if get_in(inner, "name").and_then(Value::as_str).unwrap_or_default().is_empty() {
                    lines.push(format!("{path}.{name}.name: Name cannot be empty."));
                }
            }
        }
    }
}

pub(super) fn check_contents(contents: &[Value], path: &str, lines: &mut Vec<String>) {
    if contents.is_empty() {
        lines.push(format!("{path}: contents is not specified"));
    }
    for (i, content) in contents.iter().enumerate() {
        check_content(content, &format!("{path}[{i}]"), lines);
    }
}

fn check_schema(schema: &Value, path: &str, lines: &mut Vec<String>) {
    let kind = get_in(schema, "type").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase();
    if let Some(properties) = get_in(schema, "properties").and_then(Value::as_object) {
        if !properties.is_empty() && kind != "OBJECT" {
            lines.push(format!("{path}.properties: only allowed for OBJECT type"));
        }
        for (name, property) in properties {
            check_schema(property, &format!("{path}.properties[{name}]"), lines);
        }
    }
    if let Some(items) = get_in(schema, "items") {
        check_schema(items, &format!("{path}.items"), lines);
    }
    for (i, option) in list_in(get_in(schema, "anyOf")).iter().enumerate() {
        check_schema(option, &format!("{path}.any_of[{i}]"), lines);
    }
}

fn check_tools(request: &Map<String, Value>, prefix: &str, lines: &mut Vec<String>) {
    let mut names = HashSet::new();
    for (i, tool) in list_in(get(request, "tools")).iter().enumerate() {
        for (j, declaration) in list_in(get_in(tool, "functionDeclarations")).iter().enumerate() {
            let path = format!("{prefix}.tools[{i}].function_declarations[{j}]");
            let name = get_in(declaration, "name").and_then(Value::as_str).unwrap_or_default();
            if !valid_function_name(name) {
                lines.push(format!(
                    "{path}.name: Invalid function name. Must start with a letter or an underscore. Must be alphameric \
                     (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or dashes (-), with a maximum length of 128."
                ));
            } else if !names.insert(name) {
                lines.push(format!("{path}.name: Duplicate function declaration name: {name}"));
            }
            for (schema, json_schema) in
                [("parameters", "parameters_json_schema"), ("response", "response_json_schema")]
            {
                let camel = if schema == "parameters" { "parametersJsonSchema" } else { "responseJsonSchema" };
                if get_in(declaration, schema).is_some() && get_in(declaration, camel).is_some() {
                    lines.push(format!("{path}: {schema} and {json_schema} cannot both be set"));
                }
            }
            if let Some(parameters) = get_in(declaration, "parameters") {
                check_schema(parameters, &format!("{path}.parameters"), lines);
            }
        }
    }
    let config = get(request, "toolConfig").and_then(|c| get_in(c, "functionCallingConfig"));
    let allowed = list_in(config.and_then(|c| get_in(c, "allowedFunctionNames")));
    let mode = config.and_then(|c| get_in(c, "mode")).and_then(Value::as_str).unwrap_or("AUTO").to_ascii_uppercase();
    if !allowed.is_empty() && mode != "ANY" && mode != "VALIDATED" {
        lines.push(format!(
            "{prefix}.tool_config.function_calling_config.allowed_function_names: allowed_function_names may only \
             be set when mode is ANY or VALIDATED"
        ));
    }
}

const RESPONSE_MIME_TYPES: &[&str] =
    &["text/plain", "application/json", "application/xml", "application/yaml", "text/x.enum"];

fn check_generation_config(config: &Value, prefix: &str, lines: &mut Vec<String>) {
    let path = format!("{prefix}.generation_config");
    let mime = get_in(config, "responseMimeType").and_then(Value::as_str);
    if mime.is_some_and(|m| !RESPONSE_MIME_TYPES.contains(&m)) {
        lines.push(format!(
            "{path}.response_mime_type: allowed mimetypes are `text/plain`, `application/json`, `application/xml`, \
             `application/yaml` and `text/x.enum`."
        ));
    }
    if let Some(schema) = get_in(config, "responseSchema") {
        if !matches!(mime, Some("application/json" | "text/x.enum")) {
            lines.push(format!(
                "{path}.response_schema: response_mime_type must be one of [application/json, text/x.enum] when \
                 response_schema is set"
            ));
        }
        if get_in(config, "responseJsonSchema").is_some() {
            lines.push(format!("{path}: response_schema and response_json_schema cannot both be set"));
        }
        check_schema(schema, &format!("{path}.response_schema"), lines);
    }
}

/// Structural validation of a `GenerateContentRequest` (after parsing), as `* …` lines.
pub(super) fn check_generate_lines(request: &Map<String, Value>, prefix: &str, lines: &mut Vec<String>) {
    check_contents(list_in(get(request, "contents")), &format!("{prefix}.contents"), lines);
    if let Some(system) = get(request, "systemInstruction") {
        check_content(system, &format!("{prefix}.system_instruction"), lines);
    }
    check_tools(request, prefix, lines);
    if let Some(config) = get(request, "generationConfig") {
        check_generation_config(config, prefix, lines);
    }
}

fn check_sampling(request: &Map<String, Value>, model: &str) -> Result<(), String> {
    let Some(config) = get(request, "generationConfig") else { return Ok(()) };
    let out_of_range = |name: &str, value: f64, max: f64| {
        format!(
            "Unable to submit request because it has a {name} value of {value} but the supported range is from 0 \
             (inclusive) to {max} (exclusive). Update the value and try again."
        )
    };
    if let Some(t) = number(get_in(config, "temperature")).filter(|t| !(0.0..=2.0).contains(t)) {
        return Err(out_of_range("temperature", t, 2.0001));
    }
    if let Some(p) = number(get_in(config, "topP")).filter(|p| !(0.0..=1.0).contains(p)) {
        return Err(out_of_range("top_p", p, 1.0001));
    }
    let budget = get_in(config, "thinkingConfig").and_then(|t| number(get_in(t, "thinkingBudget")));
    if budget == Some(0.0) && model.contains("2.5-pro") {
        return Err("Budget 0 is invalid. This model only works in thinking mode.".into());
    }
    Ok(())
}

pub(super) fn validate_generate(request: &Map<String, Value>, model: &str) -> Result<(), ApiError> {
    parse_as(request, &GENERATE_REQUEST)?;
    let mut lines = Vec::new();
    check_generate_lines(request, "GenerateContentRequest", &mut lines);
    if !lines.is_empty() {
        return Err(validation_error(&lines));
    }
    check_turns(list_in(get(request, "contents")), model).map_err(ApiError::invalid)?;
    check_sampling(request, model).map_err(ApiError::invalid)
}
