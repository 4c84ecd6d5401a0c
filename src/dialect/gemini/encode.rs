//! `llm` → Gemini: a `generateContent` body for a Gemini upstream (`request`), and a
//! `GenerateContentResponse` (`response`) or `alt=sse` stream (`StreamEncoder`) for a client of
//! the Gemini surface.
//!
//! The request encoder produces what the API accepts rather than a literal copy (wire-formats
//! §5.1–5.6, §5.11–5.12 and pitfalls 12–14). Its choices where the references leave one:
//!
//! * Turns: consecutive same-role messages are merged; `Assistant` is `model`. In a user turn the
//!   `functionResponse` parts come first, one per call (a repeated result is dropped), in the
//!   order of the calls of the model turn before; an image or document inside a tool result
//!   follows them as a part of the turn (older models take no media in a `functionResponse`).
//!   Empty text is dropped and a turn left empty disappears.
//! * Tool calls carry no `id`, and neither do function responses: the Developer API pairs them
//!   by name and order and some versions refuse the member. A call's thought signature is taken
//!   from its id (`gemini::THOUGHT_SEPARATOR`); a model turn whose calls carry none (history from
//!   another model) gets `gemini::SKIP_SIGNATURE` on its first call, which Gemini 3 requires.
//! * A tool result's `functionResponse.name` is that of the call with its id, looked up in the
//!   turns before it (400 if there is none). Its `response` is the text's JSON object when the
//!   text is one, `{"error": <text>}` for an error result, else `{"content": <text>}`; several
//!   text parts are joined with `\n`.
//! * Thinking goes back only when its signature came from Gemini (`gemini::GEMINI_SIGNATURE`),
//!   as a thought part with its `thoughtSignature`; other reasoning cannot be replayed to Gemini
//!   and is dropped, as is redacted thinking.
//! * Media: base64 → `inlineData`; `data:` URLs are unpacked the same way; `gs://`, Files API and
//!   other `http(s)` URLs → `fileData` with a type guessed from the extension. Gemini fetches no
//!   arbitrary URL, so the glue inlines `http(s)` media first (`gemini::image_urls`); one it did
//!   not replace goes as `fileData` and Gemini decides.
//! * Tools → one `functionDeclarations` entry, parameters cleaned by `schema::to_gemini` and left
//!   out when no properties remain (the API refuses an empty object schema). `tool_choice` only
//!   with tools: `Auto` → `AUTO`, `None` → `NONE`, `Required` → `ANY`, `Tool(x)` → `ANY` with
//!   `allowedFunctionNames: [x]`; `parallel_tool_calls` has no equivalent.
//! * `maxOutputTokens`: the request's, else the catalog's ceiling, else none (Gemini needs none).
//!   `seed` wraps to Gemini's 32 bits. Stop sequences that are empty are dropped.
//! * JSON mode: `responseMimeType: application/json`, plus `responseSchema` (cleaned) for a
//!   schema.
//! * Reasoning → `thinkingConfig`: a budget wins; else the effort's budget (`effort_budget`);
//!   `includeThoughts: true` unless `exclude` (or thinking is off). A `Reasoning` with neither
//!   sends no budget (the model's dynamic default). Thinking off (budget 0, effort `none`) is
//!   sent only to Flash models: Pro models refuse it, so they get no `thinkingConfig` at all.
//!   Thinking whose text is empty is not sent (the API counts an empty text as no part).
//! * `user`, `parallel_tool_calls`, `cache_control` and `extra` have no Gemini slot.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use super::decode::guess_mime;
use super::types::{
    OutBlob, OutCandidate, OutContent, OutFileData, OutFunctionCall, OutFunctionCallingConfig, OutFunctionDeclaration,
    OutFunctionResponse, OutGenerationConfig, OutPart, OutRequest, OutResponse, OutSystem, OutThinkingConfig, OutTool,
    OutToolConfig,
};
use super::{
    GEMINI_SIGNATURE, SKIP_SIGNATURE, finish_reason_to_wire, is_http, schema, signature_to_wire, split_call_id,
    usage_to_wire,
};
use crate::dialect::{Identity, Target};
use crate::error::ApiError;
use crate::llm::{ChatRequest, ChatResponse, ImageSource, Part, Reasoning, ResponseFormat, Role, ToolChoice};

mod stream;

pub use stream::{KEEP_ALIVE, StreamEncoder};

#[cfg(test)]
mod tests;

/// The path, under the upstream's base URL, a request body is posted to: `:generateContent`, or
/// `:streamGenerateContent?alt=sse` for a stream (never the JSON-array stream).
pub fn path(model: &str, stream: bool) -> String {
    if stream {
        format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("/v1beta/models/{model}:generateContent")
    }
}

fn bad(message: String) -> ApiError {
    ApiError::bad_request(message)
}

/// Encodes a neutral request as the body for `path(target.model, req.stream)`. The model and
/// the stream flag are in the URL, not the body. 400 for content Gemini cannot take.
pub fn request(req: &ChatRequest, target: Target<'_>) -> Result<Vec<u8>, ApiError> {
    let mut system = Vec::with_capacity(req.system.len());
    for part in &req.system {
        match part {
            Part::Text { text, .. } if text.is_empty() => {}
            Part::Text { text, .. } => system.push(OutPart::text(text.as_str())),
            _ => return Err(bad("the system prompt can only hold text for this model".into())),
        }
    }

    let contents = contents(req)?;

    let mut declarations = Vec::with_capacity(req.tools.len());
    for (i, tool) in req.tools.iter().enumerate() {
        let parameters = match &tool.parameters {
            Value::Null => None,
            schema @ Value::Object(_) => Some(schema::to_gemini(schema)).filter(|s| s.get("properties").is_some()),
            _ => return Err(bad(format!("tools[{i}]: parameters must be a JSON Schema object"))),
        };
        declarations.push(OutFunctionDeclaration {
            name: &tool.name,
            description: tool.description.as_deref(),
            parameters,
        });
    }
    let tool_config = req.tool_choice.as_ref().filter(|_| !declarations.is_empty()).map(|choice| {
        let (mode, allowed_function_names) = match choice {
            ToolChoice::Auto => ("AUTO", Vec::new()),
            ToolChoice::None => ("NONE", Vec::new()),
            ToolChoice::Required => ("ANY", Vec::new()),
            ToolChoice::Tool(name) => ("ANY", vec![name.as_str()]),
        };
        OutToolConfig { function_calling_config: OutFunctionCallingConfig { mode, allowed_function_names } }
    });
    let tools =
        if declarations.is_empty() { Vec::new() } else { vec![OutTool { function_declarations: declarations }] };

    let (response_mime_type, response_schema) = match &req.response_format {
        Some(ResponseFormat::JsonObject) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            // An empty schema, or an object one without properties (which the API refuses), says
            // no more than the MIME type.
            let cleaned = schema::to_gemini(schema);
            let useful = match cleaned.as_object() {
                Some(s) if s.is_empty() => false,
                Some(s) => s.contains_key("properties") || s.get("type") != Some(&json!("object")),
                None => false,
            };
            (Some("application/json"), useful.then_some(cleaned))
        }
        Some(ResponseFormat::Text) | None => (None, None),
    };
    let generation_config = OutGenerationConfig {
        max_output_tokens: req.max_tokens.or(target.max_output_tokens),
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        stop_sequences: req.stop.iter().filter(|s| !s.is_empty()).cloned().collect(),
        seed: req.seed.map(|seed| seed as i32),
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        response_mime_type,
        response_schema,
        thinking_config: req.reasoning.as_ref().and_then(|r| thinking(r, target.model)),
    };

    let body = OutRequest {
        contents,
        system_instruction: (!system.is_empty()).then_some(OutSystem { parts: system }),
        tools,
        tool_config,
        generation_config: (generation_config != OutGenerationConfig::default()).then_some(generation_config),
    };
    Ok(serde_json::to_vec(&body).expect("wire types serialise"))
}

/// Effort → `thinkingBudget`: `none` 0 (off), `minimal` 512, `low` 1024, `medium` 8192,
/// `high` and above 24576 (the largest every 2.5 model takes); an unknown word is medium.
pub fn effort_budget(effort: &str) -> u64 {
    match effort {
        "none" => 0,
        "minimal" => 512,
        "low" => 1024,
        "high" | "xhigh" | "max" => 24_576,
        _ => 8192,
    }
}

/// Whether a model can think not at all (`thinkingBudget: 0`): the Flash models can; Pro models
/// refuse a zero budget, so for them "no thinking" becomes the least they do by default.
fn can_stop_thinking(model: &str) -> bool {
    model.contains("flash")
}

fn thinking(reasoning: &Reasoning, model: &str) -> Option<OutThinkingConfig> {
    let budget = reasoning.max_tokens.or_else(|| reasoning.effort.as_deref().map(effort_budget));
    let budget = budget.filter(|b| *b > 0 || can_stop_thinking(model));
    let off = matches!(reasoning.max_tokens, Some(0))
        || (reasoning.max_tokens.is_none() && reasoning.effort.as_deref() == Some("none"));
    let include_thoughts = (!off && !reasoning.exclude).then_some(true);
    (budget.is_some() || include_thoughts.is_some())
        .then_some(OutThinkingConfig { thinking_budget: budget, include_thoughts })
}

/// A turn being built.
struct Turn<'a> {
    role: Role,
    /// `functionResponse` parts with the id of the call each answers.
    responses: Vec<(&'a str, OutPart<'a>)>,
    rest: Vec<OutPart<'a>>,
    /// Ids of the calls in a model turn, in order.
    calls: Vec<&'a str>,
}

fn contents(req: &ChatRequest) -> Result<Vec<OutContent<'_>>, ApiError> {
    let mut turns: Vec<Turn<'_>> = Vec::with_capacity(req.messages.len());
    for (i, message) in req.messages.iter().enumerate() {
        let mut turn = Turn { role: message.role, responses: Vec::new(), rest: Vec::new(), calls: Vec::new() };
        for part in &message.content {
            match (message.role, part) {
                (_, Part::Text { text, .. }) if text.is_empty() => {}
                (_, Part::Text { text, .. }) => turn.rest.push(OutPart::text(text.as_str())),
                (_, Part::Image { source }) => turn.rest.push(media(i, source, false)?),
                (_, Part::Document { source }) => turn.rest.push(media(i, source, true)?),
                (Role::Assistant, Part::ToolCall { id, name, arguments }) => {
                    let args = match arguments {
                        Value::Object(_) => Cow::Borrowed(arguments),
                        Value::Null => Cow::Owned(Value::Object(Map::new())),
                        _ => return Err(bad(format!("messages[{i}]: tool call arguments must be a JSON object"))),
                    };
                    let (_, signature) = split_call_id(id);
                    turn.calls.push(id);
                    turn.rest.push(OutPart {
                        function_call: Some(OutFunctionCall { id: None, name, args }),
                        thought_signature: signature.map(Cow::Borrowed),
                        ..OutPart::default()
                    });
                }
                (Role::User, Part::ToolResult { call_id, content, is_error }) => {
                    let answered = turns.last().filter(|t| t.role == Role::User).map_or(&[][..], |t| &t.responses[..]);
                    if answered.iter().chain(&turn.responses).any(|(id, _)| id == call_id) {
                        continue;
                    }
                    let name = call_name(req, i, call_id).ok_or_else(|| {
                        bad(format!("messages[{i}]: tool result for '{call_id}' has no matching tool call before it"))
                    })?;
                    let mut texts: Vec<&str> = Vec::new();
                    for item in content {
                        match item {
                            Part::Text { text, .. } => texts.push(text),
                            Part::Image { source } => turn.rest.push(media(i, source, false)?),
                            Part::Document { source } => turn.rest.push(media(i, source, true)?),
                            _ => {
                                return Err(bad(format!(
                                    "messages[{i}]: a tool result can only hold text, images and documents"
                                )));
                            }
                        }
                    }
                    let response = function_response(&texts.join("\n"), *is_error);
                    turn.responses.push((
                        call_id,
                        OutPart {
                            function_response: Some(OutFunctionResponse { name, response }),
                            ..OutPart::default()
                        },
                    ));
                }
                // An empty text counts as no part at all for the API.
                (Role::Assistant, Part::Thinking { text, signature: Some(signature) }) if !text.is_empty() => {
                    if let Some(signature) = signature.strip_prefix(GEMINI_SIGNATURE) {
                        turn.rest.push(OutPart::thought(text.as_str(), Some(Cow::Borrowed(signature))));
                    }
                }
                // Reasoning from another provider, redacted or not, cannot be replayed.
                (_, Part::Thinking { .. } | Part::RedactedThinking { .. }) => {}
                (Role::User, Part::ToolCall { .. }) => {
                    return Err(bad(format!("messages[{i}]: tool calls can only be in an assistant turn")));
                }
                (Role::Assistant, Part::ToolResult { .. }) => {
                    return Err(bad(format!("messages[{i}]: tool results can only be in a user turn")));
                }
            }
        }
        if turn.responses.is_empty() && turn.rest.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == turn.role => {
                last.responses.append(&mut turn.responses);
                last.rest.append(&mut turn.rest);
                last.calls.append(&mut turn.calls);
            }
            _ => turns.push(turn),
        }
    }
    if turns.is_empty() {
        return Err(bad("the messages have no content to send".into()));
    }

    let mut out = Vec::with_capacity(turns.len());
    let mut previous_calls: Vec<&str> = Vec::new();
    for turn in turns {
        let Turn { role, mut responses, rest, calls } = turn;
        let mut parts = Vec::with_capacity(responses.len() + rest.len());
        match role {
            Role::User => {
                // Answers in the order of the calls they answer (pitfall 13).
                responses.sort_by_key(|(id, _)| previous_calls.iter().position(|c| c == id).unwrap_or(usize::MAX));
                parts.extend(responses.into_iter().map(|(_, part)| part));
                parts.extend(rest);
            }
            Role::Assistant => {
                parts.extend(rest);
                let signed = parts.iter().any(|p| p.function_call.is_some() && p.thought_signature.is_some());
                if let Some(first) = parts.iter_mut().find(|p| p.function_call.is_some()).filter(|_| !signed) {
                    first.thought_signature = Some(Cow::Borrowed(SKIP_SIGNATURE));
                }
                previous_calls = calls;
            }
        }
        out.push(OutContent {
            parts,
            role: match role {
                Role::User => "user",
                Role::Assistant => "model",
            },
        });
    }
    Ok(out)
}

/// The name of the call `call_id` answers: the latest tool call with that id in the turns
/// before `before`.
fn call_name<'a>(req: &'a ChatRequest, before: usize, call_id: &str) -> Option<&'a str> {
    req.messages[..before].iter().rev().flat_map(|m| m.content.iter().rev()).find_map(|part| match part {
        Part::ToolCall { id, name, .. } if id == call_id => Some(name.as_str()),
        _ => None,
    })
}

/// A tool result's text as a `functionResponse.response` object (module docs).
fn function_response(text: &str, is_error: bool) -> Value {
    if is_error {
        return json!({ "error": text });
    }
    match serde_json::from_str::<Value>(text) {
        Ok(object @ Value::Object(_)) => object,
        _ => json!({ "content": text }),
    }
}

/// An image or document part (module docs).
fn media(i: usize, source: &ImageSource, document: bool) -> Result<OutPart<'_>, ApiError> {
    let part = match source {
        ImageSource::Base64 { media_type, data } => {
            OutPart { inline_data: Some(OutBlob { mime_type: media_type, data }), ..OutPart::default() }
        }
        ImageSource::Url(url) if url.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("data:")) => {
            let (mime_type, data) = parse_data_url(url)
                .ok_or_else(|| bad(format!("messages[{i}]: only base64 data URLs are supported")))?;
            OutPart { inline_data: Some(OutBlob { mime_type, data }), ..OutPart::default() }
        }
        ImageSource::Url(url) if is_http(url) || url.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("gs://")) => {
            let mime_type = match guess_mime(url) {
                "image/*" if document => Some("application/pdf"),
                "image/*" => None,
                known => Some(known),
            };
            OutPart { file_data: Some(OutFileData { mime_type, file_uri: url }), ..OutPart::default() }
        }
        ImageSource::Url(_) => {
            return Err(bad(format!("messages[{i}]: media URLs must be http(s), gs:// or base64 data URLs")));
        }
    };
    Ok(part)
}

/// `data:<mime>[;params];base64,<data>` → (mime, data).
fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let (header, data) = url.get(5..)?.split_once(',')?;
    let params = header.strip_suffix(";base64").or_else(|| header.strip_suffix(";BASE64"))?;
    let media_type = params.split(';').next()?;
    (!media_type.is_empty()).then_some((media_type, data))
}

/// An answer's part for a Gemini client; `None` for what the format cannot show.
fn answer_part(part: &Part) -> Option<OutPart<'_>> {
    match part {
        Part::Text { text, .. } if text.is_empty() => None,
        Part::Text { text, .. } => Some(OutPart::text(text.as_str())),
        Part::Thinking { text, signature } => {
            Some(OutPart::thought(text.as_str(), signature.as_deref().map(signature_to_wire)))
        }
        Part::ToolCall { id, name, arguments } => Some(function_call(id, name, arguments)),
        Part::Image { source } | Part::Document { source } => match source {
            ImageSource::Base64 { media_type, data } => {
                Some(OutPart { inline_data: Some(OutBlob { mime_type: media_type, data }), ..OutPart::default() })
            }
            ImageSource::Url(url) => {
                Some(OutPart { file_data: Some(OutFileData { mime_type: None, file_uri: url }), ..OutPart::default() })
            }
        },
        Part::RedactedThinking { .. } | Part::ToolResult { .. } => None,
    }
}

/// A `functionCall` part for a client: the id without its thought signature, which goes back on
/// the part.
fn function_call<'a>(id: &'a str, name: &'a str, arguments: &'a Value) -> OutPart<'a> {
    let (base, signature) = split_call_id(id);
    let args = match arguments {
        Value::Object(_) => Cow::Borrowed(arguments),
        _ => Cow::Owned(Value::Object(Map::new())),
    };
    OutPart {
        function_call: Some(OutFunctionCall { id: Some(base).filter(|b| !b.is_empty()), name, args }),
        thought_signature: signature.map(Cow::Borrowed),
        ..OutPart::default()
    }
}

/// Encodes a neutral answer as a `GenerateContentResponse` for a client of the Gemini surface,
/// under the gateway's id (`responseId`) and the public model id (`modelVersion`).
pub fn response(resp: &ChatResponse, who: Identity<'_>) -> Vec<u8> {
    let body = OutResponse {
        candidates: [OutCandidate {
            content: OutContent { parts: resp.content.iter().filter_map(answer_part).collect(), role: "model" },
            finish_reason: Some(finish_reason_to_wire(resp.finish_reason)),
            index: 0,
        }],
        usage_metadata: Some(usage_to_wire(&resp.usage)),
        model_version: who.model,
        response_id: who.id,
    };
    serde_json::to_vec(&body).expect("wire types serialise")
}
