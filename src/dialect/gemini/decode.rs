//! Gemini → `llm`: a client's `generateContent` body (`request`), an upstream
//! `GenerateContentResponse` (`response`), and an upstream `alt=sse` stream (`StreamDecoder`).
//!
//! Request decoding validates what it reads and answers 400 naming the offending field
//! (`contents[2].parts[0].functionCall.args`). Response and stream decoding ignore what they do
//! not know (new part kinds, metadata) and are strict about the rest.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::types::{InFunctionCallingConfig, InFunctionDeclaration, InPart, InResponse, InThinkingConfig};
use super::{finish_reason, join_call_id, schema, signature_from_wire, usage};
use crate::dialect::InvalidResponse;
use crate::error::ApiError;
use crate::llm::{
    ChatRequest, ChatResponse, FinishReason, ImageSource, Message, Part, Reasoning, ResponseFormat, Role, Tool,
    ToolChoice,
};

mod stream;

pub use stream::StreamDecoder;

#[cfg(test)]
mod tests;

/// The name given to a `responseSchema`/`responseJsonSchema`, which carries none.
pub const SCHEMA_NAME: &str = "response";

/// Thinking levels Gemini 3 accepts, as neutral efforts.
const LEVELS: &[&str] = &["minimal", "low", "medium", "high"];

fn bad(message: String) -> ApiError {
    ApiError::bad_request(message)
}

/// Decodes a client's `generateContent` body. The model is in the URL, so `model` is left empty
/// and `stream` false: the glue sets both. Top-level fields with no neutral slot
/// (`safetySettings`, `cachedContent`, `labels`, …) go to `extra` under the name the client
/// used, and so do `generationConfig` members with none (`responseModalities`, `logprobs`, …),
/// under `generationConfig`.
///
/// Choices where the references leave one:
/// * Roles: `user` (or absent, or the older `function`) and `model`; turns are not merged.
/// * `thought: true` text → `Thinking`; consecutive thought parts form one `Thinking` until one
///   carries a signature (streamed thoughts arrive in pieces). A `thoughtSignature` on a function
///   call goes into the call's id, on a thought into its signature; on plain text it is dropped
///   (see the module docs of `gemini`).
/// * `inlineData`/`fileData`: `image/*` → `Image`, `application/pdf` → `Document` (by URI
///   extension when `fileData` has no `mimeType`); audio, video and other types → 400.
/// * A `functionResponse` is paired with a call of the preceding model turn: by `id` when it has
///   one that matches, else the first unanswered call of that `name`; none → 400. Its `response`
///   becomes the result's text: the string itself when it is `{"content"|"output": "<text>"}`,
///   an error result when it is `{"error": "<text>"}`, else the object's JSON.
/// * Tools other than `functionDeclarations` (`googleSearch`, `codeExecution`, …) and parts
///   other than text, media and function calls/responses (`executableCode`, …) → 400.
/// * `parametersJsonSchema` is taken as is (and wins over `parameters`); `parameters` and
///   `responseSchema` (OpenAPI) go through `schema::from_openapi`.
/// * `functionCallingConfig`: `AUTO`/`VALIDATED` → `Auto`, `NONE` → `None`, `ANY` → `Required`,
///   or `Tool(name)` when `allowedFunctionNames` has one name; with `AUTO`/`ANY`, the tools are
///   narrowed to `allowedFunctionNames` (§5.6 reverse).
/// * `candidateCount` above 1 → 400 (one answer per request).
/// * `thinkingConfig`: `thinkingBudget` 0 → effort `none`; -1 (dynamic) → no budget;
///   n > 0 → `max_tokens: n`; `thinkingLevel` → effort; `includeThoughts` absent or false →
///   `exclude` (Gemini returns no thoughts unless asked).
/// * `responseMimeType: application/json` → `JsonObject`, or `JsonSchema` named `SCHEMA_NAME`
///   with a `responseJsonSchema`/`responseSchema`; another type (`text/x.enum`…) stays in
///   `extra` with its schema.
pub fn request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON in request body: {e}")))?;
    let Value::Object(mut map) = value else {
        return Err(bad("request body must be a JSON object".into()));
    };

    let contents = match take(&mut map, &["contents"]) {
        None => return Err(bad("missing required field 'contents'".into())),
        Some((_, Value::Array(contents))) if contents.is_empty() => {
            return Err(bad("'contents' must not be empty".into()));
        }
        Some((_, Value::Array(contents))) => contents,
        Some(_) => return Err(bad("'contents' must be an array of Content objects".into())),
    };
    let mut turns = Turns::default();
    let messages = contents.iter().enumerate().map(|(i, c)| turns.content(i, c)).collect::<Result<Vec<_>, _>>()?;

    let system = match take(&mut map, &["systemInstruction", "system_instruction"]) {
        None => Vec::new(),
        Some((_, Value::String(text))) if text.is_empty() => Vec::new(),
        Some((_, Value::String(text))) => vec![Part::text(text)],
        Some((name, value)) => system(&name, &value)?,
    };

    let mut tools = match take(&mut map, &["tools"]) {
        None => Vec::new(),
        Some((_, Value::Array(tools))) => {
            let mut all = Vec::new();
            for (i, entry) in tools.iter().enumerate() {
                tool_entry(i, entry, &mut all)?;
            }
            all
        }
        Some(_) => return Err(bad("'tools' must be an array".into())),
    };
    let tool_choice = match take(&mut map, &["toolConfig", "tool_config"]) {
        None => None,
        Some((name, value)) => tool_config(&name, value, &mut tools)?,
    };

    let mut req = ChatRequest { system, messages, tools, tool_choice, ..ChatRequest::default() };
    if let Some((name, value)) = take(&mut map, &["generationConfig", "generation_config"]) {
        let Value::Object(config) = value else {
            return Err(bad(format!("'{name}' must be an object")));
        };
        let leftover = generation_config(&name, config, &mut req)?;
        if !leftover.is_empty() {
            map.insert(name, Value::Object(leftover));
        }
    }
    req.extra = map;
    Ok(req)
}

/// Removes every spelling in `names` and returns the first present one (with the name the
/// client used); `null` counts as absent.
fn take(map: &mut Map<String, Value>, names: &[&str]) -> Option<(String, Value)> {
    let mut found = None;
    for name in names {
        if let Some(value) = map.remove(*name) {
            if found.is_none() && !value.is_null() {
                found = Some(((*name).to_owned(), value));
            }
        }
    }
    found
}

/// `take` read as `T`; `what` completes "'parent.name' must be …".
fn take_as<T: DeserializeOwned>(
    map: &mut Map<String, Value>,
    parent: &str,
    names: &[&str],
    what: &str,
) -> Result<Option<T>, ApiError> {
    match take(map, names) {
        None => Ok(None),
        Some((name, value)) => {
            T::deserialize(value).map(Some).map_err(|_| bad(format!("'{parent}.{name}' must be {what}")))
        }
    }
}

fn system(name: &str, value: &Value) -> Result<Vec<Part>, ApiError> {
    let parts = match value.get("parts") {
        Some(Value::Array(parts)) => parts,
        _ => return Err(bad(format!("'{name}' must be a Content object with 'parts'"))),
    };
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        match part.get("text") {
            Some(Value::String(text)) if text.is_empty() => {}
            Some(Value::String(text)) => out.push(Part::text(text.clone())),
            _ => return Err(bad(format!("{name}.parts[{i}] must be a text part"))),
        }
    }
    Ok(out)
}

/// A call of the latest model turn, waiting for its `functionResponse`.
struct Pending {
    /// `functionCall.id` as the client sent it.
    wire_id: Option<String>,
    name: String,
    /// The neutral id (generated and/or carrying a thought signature).
    id: String,
    answered: bool,
}

/// What pairing calls with responses across `contents` needs.
#[derive(Default)]
struct Turns {
    /// Calls seen so far in the request: the `n` of the next generated `call_<n>`.
    calls: u32,
    /// Calls of the latest model turn.
    pending: Vec<Pending>,
    /// The role of the previous content.
    last: Option<Role>,
}

impl Turns {
    fn content(&mut self, i: usize, value: &Value) -> Result<Message, ApiError> {
        let Value::Object(content) = value else {
            return Err(bad(format!("contents[{i}] must be a Content object")));
        };
        let role = match content.get("role") {
            None | Some(Value::Null) => Role::User,
            Some(Value::String(role)) if role.is_empty() || role == "user" || role == "function" => Role::User,
            Some(Value::String(role)) if role == "model" => Role::Assistant,
            Some(_) => return Err(bad(format!("contents[{i}].role must be \"user\" or \"model\""))),
        };
        if role == Role::Assistant && self.last != Some(Role::Assistant) {
            self.pending.clear();
        }
        self.last = Some(role);
        let parts = match content.get("parts") {
            Some(Value::Array(parts)) => parts,
            None | Some(Value::Null) => {
                return Err(bad(format!("contents[{i}]: missing required field 'parts'")));
            }
            Some(_) => return Err(bad(format!("contents[{i}].parts must be an array of Part objects"))),
        };
        let mut out: Vec<Part> = Vec::with_capacity(parts.len());
        for (j, part) in parts.iter().enumerate() {
            if let Some(part) = self.part(&format!("contents[{i}].parts[{j}]"), part, role)? {
                push_part(&mut out, part);
            }
        }
        Ok(Message { role, content: out })
    }

    fn part(&mut self, path: &str, value: &Value, role: Role) -> Result<Option<Part>, ApiError> {
        let Value::Object(fields) = value else {
            return Err(bad(format!("{path} must be a Part object")));
        };
        let part = InPart::deserialize(value).map_err(|e| bad(format!("{path}: {e}")))?;
        let kinds = [
            part.text.is_some(),
            part.inline_data.is_some(),
            part.file_data.is_some(),
            part.function_call.is_some(),
            part.function_response.is_some(),
        ];
        match kinds.iter().filter(|k| **k).count() {
            1 => {}
            0 => {
                const METADATA: &[&str] = &["thought", "thoughtSignature", "thought_signature", "partMetadata"];
                return Err(match fields.keys().find(|k| !METADATA.contains(&k.as_str())) {
                    Some(kind) => bad(format!("{path}: part type '{kind}' is not supported for this model")),
                    None => bad(format!(
                        "{path}: a part needs one of text, inlineData, fileData, functionCall or functionResponse"
                    )),
                });
            }
            _ => {
                return Err(bad(format!(
                    "{path}: a part holds exactly one of text, inlineData, fileData, functionCall or functionResponse"
                )));
            }
        }
        let signature = part.thought_signature.as_deref().filter(|s| !s.is_empty());
        let refuse = |why: &str| bad(format!("{path}: {why}"));

        if let Some(text) = part.text {
            if part.thought == Some(true) {
                if role != Role::Assistant {
                    return Err(refuse("a thought part is only allowed in a model turn"));
                }
                return Ok(Some(Part::Thinking { text, signature: signature.map(signature_from_wire) }));
            }
            return Ok((!text.is_empty()).then(|| Part::text(text)));
        }
        if let Some(blob) = part.inline_data {
            let source = ImageSource::Base64 { media_type: blob.mime_type.to_ascii_lowercase(), data: blob.data };
            return media(source, &blob.mime_type).map(Some).ok_or_else(|| {
                refuse(&format!("inlineData of type '{}' is not supported for this model", blob.mime_type))
            });
        }
        if let Some(file) = part.file_data {
            let mime = file.mime_type.clone().unwrap_or_else(|| guess_mime(&file.file_uri).into());
            return media(ImageSource::Url(file.file_uri), &mime)
                .map(Some)
                .ok_or_else(|| refuse(&format!("fileData of type '{mime}' is not supported for this model")));
        }
        if let Some(call) = part.function_call {
            if role != Role::Assistant {
                return Err(refuse("a functionCall is only allowed in a model turn"));
            }
            let arguments = match call.args {
                Value::Null => json!({}),
                args @ Value::Object(_) => args,
                _ => return Err(bad(format!("{path}.functionCall.args must be an object"))),
            };
            let wire_id = call.id.filter(|id| !id.is_empty());
            let base = wire_id.clone().unwrap_or_else(|| format!("call_{}", self.calls));
            self.calls += 1;
            let id = join_call_id(base, signature);
            self.pending.push(Pending { wire_id, name: call.name.clone(), id: id.clone(), answered: false });
            return Ok(Some(Part::ToolCall { id, name: call.name, arguments }));
        }
        if let Some(response) = part.function_response {
            if role != Role::User {
                return Err(refuse("a functionResponse is only allowed in a user turn"));
            }
            let wanted = response.id.as_deref().filter(|id| !id.is_empty());
            let by_id = wanted.and_then(|id| {
                self.pending.iter().position(|p| !p.answered && (p.wire_id.as_deref() == Some(id) || p.id == id))
            });
            let found = by_id.or_else(|| self.pending.iter().position(|p| !p.answered && p.name == response.name));
            let Some(found) = found else {
                return Err(bad(format!(
                    "{path}.functionResponse: no functionCall named '{}' in the preceding model turn is waiting for a response",
                    response.name
                )));
            };
            let call = &mut self.pending[found];
            call.answered = true;
            let (content, is_error) = function_output(response.response);
            return Ok(Some(Part::ToolResult { call_id: call.id.clone(), content, is_error }));
        }
        unreachable!("exactly one kind is set")
    }
}

/// Appends a part; a thought continues an unsigned thought before it (one `Thinking` per
/// signature, as a stream splits them).
fn push_part(parts: &mut Vec<Part>, part: Part) {
    if let (Some(Part::Thinking { text, signature: signature @ None }), Part::Thinking { text: more, signature: new }) =
        (parts.last_mut(), &part)
    {
        text.push_str(more);
        signature.clone_from(new);
        return;
    }
    parts.push(part);
}

/// An image or PDF by its type; `None` for anything else.
fn media(source: ImageSource, mime: &str) -> Option<Part> {
    let mime = mime.to_ascii_lowercase();
    if mime.starts_with("image/") {
        Some(Part::Image { source })
    } else if mime == "application/pdf" {
        Some(Part::Document { source })
    } else {
        None
    }
}

/// A media type from a URI's extension: PDFs and common image types; else `image/*`'s default.
pub(super) fn guess_mime(uri: &str) -> &'static str {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    let extension = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => "image/*",
    }
}

/// A `functionResponse.response` as a tool result's content and error flag (see `request`).
fn function_output(response: Value) -> (Vec<Part>, bool) {
    let text = |s: String| if s.is_empty() { Vec::new() } else { vec![Part::text(s)] };
    match response {
        Value::Null => (Vec::new(), false),
        Value::Object(mut map) if map.len() == 1 => {
            let (key, value) = map.iter_mut().next().expect("one member");
            match (key.as_str(), value) {
                ("content" | "output", Value::String(s)) => (text(std::mem::take(s)), false),
                ("error", Value::String(s)) => (text(std::mem::take(s)), true),
                _ => (text(Value::Object(map).to_string()), false),
            }
        }
        other => (text(other.to_string()), false),
    }
}

/// One `tools[]` entry: only `functionDeclarations` is supported.
fn tool_entry(i: usize, entry: &Value, out: &mut Vec<Tool>) -> Result<(), ApiError> {
    let Value::Object(entry) = entry else {
        return Err(bad(format!("tools[{i}] must be a Tool object")));
    };
    for (key, value) in entry {
        match key.as_str() {
            "functionDeclarations" | "function_declarations" => {
                let Value::Array(declarations) = value else {
                    return Err(bad(format!("tools[{i}].{key} must be an array")));
                };
                for (j, declaration) in declarations.iter().enumerate() {
                    out.push(function_declaration(&format!("tools[{i}].{key}[{j}]"), declaration)?);
                }
            }
            other => return Err(bad(format!("tools[{i}]: tool '{other}' is not supported for this model"))),
        }
    }
    Ok(())
}

fn function_declaration(path: &str, value: &Value) -> Result<Tool, ApiError> {
    let declaration = InFunctionDeclaration::deserialize(value).map_err(|e| bad(format!("{path}: {e}")))?;
    let parameters = match (declaration.parameters_json_schema, declaration.parameters) {
        (Some(schema @ Value::Object(_)), _) => schema,
        (Some(_), _) => return Err(bad(format!("{path}.parametersJsonSchema must be an object"))),
        (None, Some(schema @ Value::Object(_))) => schema::from_openapi(&schema),
        (None, Some(_)) => return Err(bad(format!("{path}.parameters must be a Schema object"))),
        (None, None) => json!({ "type": "object", "properties": {} }),
    };
    Ok(Tool {
        name: declaration.name,
        description: declaration.description,
        parameters,
        strict: None,
        cache_control: None,
    })
}

fn tool_config(name: &str, value: Value, tools: &mut Vec<Tool>) -> Result<Option<ToolChoice>, ApiError> {
    let Value::Object(mut config) = value else {
        return Err(bad(format!("'{name}' must be an object")));
    };
    let Some(calling) = take_as::<InFunctionCallingConfig>(
        &mut config,
        name,
        &["functionCallingConfig", "function_calling_config"],
        "an object with 'mode' and 'allowedFunctionNames'",
    )?
    else {
        return Ok(None);
    };
    let names = calling.allowed_function_names.unwrap_or_default();
    let narrow = |tools: &mut Vec<Tool>| {
        if !names.is_empty() {
            tools.retain(|t| names.contains(&t.name));
        }
    };
    let choice = match calling.mode.as_deref().unwrap_or("MODE_UNSPECIFIED") {
        "MODE_UNSPECIFIED" => None,
        "AUTO" | "VALIDATED" => {
            narrow(tools);
            Some(ToolChoice::Auto)
        }
        "NONE" => Some(ToolChoice::None),
        "ANY" => match names.as_slice() {
            [one] => Some(ToolChoice::Tool(one.clone())),
            _ => {
                narrow(tools);
                Some(ToolChoice::Required)
            }
        },
        other => {
            return Err(bad(format!(
                "'{name}.functionCallingConfig.mode' must be AUTO, ANY, NONE or VALIDATED, not '{other}'"
            )));
        }
    };
    Ok(choice)
}

/// Reads `generationConfig` into `req`; returns the members with no neutral slot.
fn generation_config(
    parent: &str,
    mut config: Map<String, Value>,
    req: &mut ChatRequest,
) -> Result<Map<String, Value>, ApiError> {
    let c = &mut config;
    req.max_tokens = take_as(c, parent, &["maxOutputTokens", "max_output_tokens"], "a non-negative integer")?;
    req.temperature = take_as(c, parent, &["temperature"], "a number")?;
    req.top_p = take_as(c, parent, &["topP", "top_p"], "a number")?;
    req.top_k = take_as(c, parent, &["topK", "top_k"], "a non-negative integer")?;
    req.stop = take_as(c, parent, &["stopSequences", "stop_sequences"], "an array of strings")?.unwrap_or_default();
    req.seed = take_as(c, parent, &["seed"], "an integer")?;
    req.presence_penalty = take_as(c, parent, &["presencePenalty", "presence_penalty"], "a number")?;
    req.frequency_penalty = take_as(c, parent, &["frequencyPenalty", "frequency_penalty"], "a number")?;
    if let Some(count) = take_as::<u64>(c, parent, &["candidateCount", "candidate_count"], "a positive integer")? {
        if count > 1 {
            return Err(bad(format!(
                "'{parent}.candidateCount' must be 1: only one candidate per request is supported for this model"
            )));
        }
    }

    let mime = take(c, &["responseMimeType", "response_mime_type"]);
    let json_schema = take(c, &["responseJsonSchema", "response_json_schema", "_responseJsonSchema"]);
    let openapi_schema = take(c, &["responseSchema", "response_schema"]);
    let mime_type = match &mime {
        None => None,
        Some((_, Value::String(mime))) => Some(mime.to_ascii_lowercase()),
        Some((name, _)) => return Err(bad(format!("'{parent}.{name}' must be a string"))),
    };
    let schema = match (&json_schema, &openapi_schema) {
        (Some((_, schema @ Value::Object(_))), _) => Some(schema.clone()),
        (Some((name, _)), _) => return Err(bad(format!("'{parent}.{name}' must be an object"))),
        (None, Some((_, schema @ Value::Object(_)))) => Some(schema::from_openapi(schema)),
        (None, Some((name, _))) => return Err(bad(format!("'{parent}.{name}' must be a Schema object"))),
        (None, None) => None,
    };
    match mime_type.as_deref() {
        Some("application/json") | None if schema.is_some() => {
            let schema = schema.expect("checked");
            req.response_format = Some(ResponseFormat::JsonSchema { name: SCHEMA_NAME.into(), schema, strict: None });
        }
        Some("application/json") => req.response_format = Some(ResponseFormat::JsonObject),
        None | Some("text/plain") => {}
        // `text/x.enum` and the like: no neutral form, kept as sent.
        Some(_) => {
            for (name, value) in [mime, json_schema, openapi_schema].into_iter().flatten() {
                c.insert(name, value);
            }
        }
    }

    if let Some(thinking) = take_as::<InThinkingConfig>(
        c,
        parent,
        &["thinkingConfig", "thinking_config"],
        "an object with 'thinkingBudget', 'includeThoughts' or 'thinkingLevel'",
    )? {
        req.reasoning = Some(reasoning(parent, thinking)?);
    }
    Ok(config)
}

fn reasoning(parent: &str, thinking: InThinkingConfig) -> Result<Reasoning, ApiError> {
    let mut reasoning = Reasoning { exclude: thinking.include_thoughts != Some(true), ..Reasoning::default() };
    if let Some(level) = thinking.thinking_level {
        let lower = level.to_ascii_lowercase();
        match LEVELS.iter().find(|l| **l == lower) {
            Some(level) => reasoning.effort = Some((*level).to_owned()),
            None if lower == "thinking_level_unspecified" => {}
            None => {
                return Err(bad(format!(
                    "'{parent}.thinkingConfig.thinkingLevel' must be MINIMAL, LOW, MEDIUM or HIGH, not '{level}'"
                )));
            }
        }
    }
    match thinking.thinking_budget {
        None | Some(-1) => {}
        Some(0) => reasoning.effort = Some("none".into()),
        Some(budget) => match u64::try_from(budget) {
            Ok(budget) => reasoning.max_tokens = Some(budget),
            Err(_) => {
                return Err(bad(format!(
                    "'{parent}.thinkingConfig.thinkingBudget' must be -1, 0 or a positive integer"
                )));
            }
        },
    }
    Ok(reasoning)
}

/// Deterministic ids for an answer's function calls that come without one (module docs of
/// `gemini`): `call_<responseId>_<n>`, or `call_<n>` when the answer has no id.
#[derive(Debug, Default)]
pub(super) struct CallIds {
    prefix: String,
    next: u32,
}

impl CallIds {
    pub(super) fn new(response_id: &str) -> Self {
        // Only id-safe characters, and short enough that ids stay under OpenAI's 40.
        let clean: String =
            response_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').take(24).collect();
        let prefix = if clean.is_empty() { "call_".to_owned() } else { format!("call_{clean}_") };
        Self { prefix, next: 0 }
    }

    /// The neutral id of the next call: its own id or a generated one, carrying `signature`.
    pub(super) fn id(&mut self, own: Option<String>, signature: Option<&str>) -> String {
        let n = self.next;
        self.next += 1;
        let base = own.filter(|id| !id.is_empty()).unwrap_or_else(|| format!("{}{n}", self.prefix));
        join_call_id(base, signature)
    }
}

/// An answer's part in neutral form; `None` for what a client has no use for (empty text,
/// code execution, unknown kinds). A plain text's signature is dropped (module docs).
fn answer_part(part: InPart, ids: &mut CallIds) -> Option<Part> {
    let signature = part.thought_signature.as_deref().filter(|s| !s.is_empty());
    if let Some(call) = part.function_call {
        let arguments = match call.args {
            args @ Value::Object(_) => args,
            Value::Null => json!({}),
            other => json!({ "_raw": other }),
        };
        return Some(Part::ToolCall { id: ids.id(call.id, signature), name: call.name, arguments });
    }
    if let Some(text) = part.text {
        if part.thought == Some(true) {
            return (!text.is_empty() || signature.is_some())
                .then(|| Part::Thinking { text, signature: signature.map(signature_from_wire) });
        }
        return (!text.is_empty()).then(|| Part::text(text));
    }
    if let Some(blob) = part.inline_data {
        return media(
            ImageSource::Base64 { media_type: blob.mime_type.to_ascii_lowercase(), data: blob.data },
            &blob.mime_type,
        );
    }
    None
}

/// Decodes an upstream `GenerateContentResponse`. Only the first candidate is read (requests
/// ask for one).
pub fn response(body: &[u8]) -> Result<ChatResponse, InvalidResponse> {
    let resp: InResponse = serde_json::from_slice(body).map_err(|e| InvalidResponse(e.to_string()))?;
    if resp.error.is_some() {
        return Err(InvalidResponse("an error object in a successful response".into()));
    }
    let id = resp.response_id.unwrap_or_default();
    let created = resp
        .create_time
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(0, |t| t.timestamp());
    let usage = resp.usage_metadata.as_ref().map(usage).unwrap_or_default();
    let mut ids = CallIds::new(&id);
    let candidate = resp.candidates.and_then(|c| c.into_iter().next());
    let (content, finish_reason, native_finish_reason) = match candidate {
        Some(candidate) => {
            let mut content = Vec::new();
            for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
                if let Some(part) = answer_part(part, &mut ids) {
                    push_part(&mut content, part);
                }
            }
            let called = content.iter().any(|p| matches!(p, Part::ToolCall { .. }));
            (content, finish_reason(candidate.finish_reason.as_deref(), called), candidate.finish_reason)
        }
        None => match resp.prompt_feedback.and_then(|f| f.block_reason) {
            Some(block) => (Vec::new(), FinishReason::ContentFilter, Some(block)),
            None => return Err(InvalidResponse("no candidates and no block reason".into())),
        },
    };
    Ok(ChatResponse {
        id,
        model: resp.model_version.unwrap_or_default(),
        created,
        content,
        finish_reason,
        native_finish_reason,
        stop_sequence: None,
        usage,
    })
}
