//! OpenAI Chat Completions → `llm`: a client's request (`request`), an upstream's answer
//! (`response`) and an upstream's stream (`StreamDecoder`). wire-formats §5 is the spec.
//!
//! Decisions where the spec leaves a choice:
//! * `system`/`developer` messages anywhere go to `llm::ChatRequest::system`, in order; their
//!   text parts keep `cache_control`.
//! * `tool` messages become `ToolResult` parts of a user turn; consecutive same-role turns are
//!   merged (so consecutive tool messages and the user message after them form one turn), and
//!   in every user turn the tool results are moved in front of the other parts (Anthropic
//!   requires that; it changes nothing for OpenAI's semantics).
//! * Parts no other provider can take are refused with a 400 naming the part: `input_audio`
//!   and `file.file_id` (a provider-side file id). PDFs (`application/pdf` data URLs in
//!   `image_url`, or `file.file_data`) become `Document`s.
//! * A tool call whose `arguments` is not a JSON object: in a client request, a 400 naming
//!   the message; in an upstream answer, the text is kept as `{"_raw": "<text>"}` (failing
//!   the whole answer would be worse for the client). `""` is `{}` in both.
//! * A refusal (`refusal` on the message, or a `refusal` part) becomes text; message `name`
//!   has no neutral slot and is dropped.
//! * Legacy `functions`/`function_call` are read as `tools`/`tool_choice` when those are
//!   absent, and `function` messages as tool results paired by name.
//! * Everything without a neutral slot (`logprobs`, `metadata`, `stream_options`, OpenRouter's
//!   `models`, `provider`, `plugins`, …) is kept in `extra`.

mod messages;
mod stream;

use serde_json::{Map, Value};

use self::messages::{decode_messages, thinking_parts};
use super::request::ChatRequest as Validated;
use super::usage;
use crate::dialect::InvalidResponse;
use crate::error::ApiError;
use crate::llm::{self, FinishReason, Part, Reasoning, ResponseFormat, Tool, ToolChoice};

pub use stream::StreamDecoder;

/// Reasoning efforts OpenRouter accepts in `reasoning.effort` (and OpenAI in `reasoning_effort`).
const EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh", "max"];

fn bad(message: String) -> ApiError {
    ApiError::bad_request(message)
}

/// A client's `/v1/chat/completions` body in neutral form. Runs the same validation as the
/// same-format path first, so shared problems give identical 400s.
pub fn request(body: &[u8]) -> Result<llm::ChatRequest, ApiError> {
    request_checked(&Validated::parse(body)?, body)
}

/// `request` for a body the caller has already validated with `ChatRequest::parse` (the chat
/// handler does, to route it), so it is not parsed and checked a second time.
pub fn request_checked(checked: &Validated<'_>, body: &[u8]) -> Result<llm::ChatRequest, ApiError> {
    let mut obj: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| bad(format!("request body is not valid JSON: {e}")))?;
    let mut req = llm::ChatRequest {
        model: checked.model.to_string(),
        stream: checked.stream,
        max_tokens: checked.max_tokens,
        ..Default::default()
    };
    for consumed in ["model", "stream", "max_completion_tokens", "max_tokens"] {
        obj.remove(consumed);
    }
    if let Some(n) = obj.remove("n") {
        if !(n.is_null() || n.as_u64() == Some(1)) {
            return Err(bad("'n' must be 1: only one choice per request is supported for this model".into()));
        }
    }
    req.temperature = take(&mut obj, "temperature", "a number")?;
    req.top_p = take(&mut obj, "top_p", "a number")?;
    req.top_k = take(&mut obj, "top_k", "a non-negative integer")?;
    req.seed = take(&mut obj, "seed", "an integer")?;
    req.frequency_penalty = take(&mut obj, "frequency_penalty", "a number")?;
    req.presence_penalty = take(&mut obj, "presence_penalty", "a number")?;
    req.user = take(&mut obj, "user", "a string")?;
    req.parallel_tool_calls = take(&mut obj, "parallel_tool_calls", "a boolean")?;
    req.stop = match obj.remove("stop") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s],
        Some(other) => {
            serde_json::from_value(other).map_err(|_| bad("'stop' must be a string or an array of strings".into()))?
        }
    };

    let tools = obj.remove("tools");
    let functions = obj.remove("functions");
    req.tools = match (tools, functions) {
        (Some(tools), _) if !tools.is_null() => decode_tools(tools, "tools")?,
        (_, Some(functions)) if !functions.is_null() => decode_functions(functions)?,
        _ => Vec::new(),
    };
    let choice = obj.remove("tool_choice");
    let function_call = obj.remove("function_call");
    req.tool_choice = match (choice, function_call) {
        (Some(choice), _) if !choice.is_null() => Some(decode_tool_choice(choice, &mut req.tools)?),
        (_, Some(call)) if !call.is_null() => Some(decode_function_call(call)?),
        _ => None,
    };
    req.response_format = obj.remove("response_format").map(decode_response_format).transpose()?.flatten();
    req.reasoning = decode_reasoning(obj.remove("reasoning"), obj.remove("reasoning_effort"))?;

    let messages = obj.remove("messages").unwrap_or_default();
    let Value::Array(messages) = messages else {
        return Err(bad("'messages' must be an array of message objects".into()));
    };
    let (system, turns) = decode_messages(messages)?;
    req.system = system;
    req.messages = turns;
    req.extra = obj;
    Ok(req)
}

/// Removes `name` and reads it as `T`; `null` counts as absent.
fn take<T: serde::de::DeserializeOwned>(
    obj: &mut Map<String, Value>,
    name: &str,
    expected: &str,
) -> Result<Option<T>, ApiError> {
    match obj.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v).map(Some).map_err(|_| bad(format!("'{name}' must be {expected}"))),
    }
}

fn str_at<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

fn decode_tools(tools: Value, field: &str) -> Result<Vec<Tool>, ApiError> {
    let Value::Array(tools) = tools else {
        return Err(bad(format!("'{field}' must be an array of tools")));
    };
    tools
        .into_iter()
        .enumerate()
        .map(|(i, tool)| {
            let at = format!("{field}[{i}]");
            match str_at(&tool, "type") {
                Some("function") => {}
                Some(other) => {
                    return Err(bad(format!(
                        "'{at}.type' must be 'function'; '{other}' tools are not supported for this model"
                    )));
                }
                None => return Err(bad(format!("'{at}.type' is required"))),
            }
            let function = tool.get("function").ok_or_else(|| bad(format!("'{at}.function' is required")))?;
            let cache_control = tool.get("cache_control").or_else(|| function.get("cache_control")).cloned();
            decode_function(function, &format!("{at}.function"), cache_control)
        })
        .collect()
}

/// A `function` object (`{name, description?, parameters?, strict?}`).
fn decode_function(function: &Value, at: &str, cache_control: Option<Value>) -> Result<Tool, ApiError> {
    let name = str_at(function, "name").ok_or_else(|| bad(format!("'{at}.name' must be a string")))?;
    let parameters = match function.get("parameters") {
        None | Some(Value::Null) => serde_json::json!({ "type": "object", "properties": {} }),
        Some(p @ Value::Object(_)) => p.clone(),
        Some(_) => return Err(bad(format!("'{at}.parameters' must be a JSON Schema object"))),
    };
    Ok(Tool {
        name: name.to_owned(),
        description: str_at(function, "description").map(str::to_owned),
        parameters,
        strict: function.get("strict").and_then(Value::as_bool),
        cache_control,
    })
}

/// Legacy `functions: [{name, description, parameters}]`.
fn decode_functions(functions: Value) -> Result<Vec<Tool>, ApiError> {
    let Value::Array(functions) = functions else {
        return Err(bad("'functions' must be an array of functions".into()));
    };
    functions.iter().enumerate().map(|(i, f)| decode_function(f, &format!("functions[{i}]"), None)).collect()
}

const TOOL_CHOICE_SHAPES: &str = "'auto', 'none', 'required', {\"type\":\"function\",\"function\":{\"name\":...}} or {\"type\":\"allowed_tools\",...}";

/// `tool_choice`. `allowed_tools` narrows `tools` to the allowed ones.
fn decode_tool_choice(choice: Value, tools: &mut Vec<Tool>) -> Result<ToolChoice, ApiError> {
    let invalid = || bad(format!("'tool_choice' must be {TOOL_CHOICE_SHAPES}"));
    match &choice {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(invalid()),
        },
        Value::Object(_) => match str_at(&choice, "type") {
            Some("function") => {
                let name = choice.get("function").and_then(|f| str_at(f, "name")).ok_or_else(invalid)?;
                Ok(ToolChoice::Tool(name.to_owned()))
            }
            Some("allowed_tools") => {
                let allowed = choice.get("allowed_tools").ok_or_else(invalid)?;
                let names: Vec<&str> = allowed
                    .get("tools")
                    .and_then(Value::as_array)
                    .ok_or_else(invalid)?
                    .iter()
                    .filter_map(|t| t.get("function").and_then(|f| str_at(f, "name")))
                    .collect();
                tools.retain(|t| names.contains(&t.name.as_str()));
                match str_at(allowed, "mode") {
                    Some("required") => Ok(ToolChoice::Required),
                    Some("auto") | None => Ok(ToolChoice::Auto),
                    Some(_) => Err(invalid()),
                }
            }
            _ => Err(invalid()),
        },
        _ => Err(invalid()),
    }
}

/// Legacy `function_call`: `"none"`, `"auto"` or `{"name": …}`.
fn decode_function_call(call: Value) -> Result<ToolChoice, ApiError> {
    match &call {
        Value::String(s) if s == "none" => Ok(ToolChoice::None),
        Value::String(s) if s == "auto" => Ok(ToolChoice::Auto),
        Value::Object(_) => match str_at(&call, "name") {
            Some(name) => Ok(ToolChoice::Tool(name.to_owned())),
            None => Err(bad("'function_call.name' must be a string".into())),
        },
        _ => Err(bad("'function_call' must be 'none', 'auto' or {\"name\":...}".into())),
    }
}

fn decode_response_format(format: Value) -> Result<Option<ResponseFormat>, ApiError> {
    if format.is_null() {
        return Ok(None);
    }
    match str_at(&format, "type") {
        Some("text") => Ok(Some(ResponseFormat::Text)),
        Some("json_object") => Ok(Some(ResponseFormat::JsonObject)),
        Some("json_schema") => {
            let spec = format
                .get("json_schema")
                .filter(|s| s.is_object())
                .ok_or_else(|| bad("'response_format.json_schema' must be an object".into()))?;
            let name = str_at(spec, "name")
                .ok_or_else(|| bad("'response_format.json_schema.name' must be a string".into()))?;
            Ok(Some(ResponseFormat::JsonSchema {
                name: name.to_owned(),
                schema: spec
                    .get("schema")
                    .filter(|s| !s.is_null())
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new())),
                strict: spec.get("strict").and_then(Value::as_bool),
            }))
        }
        _ => Err(bad("'response_format.type' must be 'text', 'json_object' or 'json_schema'".into())),
    }
}

fn effort(value: &Value, field: &str) -> Result<String, ApiError> {
    match value.as_str() {
        Some(e) if EFFORTS.contains(&e) => Ok(e.to_owned()),
        _ => Err(bad(format!("'{field}' must be one of {}", EFFORTS.join(", ")))),
    }
}

/// OpenRouter's `reasoning` object, else OpenAI's `reasoning_effort`. `enabled: true` alone means
/// effort `medium`; `enabled: false` alone means `none`.
fn decode_reasoning(reasoning: Option<Value>, reasoning_effort: Option<Value>) -> Result<Option<Reasoning>, ApiError> {
    let mut out = Reasoning::default();
    if let Some(r) = reasoning.filter(|r| !r.is_null()) {
        if !r.is_object() {
            return Err(bad("'reasoning' must be an object".into()));
        }
        if let Some(e) = r.get("effort").filter(|e| !e.is_null()) {
            out.effort = Some(effort(e, "reasoning.effort")?);
        }
        if let Some(m) = r.get("max_tokens").filter(|m| !m.is_null()) {
            out.max_tokens =
                Some(m.as_u64().ok_or_else(|| bad("'reasoning.max_tokens' must be a non-negative integer".into()))?);
        }
        out.exclude = r.get("exclude").and_then(Value::as_bool).unwrap_or(false);
        if out.effort.is_none() && out.max_tokens.is_none() {
            match r.get("enabled").and_then(Value::as_bool) {
                Some(true) => out.effort = Some("medium".into()),
                Some(false) => out.effort = Some("none".into()),
                None => {}
            }
        }
    }
    if out.effort.is_none() {
        if let Some(e) = reasoning_effort.filter(|e| !e.is_null()) {
            out.effort = Some(effort(&e, "reasoning_effort")?);
        }
    }
    let empty = out.effort.is_none() && out.max_tokens.is_none() && !out.exclude;
    Ok((!empty).then_some(out))
}

/// An upstream's tool call `arguments`: never fails; text that is not a JSON object is kept as
/// `{"_raw": "<text>"}` so the client still sees what the model wrote.
fn response_arguments(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Object(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(obj @ Value::Object(_)) => obj,
        _ => serde_json::json!({ "_raw": text }),
    }
}

/// OpenAI's (or OpenRouter's) `finish_reason` in neutral form. Any tool call makes it
/// `ToolCalls`, whatever the upstream said (some backends say `stop`).
fn finish_reason(raw: Option<&str>, saw_tool_call: bool) -> FinishReason {
    if saw_tool_call {
        return FinishReason::ToolCalls;
    }
    match raw {
        Some("length") => FinishReason::Length,
        Some("tool_calls" | "function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        Some("error") => FinishReason::Error,
        _ => FinishReason::Stop,
    }
}

/// An upstream `chat.completion` body in neutral form (the first choice).
pub fn response(body: &[u8]) -> Result<llm::ChatResponse, InvalidResponse> {
    let wire: WireResponse = serde_json::from_slice(body).map_err(|e| InvalidResponse(e.to_string()))?;
    if wire.error.as_ref().is_some_and(|e| !e.is_null()) {
        return Err(InvalidResponse("an error object instead of a completion".into()));
    }
    let choices = wire.choices.ok_or_else(|| InvalidResponse("no 'choices'".into()))?;
    let choice = choices.into_iter().next().ok_or_else(|| InvalidResponse("empty 'choices'".into()))?;
    let message = choice.message.unwrap_or(Value::Null);

    let mut content = thinking_parts(&message);
    let before = content.len();
    match message.get("content") {
        Some(Value::String(text)) if !text.is_empty() => content.push(Part::text(text.as_str())),
        Some(Value::Array(parts)) => {
            let texts = parts.iter().filter_map(|p| str_at(p, "text").or_else(|| str_at(p, "refusal")));
            content.extend(texts.filter(|t| !t.is_empty()).map(Part::text));
        }
        _ => {}
    }
    if content.len() == before {
        if let Some(refusal) = str_at(&message, "refusal").filter(|r| !r.is_empty()) {
            content.push(Part::text(refusal));
        }
    }
    let mut saw_tool_call = false;
    for (k, call) in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let function = call.get("function");
        let arguments = match function.and_then(|f| f.get("arguments")) {
            Some(Value::String(text)) => response_arguments(text),
            Some(obj @ Value::Object(_)) => obj.clone(),
            _ => Value::Object(Map::new()),
        };
        content.push(Part::ToolCall {
            id: str_at(call, "id").map_or_else(|| format!("call_{k}"), str::to_owned),
            name: function.and_then(|f| str_at(f, "name")).unwrap_or_default().to_owned(),
            arguments,
        });
        saw_tool_call = true;
    }

    let raw_reason = choice.finish_reason.as_ref().and_then(Value::as_str);
    let native = choice.native_finish_reason.as_ref().and_then(Value::as_str).or(raw_reason);
    Ok(llm::ChatResponse {
        id: wire.id.unwrap_or_default(),
        model: wire.model.unwrap_or_default(),
        created: wire.created.unwrap_or_default(),
        content,
        finish_reason: finish_reason(raw_reason, saw_tool_call),
        native_finish_reason: native.map(str::to_owned),
        stop_sequence: None,
        usage: wire.usage.as_deref().and_then(usage::parse).unwrap_or_default(),
    })
}

#[derive(serde::Deserialize)]
struct WireResponse {
    id: Option<String>,
    model: Option<String>,
    created: Option<i64>,
    choices: Option<Vec<WireChoice>>,
    usage: Option<Box<serde_json::value::RawValue>>,
    error: Option<Value>,
}

#[derive(serde::Deserialize)]
struct WireChoice {
    message: Option<Value>,
    finish_reason: Option<Value>,
    native_finish_reason: Option<Value>,
}

#[cfg(test)]
mod tests;
