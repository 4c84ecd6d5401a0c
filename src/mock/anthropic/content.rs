//! Validation of each message and its content blocks (text, images, documents, tool use and
//! results, thinking).

use serde_json::Value;

use super::validate::check_fields;

const EMPTY_TEXT: &str = "text content blocks must be non-empty";
const BLANK_TEXT: &str = "text content blocks must contain non-whitespace text";
const ID_PATTERN: &str = "String should match pattern '^[a-zA-Z0-9_-]+$'";

pub(super) fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(super) fn check_text(text: &str, path: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("{path}: {EMPTY_TEXT}"));
    }
    if text.trim().is_empty() {
        return Err(format!("{path}: {BLANK_TEXT}"));
    }
    Ok(())
}

pub(super) fn check_message(i: usize, message: &Value, last: bool) -> Result<(), String> {
    let Some(message) = message.as_object() else {
        return Err(format!("messages.{i}: Input should be a valid dictionary"));
    };
    let role = match message.get("role") {
        None => return Err(format!("messages.{i}.role: Field required")),
        Some(Value::String(role)) if role == "user" || role == "assistant" => role.as_str(),
        Some(_) => return Err(format!("messages.{i}.role: Input should be 'user' or 'assistant'")),
    };
    let final_assistant = last && role == "assistant";
    let Some(content) = message.get("content") else {
        return Err(format!("messages.{i}.content: Field required"));
    };
    check_fields(message, &["role", "content"], &format!("messages.{i}."))?;
    let empty_content = || {
        format!(
            "messages.{i}: all messages must have non-empty content except for the optional final assistant message"
        )
    };
    match content {
        Value::String(text) if text.is_empty() => {
            if !final_assistant {
                return Err(empty_content());
            }
        }
        Value::String(text) => check_text(text, "messages")?,
        Value::Array(blocks) => {
            if blocks.is_empty() && !final_assistant {
                return Err(empty_content());
            }
            for (j, block) in blocks.iter().enumerate() {
                check_block(block, &format!("messages.{i}.content.{j}"))?;
            }
        }
        _ => return Err(format!("messages.{i}.content: Input should be a valid string or list of content blocks")),
    }
    if final_assistant {
        let tail = match content {
            Value::String(text) => Some(text.as_str()),
            Value::Array(blocks) => blocks.last().filter(|b| b["type"] == "text").and_then(|b| b["text"].as_str()),
            _ => None,
        };
        if tail.is_some_and(|t| t.ends_with(char::is_whitespace)) {
            return Err("messages: final assistant content cannot end with trailing whitespace".into());
        }
    }
    Ok(())
}

/// One content block of a message (or inside a `tool_result`), at `path`.
fn check_block(block: &Value, path: &str) -> Result<(), String> {
    let Some(block) = block.as_object() else {
        return Err(format!("{path}: Input should be a valid dictionary"));
    };
    let Some(kind) = block.get("type").and_then(Value::as_str) else {
        return Err(format!("{path}: Unable to extract tag using discriminator 'type'"));
    };
    let required = |field: &str| match block.get(field) {
        None => Err(format!("{path}.{kind}.{field}: Field required")),
        Some(value) => Ok(value),
    };
    let fields: &[&str] = match kind {
        "text" => &["type", "text", "cache_control", "citations"],
        "image" => &["type", "source", "cache_control"],
        "document" => &["type", "source", "title", "context", "citations", "cache_control"],
        "search_result" => &["type", "source", "title", "content", "citations", "cache_control"],
        "tool_use" => &["type", "id", "name", "input", "cache_control"],
        "tool_result" => &["type", "tool_use_id", "content", "is_error", "cache_control"],
        "thinking" => &["type", "thinking", "signature"],
        "redacted_thinking" => &["type", "data"],
        // Server tools and their results: accepted as they are.
        "server_tool_use" | "mcp_tool_use" | "container_upload" => return Ok(()),
        other if other.ends_with("_tool_result") => return Ok(()),
        other => {
            return Err(format!(
                "{path}: Input tag '{other}' found using 'type' does not match any of the expected tags: 'text', \
                 'image', 'document', 'search_result', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', \
                 'server_tool_use', 'web_search_tool_result'"
            ));
        }
    };
    check_fields(block, fields, &format!("{path}.{kind}."))?;
    match kind {
        "text" => match required("text")? {
            Value::String(text) => check_text(text, "messages")?,
            _ => return Err(format!("{path}.text.text: Input should be a valid string")),
        },
        "image" | "document" => {
            required("source")?;
        }
        "tool_use" => {
            if !required("id")?.as_str().is_some_and(valid_id) {
                return Err(format!("{path}.tool_use.id: {ID_PATTERN}"));
            }
            if !required("name")?.is_string() {
                return Err(format!("{path}.tool_use.name: Input should be a valid string"));
            }
            if !required("input")?.is_object() {
                return Err(format!("{path}.tool_use.input: Input should be a valid dictionary"));
            }
        }
        "tool_result" => {
            if !required("tool_use_id")?.as_str().is_some_and(valid_id) {
                return Err(format!("{path}.tool_result.tool_use_id: {ID_PATTERN}"));
            }
            match block.get("content") {
                None | Some(Value::String(_)) => {}
                Some(Value::Array(parts)) => {
                    for (k, part) in parts.iter().enumerate() {
                        let part_path = format!("{path}.tool_result.content.{k}");
                        match part["type"].as_str() {
                            Some("text" | "image" | "document" | "search_result") => check_block(part, &part_path)?,
                            _ => {
                                return Err(format!(
                                    "{part_path}: Input tag '{}' found using 'type' does not match any of the \
                                     expected tags: 'text', 'image', 'document', 'search_result'",
                                    part["type"].as_str().unwrap_or_default()
                                ));
                            }
                        }
                    }
                }
                Some(_) => return Err(format!("{path}.tool_result.content: Input should be a valid string or list")),
            }
        }
        "thinking" => {
            for field in ["thinking", "signature"] {
                if !required(field)?.is_string() {
                    return Err(format!("{path}.thinking.{field}: Input should be a valid string"));
                }
            }
        }
        "redacted_thinking" => {
            required("data")?;
        }
        _ => {}
    }
    Ok(())
}
