//! Validation of tool definitions and `tool_choice`, and the pairing of `tool_use` with
//! `tool_result` blocks between consecutive messages.

use serde_json::Value;

use super::content::valid_id;

fn valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && valid_id(name)
}

pub(super) fn blocks_of<'a>(message: &'a Value, kind: &'a str) -> impl Iterator<Item = (usize, &'a Value)> + 'a {
    message["content"].as_array().into_iter().flatten().enumerate().filter(move |(_, b)| b["type"] == kind)
}

/// Every `tool_use` must be answered by a `tool_result` in the very next message, and every
/// `tool_result` must answer a `tool_use` of the message just before.
pub(super) fn check_tool_pairing(messages: &[Value]) -> Result<(), String> {
    for (i, message) in messages.iter().enumerate() {
        let previous_uses: Vec<&str> = match i.checked_sub(1).map(|p| &messages[p]) {
            Some(previous) if previous["role"] == "assistant" => {
                blocks_of(previous, "tool_use").filter_map(|(_, b)| b["id"].as_str()).collect()
            }
            _ => Vec::new(),
        };
        if message["role"] == "user" {
            for (j, result) in blocks_of(message, "tool_result") {
                let id = result["tool_use_id"].as_str().unwrap_or_default();
                if !previous_uses.contains(&id) {
                    return Err(format!(
                        "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. \
                         Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                    ));
                }
            }
        }
        let Some(next) = messages.get(i + 1) else { continue };
        if message["role"] != "assistant" {
            continue;
        }
        let answered: Vec<&str> = if next["role"] == "user" {
            blocks_of(next, "tool_result").filter_map(|(_, b)| b["tool_use_id"].as_str()).collect()
        } else {
            Vec::new()
        };
        let missing: Vec<&str> = blocks_of(message, "tool_use")
            .filter_map(|(_, b)| b["id"].as_str())
            .filter(|id| !answered.contains(id))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. \
                 Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                missing.join(", ")
            ));
        }
    }
    Ok(())
}

pub(super) fn check_tools(tools: Option<&Value>) -> Result<(), String> {
    let tools = match tools {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(tools)) => tools,
        Some(_) => return Err("tools: Input should be a valid list".into()),
    };
    let mut names = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let kind = tool.get("type").and_then(Value::as_str).unwrap_or("custom");
        // Server tools are versioned: `web_search_20250305`, `bash_20250124`, ...
        let versioned =
            kind.rsplit_once('_').is_some_and(|(_, v)| v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()));
        if versioned {
            names.extend(tool["name"].as_str());
            continue;
        }
        if kind != "custom" {
            return Err(format!(
                "tools.{i}: Input tag '{kind}' found using 'type' does not match any of the expected tags: 'custom', \
                 'bash_20250124', 'code_execution_20250825', 'text_editor_20250728', 'web_search_20250305'"
            ));
        }
        let name = match tool.get("name") {
            None => return Err(format!("tools.{i}.custom.name: Field required")),
            Some(name) => name.as_str().unwrap_or_default(),
        };
        if !valid_tool_name(name) {
            return Err(format!("tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"));
        }
        match tool.get("input_schema") {
            None => return Err(format!("tools.{i}.custom.input_schema: Field required")),
            Some(schema) if schema["type"] != "object" => {
                return Err(format!("tools.{i}.custom.input_schema.type: Input should be 'object'"));
            }
            Some(_) => {}
        }
        names.push(name);
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err("tools: Tool names must be unique.".into());
    }
    Ok(())
}

/// Validates `tool_choice`; returns whether it forces a tool (`any` or `tool`).
pub(super) fn check_tool_choice(choice: Option<&Value>) -> Result<bool, String> {
    let choice = match choice {
        None | Some(Value::Null) => return Ok(false),
        Some(Value::Object(choice)) => choice,
        Some(_) => {
            return Err("tool_choice: Input should be a valid dictionary or object to extract fields from".into());
        }
    };
    match choice.get("type").and_then(Value::as_str) {
        Some("auto" | "none") => Ok(false),
        Some("any") => Ok(true),
        Some("tool") => match choice.get("name") {
            Some(Value::String(_)) => Ok(true),
            _ => Err("tool_choice.tool.name: Field required".into()),
        },
        Some(other) => Err(format!(
            "tool_choice: Input tag '{other}' found using 'type' does not match any of the expected tags: 'auto', \
             'any', 'tool', 'none'"
        )),
        None => Err("tool_choice: Unable to extract tag using discriminator 'type'".into()),
    }
}
