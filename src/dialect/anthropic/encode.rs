//! `llm` → Anthropic: a `/v1/messages` body for an Anthropic upstream (`request`), and a
//! `message` (`response`) or event stream (`StreamEncoder`) for a client of `/v1/messages`.
//!
//! The request encoder produces what the API accepts rather than a literal copy (wire-formats
//! §5.1–5.6, §5.10–5.12 and the pitfalls of §6). Its choices where the references leave one:
//!
//! * Turns: consecutive same-role messages are merged; in a user turn all tool results come
//!   first, in an assistant turn all thinking blocks come first, each group in order. Empty and
//!   whitespace-only text is dropped (a turn left empty disappears); a tool result with no content
//!   gets the text `EMPTY_TOOL_RESULT`; the final assistant (prefill) text loses trailing
//!   whitespace. Thinking without a signature came from another provider and cannot be replayed,
//!   so it is dropped.
//! * Tool call ids go through `tool_id` (ids already matching `^[a-zA-Z0-9_-]+$` are unchanged),
//!   on calls and results alike, so pairs still match.
//! * `max_tokens`: the request's, else the catalog's ceiling for the model, else
//!   `DEFAULT_MAX_TOKENS`. A thinking budget must stay below it: a defaulted limit with no known
//!   ceiling grows to budget + `DEFAULT_MAX_TOKENS`; a client's own limit or a known ceiling is
//!   kept and the budget shrinks instead. A budget under `MIN_THINKING_BUDGET` (the API's floor)
//!   means no thinking.
//! * Reasoning effort → `thinking.budget_tokens`: see `effort_budget`. `none` means no thinking;
//!   a `Reasoning` with neither effort nor budget means the medium budget.
//! * Thinking is left out when the tool choice forces a tool (the API forbids the pair and the
//!   forced tool is what the application depends on), and when the last assistant turn that
//!   calls tools has no thinking to replay (the API would refuse it; pitfall 17). With thinking on, `temperature`, `top_p` and
//!   `top_k` are not sent (the API only allows the defaults there).
//! * Sampling: `temperature` is clamped to 0..=1 (Anthropic's range; OpenAI allows up to 2);
//!   `top_p` is sent only without `temperature` (newer models refuse both; pitfall 15).
//! * `response_format: json_object` has no native flag: `JSON_OBJECT_INSTRUCTION` is appended to
//!   the system prompt. `json_schema` uses native `output_config.format`.
//! * `user` → `metadata.user_id`, unless it looks like an e-mail address or phone number (the API
//!   refuses personal data there; LiteLLM drops those too).
//! * `seed` and the penalties have no Anthropic slot and are dropped; `extra` (fields of another
//!   format) is never sent.

use std::borrow::Cow;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::types::{
    OutBlock, OutFormat, OutMessage, OutMessageBody, OutMetadata, OutOutputConfig, OutRequest, OutSource, OutThinking,
    OutTool, OutToolChoice, OutUsage,
};
use crate::dialect::{Identity, Target};
use crate::error::ApiError;
use crate::llm::{
    ChatRequest, ChatResponse, FinishReason, ImageSource, Part, Reasoning, ResponseFormat, Role, Tool, ToolChoice,
};
use crate::usage::Usage;

mod stream;

pub use stream::{PING, StreamEncoder};

#[cfg(test)]
mod tests;

/// `max_tokens` when neither the request nor the catalog gives one (LiteLLM's default).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;
/// The smallest `thinking.budget_tokens` the API accepts.
pub const MIN_THINKING_BUDGET: u64 = 1024;
/// The text of a tool result that had no content (empty text blocks are refused; pitfall 9).
pub const EMPTY_TOOL_RESULT: &str = "(no output)";
/// Appended to the system prompt for `response_format: json_object`.
pub const JSON_OBJECT_INSTRUCTION: &str = "Respond with a single JSON object.";

/// Encodes a neutral request as the body of `POST {base}/v1/messages`, for `target.model`.
/// 400 for content the Messages API cannot express.
pub fn request(req: &ChatRequest, target: Target<'_>) -> Result<Vec<u8>, ApiError> {
    let mut system = Vec::with_capacity(req.system.len() + 1);
    for part in &req.system {
        match part {
            Part::Text { text, .. } if text.trim().is_empty() => {}
            Part::Text { text, cache_control } => {
                system.push(OutBlock::Text { text: Cow::Borrowed(text), cache_control: cache_control.as_ref() })
            }
            _ => return Err(ApiError::bad_request("the system prompt can only hold text for this model")),
        }
    }
    if req.response_format == Some(ResponseFormat::JsonObject) {
        system.push(OutBlock::Text { text: Cow::Borrowed(JSON_OBJECT_INSTRUCTION), cache_control: None });
    }

    let messages = messages(req)?;
    let tools = req.tools.iter().enumerate().map(|(i, t)| tool(i, t)).collect::<Result<Vec<_>, _>>()?;
    let tool_choice = if tools.is_empty() { None } else { tool_choice(req) };
    let forced_tool = matches!(tool_choice, Some(OutToolChoice::Any { .. } | OutToolChoice::Tool { .. }));

    let mut max_tokens = req.max_tokens.or(target.max_output_tokens).unwrap_or(DEFAULT_MAX_TOKENS);
    let mut thinking = None;
    let can_think = !forced_tool && !unthought_tool_turn(&messages);
    if let Some(mut budget) = req.reasoning.as_ref().and_then(budget).filter(|_| can_think) {
        if budget >= max_tokens {
            if req.max_tokens.is_none() && target.max_output_tokens.is_none() {
                max_tokens = budget.saturating_add(DEFAULT_MAX_TOKENS);
            } else {
                budget = max_tokens.saturating_sub(1);
            }
        }
        if budget >= MIN_THINKING_BUDGET {
            thinking = Some(OutThinking::Enabled { budget_tokens: budget });
        }
    }

    let (temperature, top_p, top_k) = if thinking.is_some() {
        (None, None, None)
    } else {
        let temperature = req.temperature.map(|t| t.clamp(0.0, 1.0));
        (temperature, req.top_p.filter(|_| temperature.is_none()), req.top_k)
    };

    let output_config = match &req.response_format {
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            Some(OutOutputConfig { format: OutFormat::JsonSchema { schema } })
        }
        _ => None,
    };

    let body = OutRequest {
        model: target.model,
        max_tokens,
        system,
        messages,
        temperature,
        top_p,
        top_k,
        stop_sequences: req.stop.iter().map(String::as_str).filter(|s| !s.trim().is_empty()).collect(),
        tools,
        tool_choice,
        thinking,
        output_config,
        metadata: req.user.as_deref().filter(|u| !looks_personal(u)).map(|user_id| OutMetadata { user_id }),
        stream: req.stream,
    };
    Ok(serde_json::to_vec(&body).expect("wire types serialise"))
}

/// With thinking on, the API wants the last assistant turn that calls tools to open with its
/// thinking (pitfall 17). History from a client that dropped it cannot be repaired, so thinking
/// is left out instead.
fn unthought_tool_turn(messages: &[OutMessage<'_>]) -> bool {
    let calls_tool = |m: &&OutMessage<'_>| m.content.iter().any(|b| matches!(b, OutBlock::ToolUse { .. }));
    messages.iter().rev().filter(|m| m.role == "assistant").find(calls_tool).is_some_and(|m| {
        !matches!(m.content.first(), Some(OutBlock::Thinking { .. } | OutBlock::RedactedThinking { .. }))
    })
}

/// Encodes a neutral answer as a `message` for a client of `/v1/messages`, under the gateway's
/// id and the public model id.
pub fn response(resp: &ChatResponse, who: Identity<'_>) -> Vec<u8> {
    let mut content = Vec::with_capacity(resp.content.len());
    let mut calls_tool = false;
    for part in &resp.content {
        match part {
            Part::Text { text, .. } if text.is_empty() => {}
            Part::Text { text, .. } => content.push(OutBlock::Text { text: Cow::Borrowed(text), cache_control: None }),
            Part::Thinking { text, signature } => {
                content.push(OutBlock::Thinking { thinking: text, signature: signature.as_deref().unwrap_or("") })
            }
            Part::RedactedThinking { data } => content.push(OutBlock::RedactedThinking { data }),
            Part::ToolCall { id, name, arguments } => {
                calls_tool = true;
                content.push(OutBlock::ToolUse { id: tool_id(id), name, input: input(arguments) });
            }
            // No Anthropic response block carries these.
            Part::Image { .. } | Part::Document { .. } | Part::ToolResult { .. } => {}
        }
    }
    let body = OutMessageBody {
        id: who.id,
        kind: "message",
        role: "assistant",
        model: who.model,
        content,
        stop_reason: Some(stop_reason(resp.finish_reason, resp.stop_sequence.is_some(), calls_tool)),
        stop_sequence: resp.stop_sequence.as_deref(),
        usage: usage(&resp.usage),
    };
    serde_json::to_vec(&body).expect("wire types serialise")
}

/// A tool call id Anthropic accepts (`^[a-zA-Z0-9_-]+$`; pitfall 11). Valid ids are returned
/// unchanged; others get every other character replaced by `_` and a short hash of the original
/// appended, so distinct ids stay distinct. Deterministic, so a call and its result still pair.
pub fn tool_id(id: &str) -> Cow<'_, str> {
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if !id.is_empty() && id.chars().all(valid) {
        return Cow::Borrowed(id);
    }
    let cleaned: String = id.chars().map(|c| if valid(c) { c } else { '_' }).collect();
    let digest = Sha256::digest(id.as_bytes());
    Cow::Owned(format!("{cleaned}_{}", hex::encode(&digest[..6])))
}

/// Neutral finish reason → `stop_reason`. A turn that calls a tool always says `tool_use`
/// (some OpenAI-compatible upstreams say `stop`); `Error` has no Anthropic word and reads as
/// `end_turn`.
fn stop_reason(reason: FinishReason, stop_sequence: bool, calls_tool: bool) -> &'static str {
    match reason {
        _ if calls_tool => "tool_use",
        FinishReason::Stop if stop_sequence => "stop_sequence",
        FinishReason::Stop | FinishReason::Error => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
    }
}

/// OpenAI-convention usage → Anthropic's, where `input_tokens` excludes cache reads and writes.
fn usage(u: &Usage) -> OutUsage {
    OutUsage {
        input_tokens: u.prompt_tokens.saturating_sub(u.cached_tokens).saturating_sub(u.cache_write_tokens),
        cache_creation_input_tokens: u.cache_write_tokens,
        cache_read_input_tokens: u.cached_tokens,
        output_tokens: u.completion_tokens,
    }
}

/// Tool arguments as an `input` object (`null` → `{}`).
fn input(arguments: &Value) -> Cow<'_, Value> {
    match arguments {
        Value::Object(_) => Cow::Borrowed(arguments),
        _ => Cow::Owned(Value::Object(Map::new())),
    }
}

/// The thinking budget a `Reasoning` asks for, if any.
fn budget(reasoning: &Reasoning) -> Option<u64> {
    match reasoning.max_tokens {
        Some(0) => None,
        Some(tokens) => Some(tokens.max(MIN_THINKING_BUDGET)),
        None => effort_budget(reasoning.effort.as_deref().unwrap_or("medium")),
    }
}

/// Effort → budget: minimal and low 1024, medium 4096, high 16384, xhigh 32768, max 65536;
/// `none` → no thinking; an unknown word → medium.
pub fn effort_budget(effort: &str) -> Option<u64> {
    match effort {
        "none" => None,
        "minimal" | "low" => Some(1024),
        "high" => Some(16_384),
        "xhigh" => Some(32_768),
        "max" => Some(65_536),
        _ => Some(4096),
    }
}

fn looks_personal(user: &str) -> bool {
    let digits = user.chars().filter(char::is_ascii_digit).count();
    let phone_like = digits >= 7 && user.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    user.contains('@') || phone_like
}

fn tool(i: usize, tool: &Tool) -> Result<OutTool<'_>, ApiError> {
    let input_schema = match &tool.parameters {
        Value::Null => Cow::Owned(serde_json::json!({ "type": "object", "properties": {} })),
        Value::Object(schema) if schema.contains_key("type") => Cow::Borrowed(&tool.parameters),
        Value::Object(schema) => {
            let mut schema = schema.clone();
            schema.insert("type".into(), "object".into());
            Cow::Owned(Value::Object(schema))
        }
        _ => return Err(ApiError::bad_request(format!("tools[{i}]: parameters must be a JSON Schema object"))),
    };
    Ok(OutTool {
        name: &tool.name,
        description: tool.description.as_deref(),
        input_schema,
        cache_control: tool.cache_control.as_ref(),
        strict: tool.strict,
    })
}

/// wire-formats §5.6; only called when tools are declared (the API refuses a choice without).
fn tool_choice(req: &ChatRequest) -> Option<OutToolChoice<'_>> {
    let disable = req.parallel_tool_calls == Some(false);
    match &req.tool_choice {
        Some(ToolChoice::None) => Some(OutToolChoice::None),
        Some(ToolChoice::Required) => Some(OutToolChoice::Any { disable_parallel_tool_use: disable }),
        Some(ToolChoice::Tool(name)) => Some(OutToolChoice::Tool { name, disable_parallel_tool_use: disable }),
        Some(ToolChoice::Auto) => Some(OutToolChoice::Auto { disable_parallel_tool_use: disable }),
        None if disable => Some(OutToolChoice::Auto { disable_parallel_tool_use: true }),
        None => None,
    }
}

/// A turn being built: `first` holds what must lead it (tool results in a user turn, thinking in
/// an assistant turn), `rest` everything else, each in order.
struct Turn<'a> {
    role: Role,
    first: Vec<OutBlock<'a>>,
    rest: Vec<OutBlock<'a>>,
}

fn messages(req: &ChatRequest) -> Result<Vec<OutMessage<'_>>, ApiError> {
    let mut turns: Vec<Turn<'_>> = Vec::with_capacity(req.messages.len());
    for (i, message) in req.messages.iter().enumerate() {
        let mut turn = Turn { role: message.role, first: Vec::new(), rest: Vec::new() };
        for part in &message.content {
            match (message.role, part) {
                (_, Part::Text { text, .. }) if text.trim().is_empty() => {}
                (_, Part::Text { text, cache_control }) => {
                    turn.rest.push(OutBlock::Text { text: Cow::Borrowed(text), cache_control: cache_control.as_ref() })
                }
                (_, Part::Image { source }) => turn.rest.push(media_block(i, source, false)?),
                (_, Part::Document { source }) => turn.rest.push(media_block(i, source, true)?),
                (Role::Assistant, Part::ToolCall { id, name, arguments }) => {
                    if !matches!(arguments, Value::Object(_) | Value::Null) {
                        return Err(ApiError::bad_request(format!(
                            "messages[{i}]: tool call arguments must be a JSON object"
                        )));
                    }
                    turn.rest.push(OutBlock::ToolUse { id: tool_id(id), name, input: input(arguments) });
                }
                (Role::User, Part::ToolResult { call_id, content, is_error }) => {
                    turn.first.push(OutBlock::ToolResult {
                        tool_use_id: tool_id(call_id),
                        content: tool_result_content(i, content)?,
                        is_error: *is_error,
                    })
                }
                // A Gemini thought signature means nothing to Anthropic (it would be refused).
                (Role::Assistant, Part::Thinking { text, signature: Some(signature) })
                    if !signature.starts_with(crate::dialect::gemini::GEMINI_SIGNATURE) =>
                {
                    turn.first.push(OutBlock::Thinking { thinking: text, signature })
                }
                (Role::Assistant, Part::RedactedThinking { data }) => {
                    turn.first.push(OutBlock::RedactedThinking { data })
                }
                // Unsigned thinking (from another provider) cannot be replayed; reasoning in a
                // user turn has no meaning.
                (_, Part::Thinking { .. } | Part::RedactedThinking { .. }) => {}
                (Role::User, Part::ToolCall { .. }) => {
                    return Err(ApiError::bad_request(format!(
                        "messages[{i}]: tool calls can only be in an assistant turn"
                    )));
                }
                (Role::Assistant, Part::ToolResult { .. }) => {
                    return Err(ApiError::bad_request(format!(
                        "messages[{i}]: tool results can only be in a user turn"
                    )));
                }
            }
        }
        if turn.first.is_empty() && turn.rest.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == turn.role => {
                last.first.append(&mut turn.first);
                last.rest.append(&mut turn.rest);
            }
            _ => turns.push(turn),
        }
    }
    trim_prefill(&mut turns);
    if turns.is_empty() {
        return Err(ApiError::bad_request("the messages have no content to send"));
    }
    Ok(turns
        .into_iter()
        .map(|mut turn| {
            turn.first.append(&mut turn.rest);
            OutMessage {
                role: match turn.role {
                    Role::User => "user",
                    Role::Assistant => "assistant",
                },
                content: turn.first,
            }
        })
        .collect())
}

/// A final assistant turn is a prefill, whose text must not end in whitespace.
fn trim_prefill(turns: &mut [Turn<'_>]) {
    let Some(last) = turns.last_mut().filter(|t| t.role == Role::Assistant) else { return };
    let blocks = if last.rest.is_empty() { &mut last.first } else { &mut last.rest };
    // Blank text never gets this far, so trimming cannot leave an empty block.
    if let Some(OutBlock::Text { text, .. }) = blocks.last_mut() {
        match text {
            Cow::Borrowed(s) => {
                let whole: &str = s;
                *s = whole.trim_end();
            }
            Cow::Owned(s) => s.truncate(s.trim_end().len()),
        }
    }
}

fn tool_result_content(i: usize, parts: &[Part]) -> Result<Vec<OutBlock<'_>>, ApiError> {
    let mut blocks = Vec::with_capacity(parts.len().max(1));
    for part in parts {
        match part {
            Part::Text { text, .. } if text.trim().is_empty() => {}
            Part::Text { text, cache_control } => {
                blocks.push(OutBlock::Text { text: Cow::Borrowed(text), cache_control: cache_control.as_ref() })
            }
            Part::Image { source } => blocks.push(media_block(i, source, false)?),
            Part::Document { source } => blocks.push(media_block(i, source, true)?),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "messages[{i}]: a tool result can only hold text, images and documents"
                )));
            }
        }
    }
    if blocks.is_empty() {
        blocks.push(OutBlock::Text { text: Cow::Borrowed(EMPTY_TOOL_RESULT), cache_control: None });
    }
    Ok(blocks)
}

/// An image or document block. Data URLs become base64 sources, and a PDF is a document
/// whichever part carried it.
fn media_block(i: usize, source: &ImageSource, document: bool) -> Result<OutBlock<'_>, ApiError> {
    let source = match source {
        ImageSource::Url(url) if url.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("data:")) => {
            let (media_type, data) = parse_data_url(url)
                .ok_or_else(|| ApiError::bad_request(format!("messages[{i}]: only base64 data URLs are supported")))?;
            OutSource::Base64 { media_type, data }
        }
        ImageSource::Url(url) => OutSource::Url { url },
        ImageSource::Base64 { media_type, data } => OutSource::Base64 { media_type, data },
    };
    let pdf =
        matches!(source, OutSource::Base64 { media_type, .. } if media_type.eq_ignore_ascii_case("application/pdf"));
    Ok(if document || pdf { OutBlock::Document { source } } else { OutBlock::Image { source } })
}

/// `data:<mime>[;params];base64,<data>` → (mime, data).
fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let (header, data) = url.get(5..)?.split_once(',')?;
    let params = header.strip_suffix(";base64").or_else(|| header.strip_suffix(";BASE64"))?;
    let media_type = params.split(';').next()?;
    (!media_type.is_empty()).then_some((media_type, data))
}
