//! Anthropic → `llm`: a client's `/v1/messages` body (`request`), an upstream `message`
//! (`response`), and an upstream event stream (`StreamDecoder`).
//!
//! Request decoding validates what it reads and answers 400 naming the offending field
//! (`messages[2].content[0].source`), so a client of the Anthropic surface gets the same kind
//! of message the API would give it. Response and stream decoding is tolerant of anything the
//! API may add (unknown blocks, events and deltas are skipped) and strict about the rest.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::types::{InBlock, InFormat, InMessage, InSource, InThinking, InTool, InToolChoice, InUsage};
use crate::dialect::InvalidResponse;
use crate::error::ApiError;
use crate::llm::{
    ChatRequest, ChatResponse, FinishReason, ImageSource, Message, Part, Reasoning, ResponseFormat, Role, Tool,
    ToolChoice,
};
use crate::usage::Usage;

mod stream;

pub use stream::StreamDecoder;

#[cfg(test)]
mod tests;

/// The name given to a JSON schema from `output_config.format`, which carries none.
pub const SCHEMA_NAME: &str = "response";

/// Decodes a client's `/v1/messages` body. Fields with no neutral slot go to `extra` (members of
/// `metadata` and `output_config` other than those read stay there under their parent's name).
///
/// Choices where the references leave one:
/// * `thinking: {type:"disabled"}` → no `reasoning` (Anthropic's default), not effort `none`.
/// * `thinking: {type:"adaptive"}` → `Reasoning` with only the effort of `output_config.effort`
///   (possibly none: "reason, default amount"); `output_config.effort` alone → `Reasoning{effort}`.
/// * `disable_parallel_tool_use: true` → `parallel_tool_calls: Some(false)`; `false` or absent →
///   `None` (the default either way).
/// * `output_config.format` json_schema → `ResponseFormat::JsonSchema` named `SCHEMA_NAME`.
/// * A document with a plain-text source becomes a text part (its `title`/`context` are dropped).
/// * Blocks, sources and tools with no neutral form (server tools, `search_result`, Files API
///   sources, `content` documents) are refused with 400 rather than dropped silently; so are
///   tool calls and thinking outside assistant turns and tool results outside user turns.
/// * `cache_control` is kept on text (system and messages) and tools, where `llm` has a slot.
pub fn request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON in request body: {e}")))?;
    let Value::Object(mut map) = value else {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    };

    let model: String = required(&mut map, "model", "a string")?;
    let max_tokens: u64 = required(&mut map, "max_tokens", "a non-negative integer")?;
    let messages = match map.remove("messages") {
        None | Some(Value::Null) => return Err(ApiError::bad_request("missing required field 'messages'")),
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(ApiError::bad_request("'messages' must be an array")),
    };
    if messages.is_empty() {
        return Err(ApiError::bad_request("'messages' must not be empty"));
    }
    let messages = messages.iter().enumerate().map(|(i, m)| message(i, m)).collect::<Result<Vec<_>, _>>()?;

    let system = match map.remove("system") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) if text.is_empty() => Vec::new(),
        Some(Value::String(text)) => vec![Part::text(text)],
        Some(Value::Array(blocks)) => {
            blocks.iter().enumerate().map(|(i, b)| system_block(i, b)).collect::<Result<Vec<_>, _>>()?
        }
        Some(_) => return Err(ApiError::bad_request("'system' must be a string or an array of text blocks")),
    };

    let tools = match map.remove("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tools)) => tools.iter().enumerate().map(|(i, t)| tool(i, t)).collect::<Result<_, _>>()?,
        Some(_) => return Err(ApiError::bad_request("'tools' must be an array")),
    };
    let (tool_choice, parallel_tool_calls) =
        match optional::<InToolChoice>(&mut map, "tool_choice", "an object with 'type' auto, any, tool or none")? {
            None => (None, None),
            Some(InToolChoice::Auto { disable_parallel_tool_use: d }) => (Some(ToolChoice::Auto), parallel(d)),
            Some(InToolChoice::Any { disable_parallel_tool_use: d }) => (Some(ToolChoice::Required), parallel(d)),
            Some(InToolChoice::Tool { name, disable_parallel_tool_use: d }) => {
                (Some(ToolChoice::Tool(name)), parallel(d))
            }
            Some(InToolChoice::None) => (Some(ToolChoice::None), None),
        };

    let thinking = optional::<InThinking>(
        &mut map,
        "thinking",
        "an object with 'type' enabled (with 'budget_tokens'), disabled or adaptive",
    )?;
    let (effort, response_format) = output_config(&mut map)?;
    let reasoning = match thinking {
        Some(InThinking::Enabled { budget_tokens }) => {
            Some(Reasoning { effort, max_tokens: Some(budget_tokens), exclude: false })
        }
        Some(InThinking::Adaptive) => Some(Reasoning { effort, ..Reasoning::default() }),
        Some(InThinking::Disabled) => None,
        None => effort.map(|effort| Reasoning { effort: Some(effort), ..Reasoning::default() }),
    };

    let user = match map.remove("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(mut metadata)) => {
            let user = match metadata.remove("user_id") {
                None | Some(Value::Null) => None,
                Some(Value::String(user)) => Some(user),
                Some(_) => return Err(ApiError::bad_request("'metadata.user_id' must be a string")),
            };
            if !metadata.is_empty() {
                map.insert("metadata".into(), Value::Object(metadata));
            }
            user
        }
        Some(_) => return Err(ApiError::bad_request("'metadata' must be an object")),
    };

    Ok(ChatRequest {
        model,
        system,
        messages,
        max_tokens: Some(max_tokens),
        temperature: optional(&mut map, "temperature", "a number")?,
        top_p: optional(&mut map, "top_p", "a number")?,
        top_k: optional(&mut map, "top_k", "a non-negative integer")?,
        stop: optional(&mut map, "stop_sequences", "an array of strings")?.unwrap_or_default(),
        stream: optional(&mut map, "stream", "a boolean")?.unwrap_or(false),
        tools,
        tool_choice,
        parallel_tool_calls,
        response_format,
        reasoning,
        user,
        seed: None,
        frequency_penalty: None,
        presence_penalty: None,
        extra: map,
    })
}

/// Decodes an upstream `message` body.
pub fn response(body: &[u8]) -> Result<ChatResponse, InvalidResponse> {
    let message: InMessage = serde_json::from_slice(body).map_err(|e| InvalidResponse(e.to_string()))?;
    let mut content = Vec::with_capacity(message.content.len());
    for block in message.content {
        match block {
            InBlock::Text { text, .. } => content.push(Part::text(text)),
            InBlock::Thinking { thinking, signature } => {
                content.push(Part::Thinking { text: thinking, signature: signature.filter(|s| !s.is_empty()) })
            }
            InBlock::RedactedThinking { data } => content.push(Part::RedactedThinking { data }),
            InBlock::ToolUse { id, name, input } => {
                content.push(Part::ToolCall { id, name, arguments: object_or_empty(input) })
            }
            // Not produced by the Messages API as plain content; server-tool blocks have no
            // neutral form.
            InBlock::Image { .. } | InBlock::Document { .. } | InBlock::ToolResult { .. } | InBlock::Unknown => {}
        }
    }
    let (finish_reason, native_finish_reason) = finish_reason(message.stop_reason);
    Ok(ChatResponse {
        id: message.id,
        model: message.model,
        // Anthropic messages carry no timestamp; whoever renders `created` sets it.
        created: 0,
        content,
        finish_reason,
        native_finish_reason,
        stop_sequence: message.stop_sequence,
        usage: usage(&message.usage),
    })
}

/// `stop_reason` → neutral finish reason, and the raw value for `native_finish_reason`
/// (wire-formats §5.8).
fn finish_reason(stop_reason: Option<String>) -> (FinishReason, Option<String>) {
    let reason = match stop_reason.as_deref() {
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        // end_turn, stop_sequence, pause_turn, null and anything new.
        _ => FinishReason::Stop,
    };
    (reason, stop_reason)
}

/// Anthropic usage → OpenAI convention (wire-formats §5.9): the prompt is the uncached part
/// plus cache writes plus cache reads.
fn usage(u: &InUsage) -> Usage {
    let cache_write = u.cache_creation_input_tokens.unwrap_or(0);
    let cache_read = u.cache_read_input_tokens.unwrap_or(0);
    Usage {
        prompt_tokens: u.input_tokens.unwrap_or(0).saturating_add(cache_write).saturating_add(cache_read),
        completion_tokens: u.output_tokens.unwrap_or(0),
        cached_tokens: cache_read,
        cache_write_tokens: cache_write,
        reasoning_tokens: u.output_tokens_details.and_then(|d| d.thinking_tokens).unwrap_or(0),
    }
}

fn object_or_empty(input: Value) -> Value {
    match input {
        Value::Object(_) => input,
        _ => Value::Object(Map::new()),
    }
}

fn parallel(disable_parallel_tool_use: Option<bool>) -> Option<bool> {
    // Only an explicit `true` says something the neutral model needs to carry.
    (disable_parallel_tool_use == Some(true)).then_some(false)
}

/// Removes `key`; `null` counts as absent. `what` completes "'key' must be …".
fn optional<T: DeserializeOwned>(map: &mut Map<String, Value>, key: &str, what: &str) -> Result<Option<T>, ApiError> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => {
            T::deserialize(value).map(Some).map_err(|_| ApiError::bad_request(format!("'{key}' must be {what}")))
        }
    }
}

fn required<T: DeserializeOwned>(map: &mut Map<String, Value>, key: &str, what: &str) -> Result<T, ApiError> {
    optional(map, key, what)?.ok_or_else(|| ApiError::bad_request(format!("missing required field '{key}'")))
}

/// `output_config`: `effort` and `format` are read; other members stay in `extra`.
fn output_config(map: &mut Map<String, Value>) -> Result<(Option<String>, Option<ResponseFormat>), ApiError> {
    let mut config = match map.remove("output_config") {
        None | Some(Value::Null) => return Ok((None, None)),
        Some(Value::Object(config)) => config,
        Some(_) => return Err(ApiError::bad_request("'output_config' must be an object")),
    };
    let effort = match config.remove("effort") {
        None | Some(Value::Null) => None,
        Some(Value::String(effort)) => Some(effort),
        Some(_) => return Err(ApiError::bad_request("'output_config.effort' must be a string")),
    };
    let format = match config.remove("format") {
        None | Some(Value::Null) => None,
        Some(format) => match InFormat::deserialize(format) {
            Ok(InFormat::JsonSchema { schema }) => {
                Some(ResponseFormat::JsonSchema { name: SCHEMA_NAME.into(), schema, strict: None })
            }
            Err(_) => {
                return Err(ApiError::bad_request(
                    "'output_config.format' must be {\"type\":\"json_schema\",\"schema\":{...}}",
                ));
            }
        },
    };
    if !config.is_empty() {
        map.insert("output_config".into(), Value::Object(config));
    }
    Ok((effort, format))
}

fn message(i: usize, value: &Value) -> Result<Message, ApiError> {
    let Value::Object(message) = value else {
        return Err(ApiError::bad_request(format!("messages[{i}] must be an object")));
    };
    let role = match message.get("role").and_then(Value::as_str) {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        None if !message.contains_key("role") => {
            return Err(ApiError::bad_request(format!("messages[{i}]: missing required field 'role'")));
        }
        _ => return Err(ApiError::bad_request(format!("messages[{i}].role must be \"user\" or \"assistant\""))),
    };
    let content = match message.get("content") {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request(format!("messages[{i}]: missing required field 'content'")));
        }
        Some(Value::String(text)) => vec![Part::text(text.clone())],
        Some(Value::Array(blocks)) => blocks
            .iter()
            .enumerate()
            .map(|(j, b)| block(&format!("messages[{i}].content[{j}]"), b, Place::Turn(role)))
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "messages[{i}].content must be a string or an array of content blocks"
            )));
        }
    };
    Ok(Message { role, content })
}

/// Where a block sits, which decides what it may be.
#[derive(Clone, Copy)]
enum Place {
    Turn(Role),
    ToolResult,
}

fn block(path: &str, value: &Value, place: Place) -> Result<Part, ApiError> {
    let kind = match value.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return Err(ApiError::bad_request(format!("{path}.type must be a string"))),
        None if value.is_object() => {
            return Err(ApiError::bad_request(format!("{path}: missing required field 'type'")));
        }
        None => return Err(ApiError::bad_request(format!("{path} must be a content block object"))),
    };
    let parsed = InBlock::deserialize(value).map_err(|e| ApiError::bad_request(format!("{path} ({kind}): {e}")))?;
    let misplaced = || ApiError::bad_request(format!("{path}: a '{kind}' block is not allowed here"));
    let part = match (parsed, place) {
        (InBlock::Text { text, cache_control }, _) => Part::Text { text, cache_control },
        (InBlock::Image { source }, _) => Part::Image { source: image_source(path, value, source)? },
        (InBlock::Document { source: InSource::Text { data } }, _) => Part::text(data),
        (InBlock::Document { source }, _) => Part::Document { source: image_source(path, value, source)? },
        (InBlock::ToolUse { id, name, input }, Place::Turn(Role::Assistant)) => {
            let arguments = match input {
                Value::Null => Value::Object(Map::new()),
                Value::Object(_) => input,
                _ => return Err(ApiError::bad_request(format!("{path}.input must be an object"))),
            };
            Part::ToolCall { id, name, arguments }
        }
        (InBlock::ToolResult { tool_use_id, content, is_error }, Place::Turn(Role::User)) => {
            let path = format!("{path}.content");
            let content = match content {
                Value::Null => Vec::new(),
                Value::String(text) => vec![Part::text(text)],
                Value::Array(blocks) => blocks
                    .iter()
                    .enumerate()
                    .map(|(k, b)| block(&format!("{path}[{k}]"), b, Place::ToolResult))
                    .collect::<Result<_, _>>()?,
                _ => return Err(ApiError::bad_request(format!("{path} must be a string or an array of blocks"))),
            };
            Part::ToolResult { call_id: tool_use_id, content, is_error: is_error.unwrap_or(false) }
        }
        (InBlock::Thinking { thinking, signature }, Place::Turn(Role::Assistant)) => {
            Part::Thinking { text: thinking, signature: signature.filter(|s| !s.is_empty()) }
        }
        (InBlock::RedactedThinking { data }, Place::Turn(Role::Assistant)) => Part::RedactedThinking { data },
        (InBlock::Unknown, _) => {
            return Err(ApiError::bad_request(format!(
                "{path}: content block type '{kind}' is not supported for this model"
            )));
        }
        _ => return Err(misplaced()),
    };
    Ok(part)
}

fn image_source(path: &str, block: &Value, source: InSource) -> Result<ImageSource, ApiError> {
    match source {
        InSource::Base64 { media_type, data } => Ok(ImageSource::Base64 { media_type, data }),
        InSource::Url { url } => Ok(ImageSource::Url(url)),
        InSource::Text { .. } | InSource::Unknown => {
            let kind = block.pointer("/source/type").and_then(Value::as_str).unwrap_or("?");
            Err(ApiError::bad_request(format!("{path}.source: source type '{kind}' is not supported for this model")))
        }
    }
}

fn system_block(i: usize, value: &Value) -> Result<Part, ApiError> {
    match InBlock::deserialize(value) {
        Ok(InBlock::Text { text, cache_control }) => Ok(Part::Text { text, cache_control }),
        _ => Err(ApiError::bad_request(format!("system[{i}] must be a text block"))),
    }
}

fn tool(i: usize, value: &Value) -> Result<Tool, ApiError> {
    let tool = InTool::deserialize(value).map_err(|e| ApiError::bad_request(format!("tools[{i}]: {e}")))?;
    if let Some(kind) = tool.kind.as_deref().filter(|k| *k != "custom") {
        return Err(ApiError::bad_request(format!("tools[{i}]: tool type '{kind}' is not supported for this model")));
    }
    let parameters = match tool.input_schema {
        Value::Null => serde_json::json!({ "type": "object", "properties": {} }),
        schema @ Value::Object(_) => schema,
        _ => return Err(ApiError::bad_request(format!("tools[{i}].input_schema must be an object"))),
    };
    Ok(Tool {
        name: tool.name,
        description: tool.description,
        parameters,
        strict: tool.strict,
        cache_control: tool.cache_control,
    })
}
