//! The `messages` array of a client request: system text lifted out, tool messages turned into
//! tool results of user turns, consecutive same-role turns merged.

use serde_json::{Map, Value};

use super::{bad, str_at};
use crate::error::ApiError;
use crate::llm::{ImageSource, Message, Part, Role};

/// Builds turns, merging consecutive same-role ones.
#[derive(Default)]
struct Turns {
    system: Vec<Part>,
    turns: Vec<Message>,
    /// Legacy `function_call`s not yet answered: (name, synthesised id).
    pending_functions: Vec<(String, String)>,
}

impl Turns {
    fn push(&mut self, role: Role, parts: Vec<Part>) {
        if parts.is_empty() {
            return;
        }
        match self.turns.last_mut() {
            Some(last) if last.role == role => last.content.extend(parts),
            _ => self.turns.push(Message { role, content: parts }),
        }
    }

    fn finish(mut self) -> (Vec<Part>, Vec<Message>) {
        for turn in self.turns.iter_mut().filter(|t| t.role == Role::User) {
            // Stable: results keep their order, and so does the rest.
            let (mut results, rest): (Vec<Part>, Vec<Part>) =
                turn.content.drain(..).partition(|p| matches!(p, Part::ToolResult { .. }));
            results.extend(rest);
            turn.content = results;
        }
        (self.system, self.turns)
    }
}

/// System parts and turns from `messages` (already checked by the shared validation: each is
/// an object with a known `role`, a well-typed `content`, and `tool_call_id` on tool messages).
pub(super) fn decode_messages(messages: Vec<Value>) -> Result<(Vec<Part>, Vec<Message>), ApiError> {
    let mut turns = Turns::default();
    for (i, mut message) in messages.into_iter().enumerate() {
        let at = format!("messages[{i}]");
        let role = str_at(&message, "role").unwrap_or_default().to_owned();
        let content = message.get_mut("content").map(Value::take).unwrap_or(Value::Null);
        match role.as_str() {
            "system" | "developer" => {
                let mut parts = Vec::new();
                content_parts(content, &format!("{at}.content"), PartsOf::System, &mut parts)?;
                turns.system.extend(parts);
            }
            "user" => {
                let mut parts = Vec::new();
                content_parts(content, &format!("{at}.content"), PartsOf::User, &mut parts)?;
                turns.push(Role::User, parts);
            }
            "assistant" => {
                let parts = assistant_parts(&message, content, i, &mut turns.pending_functions)?;
                turns.push(Role::Assistant, parts);
            }
            "tool" => {
                let call_id = str_at(&message, "tool_call_id")
                    .ok_or_else(|| bad(format!("'{at}.tool_call_id' must be a string")))?
                    .to_owned();
                let result = tool_result(call_id, content, &at)?;
                turns.push(Role::User, vec![result]);
            }
            "function" => {
                let name = str_at(&message, "name")
                    .ok_or_else(|| bad(format!("'{at}.name' is required for role 'function'")))?;
                let call_id = match turns.pending_functions.iter().rposition(|(n, _)| n == name) {
                    Some(p) => turns.pending_functions.remove(p).1,
                    None => format!("call_{name}_{i}"),
                };
                let result = tool_result(call_id, content, &at)?;
                turns.push(Role::User, vec![result]);
            }
            _ => return Err(bad(format!("'{at}.role' is not a supported role"))),
        }
    }
    Ok(turns.finish())
}

fn tool_result(call_id: String, content: Value, at: &str) -> Result<Part, ApiError> {
    let mut parts = Vec::new();
    content_parts(content, &format!("{at}.content"), PartsOf::Tool, &mut parts)?;
    parts.retain(|p| !matches!(p, Part::Text { text, .. } if text.is_empty()));
    Ok(Part::ToolResult { call_id, content: parts, is_error: false })
}

/// Which message a content list belongs to (it decides which part types are allowed).
#[derive(Clone, Copy, PartialEq, Eq)]
enum PartsOf {
    System,
    User,
    Assistant,
    Tool,
}

/// `content`: a string, an array of parts, or null.
fn content_parts(content: Value, at: &str, of: PartsOf, out: &mut Vec<Part>) -> Result<(), ApiError> {
    let parts = match content {
        Value::Null => return Ok(()),
        Value::String(text) => {
            if !(text.is_empty() && of == PartsOf::Assistant) {
                out.push(Part::text(text));
            }
            return Ok(());
        }
        Value::Array(parts) => parts,
        _ => return Err(bad(format!("'{at}' must be a string, an array of parts, or null"))),
    };
    for (j, mut part) in parts.into_iter().enumerate() {
        let at = format!("{at}[{j}]");
        let kind = str_at(&part, "type").unwrap_or_default().to_owned();
        match (kind.as_str(), of) {
            ("text", _) => {
                let text = match part.get_mut("text").map(Value::take) {
                    Some(Value::String(text)) => text,
                    _ => return Err(bad(format!("'{at}.text' must be a string"))),
                };
                let cache_control = part.get_mut("cache_control").map(Value::take).filter(|c| !c.is_null());
                if !(text.is_empty() && of == PartsOf::Assistant) {
                    out.push(Part::Text { text, cache_control });
                }
            }
            ("refusal", PartsOf::Assistant) => {
                if let Some(text) = str_at(&part, "refusal").filter(|t| !t.is_empty()) {
                    out.push(Part::text(text));
                }
            }
            ("image_url", PartsOf::User | PartsOf::Tool) => {
                let image = part.get("image_url");
                let url = image.and_then(|i| i.as_str().or_else(|| str_at(i, "url")));
                let url = url.ok_or_else(|| bad(format!("'{at}.image_url.url' must be a string")))?;
                let source = media_source(url, &format!("{at}.image_url.url"))?;
                out.push(match &source {
                    ImageSource::Base64 { media_type, .. } if media_type == "application/pdf" => {
                        Part::Document { source }
                    }
                    _ => Part::Image { source },
                });
            }
            ("file", PartsOf::User) => {
                let file = part.get("file");
                if let Some(data) = file.and_then(|f| str_at(f, "file_data")) {
                    out.push(Part::Document { source: media_source(data, &format!("{at}.file.file_data"))? });
                } else if file.and_then(|f| f.get("file_id")).is_some() {
                    return Err(bad(format!(
                        "'{at}.file.file_id' is not supported for this model; send the file inline as 'file_data'"
                    )));
                } else {
                    return Err(bad(format!("'{at}.file.file_data' must be a data URL")));
                }
            }
            ("input_audio", _) => {
                return Err(bad(format!("'{at}': 'input_audio' parts are not supported for this model")));
            }
            ("", _) => return Err(bad(format!("'{at}.type' is required"))),
            (other, _) => return Err(bad(format!("'{at}': '{other}' parts are not supported here"))),
        }
    }
    Ok(())
}

/// An `http(s)` URL, or a `data:<mime>[;params];base64,<data>` URL.
fn media_source(url: &str, at: &str) -> Result<ImageSource, ApiError> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Ok(ImageSource::Url(url.to_owned()));
    };
    let invalid = || bad(format!("'{at}' must be an http(s) URL or a base64 data URL (data:<mime>;base64,<data>)"));
    let (header, data) = rest.split_once(',').ok_or_else(invalid)?;
    let header = header.strip_suffix(";base64").ok_or_else(invalid)?;
    let media_type = header.split(';').next().unwrap_or_default().trim();
    if media_type.is_empty() {
        return Err(invalid());
    }
    Ok(ImageSource::Base64 { media_type: media_type.to_ascii_lowercase(), data: data.to_owned() })
}

/// An assistant message: thinking first, then text, then tool calls.
fn assistant_parts(
    message: &Value,
    content: Value,
    i: usize,
    pending_functions: &mut Vec<(String, String)>,
) -> Result<Vec<Part>, ApiError> {
    let at = &format!("messages[{i}]");
    let mut parts = thinking_parts(message);
    let before = parts.len();
    content_parts(content, &format!("{at}.content"), PartsOf::Assistant, &mut parts)?;
    if parts.len() == before {
        if let Some(refusal) = str_at(message, "refusal").filter(|r| !r.is_empty()) {
            parts.push(Part::text(refusal));
        }
    }
    match message.get("tool_calls") {
        None | Some(Value::Null) => {}
        Some(Value::Array(calls)) => {
            for (k, call) in calls.iter().enumerate() {
                let at = format!("{at}.tool_calls[{k}]");
                let id = str_at(call, "id").ok_or_else(|| bad(format!("'{at}.id' must be a string")))?;
                let function = call.get("function").ok_or_else(|| bad(format!("'{at}.function' is required")))?;
                let name =
                    str_at(function, "name").ok_or_else(|| bad(format!("'{at}.function.name' must be a string")))?;
                let arguments = request_arguments(function.get("arguments"), &format!("{at}.function.arguments"))?;
                parts.push(Part::ToolCall { id: id.to_owned(), name: name.to_owned(), arguments });
            }
        }
        Some(_) => return Err(bad(format!("'{at}.tool_calls' must be an array"))),
    }
    if let Some(call) = message.get("function_call").filter(|c| c.is_object()) {
        let name = str_at(call, "name").ok_or_else(|| bad(format!("'{at}.function_call.name' must be a string")))?;
        let arguments = request_arguments(call.get("arguments"), &format!("{at}.function_call.arguments"))?;
        let id = format!("call_{name}_{i}");
        pending_functions.push((name.to_owned(), id.clone()));
        parts.push(Part::ToolCall { id, name: name.to_owned(), arguments });
    }
    Ok(parts)
}

/// OpenRouter's `reasoning_details` (with signatures), else `reasoning` / `reasoning_content`
/// text. Malformed entries are skipped: this is an extension, not worth a 400.
pub(super) fn thinking_parts(message: &Value) -> Vec<Part> {
    if let Some(details) = message.get("reasoning_details").and_then(Value::as_array) {
        let parts: Vec<Part> = details.iter().filter_map(reasoning_detail).collect();
        if !parts.is_empty() {
            return parts;
        }
    }
    ["reasoning", "reasoning_content"]
        .iter()
        .find_map(|key| str_at(message, key).filter(|t| !t.is_empty()))
        .map(|text| vec![Part::Thinking { text: text.to_owned(), signature: None }])
        .unwrap_or_default()
}

/// One `reasoning_details` entry: `reasoning.text`, `reasoning.summary` or `reasoning.encrypted`.
fn reasoning_detail(detail: &Value) -> Option<Part> {
    let signature = str_at(detail, "signature").filter(|s| !s.is_empty()).map(str::to_owned);
    match str_at(detail, "type")? {
        "reasoning.text" => {
            Some(Part::Thinking { text: str_at(detail, "text").unwrap_or_default().to_owned(), signature })
        }
        "reasoning.summary" => Some(Part::Thinking { text: str_at(detail, "summary")?.to_owned(), signature }),
        "reasoning.encrypted" => Some(Part::RedactedThinking { data: str_at(detail, "data")?.to_owned() }),
        _ => None,
    }
}

/// A client's tool call `arguments`: a JSON string holding an object (`""` is `{}`); an object
/// is accepted as is.
fn request_arguments(arguments: Option<&Value>, at: &str) -> Result<Value, ApiError> {
    match arguments {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(obj @ Value::Object(_)) => Ok(obj.clone()),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(Value::Object(Map::new())),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(obj @ Value::Object(_)) => Ok(obj),
            Ok(_) => Err(bad(format!("'{at}' must encode a JSON object"))),
            Err(_) => Err(bad(format!("'{at}' is not valid JSON"))),
        },
        Some(_) => Err(bad(format!("'{at}' must be a string of JSON"))),
    }
}
