//! `llm` → OpenAI Chat Completions: the body for an OpenAI-format upstream (`request`), the
//! answer for an OpenAI client (`response`) and its stream (`StreamEncoder`).
//!
//! Decisions where the spec leaves a choice:
//! * Thinking (and redacted thinking) in the history is dropped: OpenAI takes no reasoning
//!   input in Chat Completions. `top_k` and `extra` are not sent either (OpenAI rejects
//!   unknown arguments), nor is a stop sequence reported back.
//! * Tool results become one `tool` message each, before the rest of their user turn. Their
//!   text parts are joined with `\n`; an image or document in a result becomes the text
//!   `[image]` / `[document]` (OpenAI's tool messages carry text only); `is_error` has no field.
//! * Tool call ids over OpenAI's 40 characters are hash-truncated by `call_id`, applied to both
//!   the call and its result so pairs still match.
//! * A document by URL cannot be sent (OpenAI takes PDFs inline only): 400.
//! * `tool_choice` and `parallel_tool_calls` are sent only with tools (OpenAI refuses them
//!   alone). Text parts keep `cache_control` (OpenRouter-style upstreams use it); tools do not
//!   (OpenAI's function objects have no such member).
//! * Reasoning: effort `none` is omitted, `xhigh`/`max` become `high`, a budget alone is `medium`.
//! * Responses: text parts are joined with no separator (as a stream would have delivered them),
//!   thinking text likewise into `reasoning`; signatures are not sent.

mod stream;

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::usage;
use crate::dialect::{Identity, Target};
use crate::error::ApiError;
use crate::llm::{self, ImageSource, Message, Part, Reasoning, ResponseFormat, Role, ToolChoice};

pub use stream::StreamEncoder;

/// OpenAI's limit on tool call ids it is sent back.
const MAX_CALL_ID: usize = 40;

/// A tool call id OpenAI accepts: ids up to 40 bytes are kept; longer ones become a prefix
/// plus 16 hex digits of their SHA-256, 40 bytes in all. Deterministic, so a call and its
/// result (encoded separately) still match.
pub fn call_id(id: &str) -> Cow<'_, str> {
    if id.len() <= MAX_CALL_ID {
        return Cow::Borrowed(id);
    }
    let hash = hex::encode(&Sha256::digest(id.as_bytes())[..8]);
    let mut end = MAX_CALL_ID - hash.len() - 1;
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}_{hash}", &id[..end]))
}

/// The body for `{base}/chat/completions` on an OpenAI-format upstream.
pub fn request(req: &llm::ChatRequest, target: Target<'_>) -> Result<Vec<u8>, ApiError> {
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if let Some(system) = system_message(&req.system) {
        messages.push(system);
    }
    for message in &req.messages {
        encode_message(message, &mut messages)?;
    }
    let has_tools = !req.tools.is_empty();
    let body = Body {
        model: target.model,
        messages,
        max_completion_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        stop: &req.stop,
        stream: req.stream,
        stream_options: req.stream.then_some(StreamOptions { include_usage: true }),
        tools: req.tools.iter().map(encode_tool).collect(),
        tool_choice: req.tool_choice.as_ref().filter(|_| has_tools).map(encode_tool_choice),
        parallel_tool_calls: req.parallel_tool_calls.filter(|_| has_tools),
        response_format: req.response_format.as_ref().map(encode_response_format),
        reasoning_effort: req.reasoning.as_ref().and_then(reasoning_effort),
        user: req.user.as_deref(),
        seed: req.seed,
        frequency_penalty: req.frequency_penalty,
        presence_penalty: req.presence_penalty,
    };
    Ok(serde_json::to_vec(&body).expect("request serialises"))
}

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
enum WireMessage<'a> {
    System {
        content: Content<'a>,
    },
    User {
        content: Content<'a>,
    },
    Assistant {
        /// `null` when the turn is only tool calls.
        content: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall<'a>>,
    },
    Tool {
        tool_call_id: Cow<'a, str>,
        content: String,
    },
}

#[derive(Serialize)]
#[serde(untagged)]
enum Content<'a> {
    Text(&'a str),
    Parts(Vec<WirePart<'a>>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WirePart<'a> {
    Text {
        text: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    ImageUrl {
        image_url: Url<'a>,
    },
    File {
        file: File,
    },
}

#[derive(Serialize)]
struct Url<'a> {
    url: Cow<'a, str>,
}

#[derive(Serialize)]
struct File {
    filename: &'static str,
    file_data: String,
}

#[derive(Serialize)]
struct ToolCall<'a> {
    id: Cow<'a, str>,
    #[serde(rename = "type")]
    kind: &'static str,
    function: Function<'a>,
}

#[derive(Serialize)]
struct Function<'a> {
    name: &'a str,
    arguments: String,
}

/// A string when it is one plain text part, else text parts.
fn content<'a>(parts: Vec<WirePart<'a>>) -> Content<'a> {
    match parts.as_slice() {
        [WirePart::Text { text, cache_control: None }] => Content::Text(text),
        _ => Content::Parts(parts),
    }
}

fn system_message(system: &[Part]) -> Option<WireMessage<'_>> {
    let parts: Vec<WirePart<'_>> = system
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, cache_control } => Some(WirePart::Text { text, cache_control: cache_control.as_ref() }),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| WireMessage::System { content: content(parts) })
}

fn data_url(media_type: &str, data: &str) -> String {
    format!("data:{media_type};base64,{data}")
}

fn encode_message<'a>(message: &'a Message, out: &mut Vec<WireMessage<'a>>) -> Result<(), ApiError> {
    match message.role {
        Role::User => {
            let mut parts = Vec::new();
            for part in &message.content {
                match part {
                    Part::ToolResult { call_id: id, content, .. } => {
                        out.push(WireMessage::Tool { tool_call_id: call_id(id), content: tool_result_text(content) });
                    }
                    Part::Text { text, cache_control } => {
                        parts.push(WirePart::Text { text, cache_control: cache_control.as_ref() });
                    }
                    Part::Image { source } => {
                        let url = match source {
                            ImageSource::Url(url) => Cow::Borrowed(url.as_str()),
                            ImageSource::Base64 { media_type, data } => Cow::Owned(data_url(media_type, data)),
                        };
                        parts.push(WirePart::ImageUrl { image_url: Url { url } });
                    }
                    Part::Document { source: ImageSource::Base64 { media_type, data } } => {
                        let filename = if media_type == "application/pdf" { "document.pdf" } else { "document" };
                        parts.push(WirePart::File { file: File { filename, file_data: data_url(media_type, data) } });
                    }
                    Part::Document { source: ImageSource::Url(_) } => {
                        return Err(ApiError::bad_request(
                            "documents by URL are not supported for this model; send the document inline (base64)",
                        ));
                    }
                    // Not user content; nothing to send.
                    Part::ToolCall { .. } | Part::Thinking { .. } | Part::RedactedThinking { .. } => {}
                }
            }
            if !parts.is_empty() {
                out.push(WireMessage::User { content: content(parts) });
            }
        }
        Role::Assistant => {
            let mut text: Option<String> = None;
            let mut tool_calls = Vec::new();
            for part in &message.content {
                match part {
                    Part::Text { text: t, .. } => text.get_or_insert_with(String::new).push_str(t),
                    Part::ToolCall { id, name, arguments } => tool_calls.push(ToolCall {
                        id: call_id(id),
                        kind: "function",
                        function: Function { name, arguments: arguments.to_string() },
                    }),
                    _ => {}
                }
            }
            // OpenAI wants content unless there are tool calls.
            if text.is_none() && tool_calls.is_empty() {
                text = Some(String::new());
            }
            out.push(WireMessage::Assistant { content: text, tool_calls });
        }
    }
    Ok(())
}

/// A tool result's content as the text of a `tool` message.
fn tool_result_text(content: &[Part]) -> String {
    let texts: Vec<&str> = content
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, .. } => Some(text.as_str()),
            Part::Image { .. } => Some("[image]"),
            Part::Document { .. } => Some("[document]"),
            _ => None,
        })
        .collect();
    texts.join("\n")
}

fn encode_tool(tool: &llm::Tool) -> Value {
    let mut function = json!({ "name": tool.name, "parameters": tool.parameters });
    if let Some(description) = &tool.description {
        function["description"] = description.as_str().into();
    }
    if let Some(strict) = tool.strict {
        function["strict"] = strict.into();
    }
    json!({ "type": "function", "function": function })
}

fn encode_tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => "auto".into(),
        ToolChoice::None => "none".into(),
        ToolChoice::Required => "required".into(),
        ToolChoice::Tool(name) => json!({ "type": "function", "function": { "name": name } }),
    }
}

fn encode_response_format(format: &ResponseFormat) -> Value {
    match format {
        ResponseFormat::Text => json!({ "type": "text" }),
        ResponseFormat::JsonObject => json!({ "type": "json_object" }),
        ResponseFormat::JsonSchema { name, schema, strict } => {
            let mut spec = json!({ "name": name, "schema": schema });
            if let Some(strict) = strict {
                spec["strict"] = (*strict).into();
            }
            json!({ "type": "json_schema", "json_schema": spec })
        }
    }
}

/// OpenAI's `reasoning_effort` (`minimal`, `low`, `medium`, `high`).
fn reasoning_effort(reasoning: &Reasoning) -> Option<&'static str> {
    match reasoning.effort.as_deref() {
        Some("none") => None,
        Some("minimal") => Some("minimal"),
        Some("low") => Some("low"),
        Some("medium") => Some("medium"),
        Some("high" | "xhigh" | "max") => Some("high"),
        Some(_) => Some("medium"),
        None => reasoning.max_tokens.map(|_| "medium"),
    }
}

/// A `chat.completion` for an OpenAI client, with the gateway's id and model and a priced usage.
pub fn response(resp: &llm::ChatResponse, who: Identity<'_>) -> Vec<u8> {
    let mut text: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut tool_calls = Vec::new();
    for part in &resp.content {
        match part {
            Part::Text { text: t, .. } => text.get_or_insert_with(String::new).push_str(t),
            Part::Thinking { text: t, .. } => reasoning.get_or_insert_with(String::new).push_str(t),
            Part::ToolCall { id, name, arguments } => tool_calls.push(ToolCall {
                id: Cow::Borrowed(id),
                kind: "function",
                function: Function { name, arguments: arguments.to_string() },
            }),
            _ => {}
        }
    }
    let completion = Completion {
        id: who.id,
        object: "chat.completion",
        created: resp.created,
        model: who.model,
        choices: [CompletionChoice {
            index: 0,
            message: CompletionMessage { role: "assistant", content: text, refusal: None, tool_calls, reasoning },
            logprobs: None,
            finish_reason: resp.finish_reason.as_openai(),
            native_finish_reason: resp.native_finish_reason.as_deref(),
        }],
        system_fingerprint: None,
        usage: usage::render(&resp.usage, who.cost(&resp.usage)),
    };
    serde_json::to_vec(&completion).expect("response serialises")
}

#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: [CompletionChoice<'a>; 1],
    /// Always `null`; the OpenRouter SDK requires the key.
    system_fingerprint: Option<()>,
    usage: usage::Rendered,
}

#[derive(Serialize)]
struct CompletionChoice<'a> {
    index: u32,
    message: CompletionMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
    native_finish_reason: Option<&'a str>,
}

#[derive(Serialize)]
struct CompletionMessage<'a> {
    role: &'static str,
    content: Option<String>,
    refusal: Option<()>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<String>,
}

#[cfg(test)]
mod tests;
