//! Inbound OpenAI requests: validation with messages that name the field, and the body sent
//! upstream (same format: the client's bytes with `model` rewritten and gateway-only fields
//! removed).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::dialect::raw::RawObject;
use crate::error::ApiError;

/// Fields that steer the gateway (OpenRouter's routing and accounting extensions). They are
/// consumed here and never forwarded: OpenAI rejects unknown top-level arguments.
const GATEWAY_FIELDS: &[&str] =
    &["models", "route", "provider", "plugins", "transforms", "usage", "reasoning", "debug", "session_id", "trace"];

const ROLES: &[&str] = &["system", "developer", "user", "assistant", "tool", "function"];

/// A validated `/v1/chat/completions` body, borrowing the client's bytes.
#[derive(Debug)]
pub struct ChatRequest<'a> {
    body: RawObject<'a>,
    /// The model id as the client wrote it.
    pub model: Cow<'a, str>,
    pub stream: bool,
    /// `stream_options.include_usage` as the client sent it, if it did.
    pub include_usage: Option<bool>,
    /// `max_completion_tokens`, else `max_tokens`.
    pub max_tokens: Option<u64>,
    /// Size of `messages` in bytes, for a token estimate when the upstream reports none.
    pub prompt_bytes: usize,
    /// OpenRouter's `reasoning.effort`, forwarded as OpenAI's `reasoning_effort`.
    reasoning_effort: Option<String>,
}

fn bad(message: String) -> ApiError {
    ApiError::bad_request(message)
}

fn invalid_json(err: impl std::fmt::Display) -> ApiError {
    bad(format!("request body is not valid JSON: {err}"))
}

/// Parses a member's raw value as `T`, or explains what was expected.
fn field<'a, T: Deserialize<'a>>(
    obj: &'a RawObject<'_>,
    name: &str,
    expected: impl std::fmt::Display,
) -> Result<Option<T>, ApiError> {
    match obj.get(name) {
        None => Ok(None),
        Some(raw) => {
            serde_json::from_str::<Option<T>>(raw.get()).map_err(|_| bad(format!("'{name}' must be {expected}")))
        }
    }
}

/// "a number between `min` and `max`", written only when a message needs it.
struct Between(f64, f64);

impl std::fmt::Display for Between {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a number between {} and {}", self.0, self.1)
    }
}

fn number_in(obj: &RawObject<'_>, name: &str, min: f64, max: f64) -> Result<(), ApiError> {
    let expected = Between(min, max);
    match field::<f64>(obj, name, &expected)? {
        Some(v) if !(min..=max).contains(&v) => Err(bad(format!("'{name}' must be {expected}, got {v}"))),
        _ => Ok(()),
    }
}

fn positive_int(obj: &RawObject<'_>, name: &str) -> Result<Option<u64>, ApiError> {
    match field::<u64>(obj, name, "a positive integer")? {
        Some(0) => Err(bad(format!("'{name}' must be a positive integer"))),
        other => Ok(other),
    }
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow)]
    content: Option<&'a RawValue>,
    #[serde(borrow)]
    tool_call_id: Option<&'a RawValue>,
}

fn validate_messages(raw: Option<&RawValue>) -> Result<usize, ApiError> {
    let raw = raw.ok_or_else(|| bad("'messages' is required".into()))?;
    let messages: Vec<&RawValue> =
        serde_json::from_str(raw.get()).map_err(|_| bad("'messages' must be an array of message objects".into()))?;
    if messages.is_empty() {
        return Err(bad("'messages' must contain at least one message".into()));
    }
    for (i, message) in messages.iter().enumerate() {
        let m: Message = serde_json::from_str(message.get())
            .map_err(|_| bad(format!("'messages[{i}]' must be an object with a string 'role'")))?;
        let role = m.role.ok_or_else(|| bad(format!("'messages[{i}].role' is required")))?;
        if !ROLES.contains(&role.as_ref()) {
            return Err(bad(format!("'messages[{i}].role' must be one of {}, got '{role}'", ROLES.join(", "))));
        }
        if let Some(content) = m.content {
            let first = content.get().as_bytes().first().copied();
            if !matches!(first, Some(b'"' | b'[' | b'n')) {
                return Err(bad(format!("'messages[{i}].content' must be a string, an array of parts, or null")));
            }
        } else if role != "assistant" {
            return Err(bad(format!("'messages[{i}].content' is required for role '{role}'")));
        }
        if role == "tool" && m.tool_call_id.is_none() {
            return Err(bad(format!("'messages[{i}].tool_call_id' is required for role 'tool'")));
        }
    }
    Ok(raw.get().len())
}

/// A tool as far as `tool_choice` cares: its type and name (`function.name` or `custom.name`).
#[derive(Deserialize)]
struct ToolHead<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    function: Option<Named<'a>>,
    #[serde(borrow)]
    custom: Option<Named<'a>>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

impl ToolHead<'_> {
    fn name(&self) -> Option<&str> {
        self.function.as_ref().or(self.custom.as_ref()).and_then(|f| f.name.as_deref())
    }
}

/// A `tool_choice` that forces a named tool must name one in `tools`; OpenAI refuses it
/// otherwise, and a translation would force a tool the model was never given.
fn check_tool_choice(body: &RawObject<'_>, tools: &[ToolHead<'_>]) -> Result<(), ApiError> {
    let Some(choice) = field::<&RawValue>(body, "tool_choice", "a string or an object")? else { return Ok(()) };
    if choice.get().starts_with('"') {
        return Ok(());
    }
    let forced: ToolHead = serde_json::from_str(choice.get())
        .map_err(|_| bad("'tool_choice' must be 'none', 'auto', 'required' or an object".into()))?;
    if !matches!(forced.kind.as_deref(), Some("function" | "custom")) {
        return Ok(());
    }
    let name = forced.name().ok_or_else(|| bad("'tool_choice' must name the tool it forces".into()))?;
    let declared = tools.iter().filter(|t| t.kind == forced.kind).filter_map(ToolHead::name);
    crate::dialect::check::chosen_tool_is_declared(Some(name), declared, !tools.is_empty())
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

#[derive(Deserialize)]
struct Reasoning<'a> {
    #[serde(borrow)]
    effort: Option<Cow<'a, str>>,
}

/// The model named by `model`, else the first of `models`.
fn model_of<'a>(body: &'a RawObject<'_>) -> Result<Cow<'a, str>, ApiError> {
    if let Some(model) = field::<Cow<'a, str>>(body, "model", "a string")? {
        return Ok(model);
    }
    let models = field::<Vec<Cow<'a, str>>>(body, "models", "an array of model ids")?;
    models.and_then(|m| m.into_iter().next()).ok_or_else(|| bad("'model' is required".into()))
}

impl<'a> ChatRequest<'a> {
    /// Validates a request body. Every problem is a 400 that names the field.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ApiError> {
        let body = RawObject::parse(bytes).map_err(invalid_json)?;
        // `model` borrows from `body` only through `RawValue`s that point into `bytes`.
        let model = model_of(&body)?.into_owned();
        let prompt_bytes = validate_messages(body.get("messages"))?;
        let stream = field::<bool>(&body, "stream", "a boolean")?.unwrap_or(false);
        let stream_options = field::<StreamOptions>(&body, "stream_options", "an object")?;
        if stream_options.is_some() && !stream {
            // OpenAI refuses it: "'stream_options' is only allowed when 'stream' is enabled".
            return Err(bad("'stream_options' is only allowed when 'stream' is true".into()));
        }
        let include_usage = stream_options.and_then(|o| o.include_usage);
        number_in(&body, "temperature", 0.0, 2.0)?;
        number_in(&body, "top_p", 0.0, 1.0)?;
        number_in(&body, "frequency_penalty", -2.0, 2.0)?;
        number_in(&body, "presence_penalty", -2.0, 2.0)?;
        let max_tokens = match positive_int(&body, "max_completion_tokens")? {
            Some(n) => Some(n),
            None => positive_int(&body, "max_tokens")?,
        };
        positive_int(&body, "n")?;
        let tools = field::<Vec<ToolHead>>(&body, "tools", "an array of tool objects")?.unwrap_or_default();
        check_tool_choice(&body, &tools)?;
        field::<&RawValue>(&body, "stop", "a string or an array of strings")?
            .map(|s| {
                serde_json::from_str::<StopShape>(s.get())
                    .map_err(|_| bad("'stop' must be a string or an array of strings".into()))
            })
            .transpose()?;
        let reasoning_effort =
            field::<Reasoning>(&body, "reasoning", "an object")?.and_then(|r| r.effort).map(Cow::into_owned);
        Ok(Self { body, model: Cow::Owned(model), stream, include_usage, max_tokens, prompt_bytes, reasoning_effort })
    }

    /// The body for an OpenAI-format upstream: `model` set to `native_model`, gateway-only
    /// fields removed, OpenRouter's `reasoning.effort` mapped to `reasoning_effort`, and on
    /// streams `stream_options.include_usage` forced on so usage can be metered. Every other
    /// member keeps the client's bytes.
    pub fn upstream_body(&self, native_model: &str) -> Vec<u8> {
        let mut body = self.body.clone();
        body.set_value("model", native_model);
        if let Some(effort) = &self.reasoning_effort {
            if body.get("reasoning_effort").is_none() {
                body.set_value("reasoning_effort", effort.as_str());
            }
        }
        for name in GATEWAY_FIELDS {
            body.remove(name);
        }
        if self.stream {
            let mut options = body
                .get("stream_options")
                .and_then(|raw| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw.get()).ok())
                .unwrap_or_default();
            options.insert("include_usage".into(), true.into());
            body.set_value("stream_options", &options);
        }
        body.to_vec()
    }

    /// Whether the client gets the final usage chunk: always, unless it explicitly set
    /// `stream_options.include_usage: false` (OpenRouter always sends it; the opt-out is for
    /// clients that cannot handle a chunk with `choices: []`).
    pub fn wants_usage_chunk(&self) -> bool {
        self.include_usage != Some(false)
    }

    /// OpenRouter's routing fields (`models`, `route`, `provider`), for the request's plan.
    pub fn routing(&self) -> crate::routing::RoutingFields<'_> {
        crate::routing::RoutingFields {
            models: self.body.get("models"),
            route: self.body.get("route"),
            provider: self.body.get("provider"),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StopShape {
    One(#[allow(dead_code)] String),
    Many(#[allow(dead_code)] Vec<String>),
}

/// A validated `/v1/embeddings` body.
#[derive(Debug)]
pub struct EmbeddingsRequest<'a> {
    body: RawObject<'a>,
    pub model: String,
    /// Size of `input` in bytes, for a token estimate when the upstream reports none.
    pub input_bytes: usize,
    /// The input as texts; `None` when it was token ids, which only OpenAI understands.
    pub texts: Option<Vec<String>>,
    /// `dimensions`, when given.
    pub dimensions: Option<u64>,
    /// The client asked for base64 float32 vectors (the OpenAI SDK's default).
    pub base64: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EmbeddingInput {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

impl<'a> EmbeddingsRequest<'a> {
    /// Validates a `/v1/embeddings` body, borrowing it; each problem is a 400 naming its field.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ApiError> {
        let body = RawObject::parse(bytes).map_err(invalid_json)?;
        let model = field::<String>(&body, "model", "a string")?.ok_or_else(|| bad("'model' is required".into()))?;
        let raw_input = body.get("input").ok_or_else(|| bad("'input' is required".into()))?;
        let input: EmbeddingInput = serde_json::from_str(raw_input.get())
            .map_err(|_| bad("'input' must be a string, an array of strings, or an array of token arrays".into()))?;
        let empty = match &input {
            EmbeddingInput::Text(_) => false,
            EmbeddingInput::Texts(t) => t.is_empty(),
            EmbeddingInput::Tokens(t) => t.is_empty(),
            EmbeddingInput::TokenLists(t) => t.is_empty() || t.iter().any(Vec::is_empty),
        };
        if empty {
            return Err(bad("'input' must not be empty".into()));
        }
        let base64 = match field::<String>(&body, "encoding_format", "'float' or 'base64'")?.as_deref() {
            None | Some("float") => false,
            Some("base64") => true,
            Some(other) => return Err(bad(format!("'encoding_format' must be 'float' or 'base64', got '{other}'"))),
        };
        let dimensions = positive_int(&body, "dimensions")?;
        let texts = match input {
            EmbeddingInput::Text(text) => Some(vec![text]),
            EmbeddingInput::Texts(texts) => Some(texts),
            EmbeddingInput::Tokens(_) | EmbeddingInput::TokenLists(_) => None,
        };
        let input_bytes = raw_input.get().len();
        Ok(Self { body, model, input_bytes, texts, dimensions, base64 })
    }

    /// The body for an OpenAI-format upstream: `model` rewritten, gateway-only fields removed.
    pub fn upstream_body(&self, native_model: &str) -> Vec<u8> {
        let mut body = self.body.clone();
        body.set_value("model", native_model);
        for name in GATEWAY_FIELDS {
            body.remove(name);
        }
        body.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        ChatRequest::parse(body.as_bytes()).unwrap_err().message.into_owned()
    }

    #[test]
    fn forwards_unknown_fields_untouched_and_rewrites_model() {
        let body = br#"{"model":"openai/gpt-5.4","messages":[{"role":"user","content":"hi"}],"x_custom":{"n":1.50},"provider":{"order":["OpenAI"]},"reasoning":{"effort":"high"}}"#;
        let req = ChatRequest::parse(body).unwrap();
        assert_eq!(req.model, "openai/gpt-5.4");
        let out = String::from_utf8(req.upstream_body("gpt-5.4")).unwrap();
        assert_eq!(
            out,
            r#"{"model":"gpt-5.4","messages":[{"role":"user","content":"hi"}],"x_custom":{"n":1.50},"reasoning_effort":"high"}"#
        );
    }

    #[test]
    fn streams_always_ask_upstream_for_usage() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":false,"include_obfuscation":false}}"#;
        let req = ChatRequest::parse(body).unwrap();
        assert!(req.stream);
        assert!(!req.wants_usage_chunk());
        let out: serde_json::Value = serde_json::from_slice(&req.upstream_body("m")).unwrap();
        assert_eq!(out["stream_options"], serde_json::json!({"include_usage": true, "include_obfuscation": false}));
        let plain =
            ChatRequest::parse(br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#).unwrap();
        assert!(plain.wants_usage_chunk());
        let out: serde_json::Value = serde_json::from_slice(&plain.upstream_body("m")).unwrap();
        assert_eq!(out["stream_options"]["include_usage"], true);
    }

    #[test]
    fn bad_input_names_the_field() {
        assert!(err("{").contains("not valid JSON"));
        assert!(err("[]").contains("not valid JSON"));
        assert!(err(r#"{"messages":[{"role":"user","content":"x"}]}"#).contains("'model' is required"));
        assert!(err(r#"{"model":"m"}"#).contains("'messages' is required"));
        assert!(err(r#"{"model":"m","messages":"hi"}"#).contains("'messages' must be an array"));
        assert!(err(r#"{"model":"m","messages":[]}"#).contains("at least one"));
        assert!(err(r#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#).contains("'messages[0].role'"));
        assert!(err(r#"{"model":"m","messages":[{"role":"user","content":5}]}"#).contains("'messages[0].content'"));
        assert!(err(r#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#).contains("tool_call_id"));
        let ok = r#""messages":[{"role":"user","content":"x"}]"#;
        assert!(err(&format!(r#"{{"model":5,{ok}}}"#)).contains("'model' must be a string"));
        assert!(err(&format!(r#"{{"model":"m",{ok},"temperature":5}}"#)).contains("'temperature'"));
        assert!(err(&format!(r#"{{"model":"m",{ok},"max_tokens":"abc"}}"#)).contains("'max_tokens'"));
        assert!(err(&format!(r#"{{"model":"m",{ok},"max_tokens":-1}}"#)).contains("'max_tokens'"));
        assert!(err(&format!(r#"{{"model":"m",{ok},"max_tokens":0}}"#)).contains("'max_tokens'"));
        assert!(err(&format!(r#"{{"model":"m",{ok},"stream":"yes"}}"#)).contains("'stream'"));
        assert!(err(&format!(r#"{{"model":"m",{ok},"stop":5}}"#)).contains("'stop'"));
        assert!(err(&format!(r#"{{"model":"m",{ok},"temperature":1e309}}"#)).contains("temperature"));
    }

    #[test]
    fn deep_nesting_is_a_clean_error() {
        let deep = format!(r#"{{"model":"m","messages":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
        assert!(ChatRequest::parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn embeddings_accept_strings_and_arrays() {
        for input in [r#""hello""#, r#"["a","b"]"#, "[1,2,3]", "[[1],[2]]"] {
            let body =
                format!(r#"{{"model":"openai/text-embedding-3-small","input":{input},"encoding_format":"base64"}}"#);
            let req = EmbeddingsRequest::parse(body.as_bytes()).unwrap();
            let out: serde_json::Value = serde_json::from_slice(&req.upstream_body("text-embedding-3-small")).unwrap();
            assert_eq!(out["model"], "text-embedding-3-small");
        }
        for (body, needle) in [
            (r#"{"model":"m"}"#, "'input' is required"),
            (r#"{"model":"m","input":[]}"#, "must not be empty"),
            (r#"{"model":"m","input":{"a":1}}"#, "'input' must be"),
            (r#"{"model":"m","input":"x","encoding_format":"hex"}"#, "encoding_format"),
        ] {
            let e = EmbeddingsRequest::parse(body.as_bytes()).unwrap_err();
            assert!(e.message.contains(needle), "{body}: {}", e.message);
        }
    }
}
