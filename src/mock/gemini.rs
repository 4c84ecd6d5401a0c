//! The fake Google Gemini Developer API (`generativelanguage.googleapis.com/v1beta`), on the same
//! port as the other mocks: the gateway's base URL is `http://127.0.0.1:port` and it calls
//! `{base}/v1beta/models/{model}:{action}`.
//!
//! Routes: `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent` (`?alt=sse`:
//! SSE events `data: <GenerateContentResponse>\r\n\r\n` with no terminator; without `alt=sse`: one
//! JSON array streamed as `[{…}\r\n,\r\n{…}]`), `:countTokens`, `:embedContent`,
//! `:batchEmbedContents`; `GET /v1beta/models` (`pageSize` default 50, max 1000, `pageToken`) and
//! `GET /v1beta/models/{model}`. Any model name is accepted by the POST routes.
//!
//! Everything is deterministic:
//!
//! * Auth: the key in `x-goog-api-key`, else in the query `key=`. A wrong key: 400
//!   `INVALID_ARGUMENT` "API key not valid. Please pass a valid API key." with an `ErrorInfo`
//!   detail `API_KEY_INVALID`; no key: 403 `PERMISSION_DENIED` "Method doesn't allow unregistered
//!   callers…"; no key but an `Authorization` header: 401 `UNAUTHENTICATED`
//!   (`ACCESS_TOKEN_TYPE_UNSUPPORTED`), as Google answers an API key sent as a Bearer token.
//! * Errors are `{"error":{"code","message","status","details"?}}`; on `:streamGenerateContent`
//!   without `alt=sse` they are wrapped in a one-element array, as the real API does.
//! * Body parsing as Google's proto-JSON parser does it: field names in lowerCamelCase or
//!   snake_case; unknown fields, a list where one value is expected, values of the wrong type
//!   (`functionCall.args` / `functionResponse.response` must be objects, `inlineData.data` and
//!   `thoughtSignature` base64, enums by name in any case) are rejected together with 400
//!   "Invalid JSON payload received. Unknown name \"x\" at 'path': Cannot find field." (and
//!   "Invalid value at 'path' (TYPE), value") plus a `BadRequest` detail; paths use snake_case and
//!   map entries as `properties[i].value`. In particular a function declaration's `parameters`
//!   (and `generationConfig.responseSchema`) is Gemini's OpenAPI subset: `$schema`,
//!   `additionalProperties`, `$ref`, `const`, `propertyNames`, `type: [..]` etc. are rejected;
//!   `parametersJsonSchema` / `responseJsonSchema` take any JSON Schema.
//! * Then validation, every violation on its own `* GenerateContentRequest.<path>: <msg>\n` line:
//!   `contents` non-empty ("contents is not specified"), every content's `parts` non-empty,
//!   every part sets exactly one data field (`text` "" counts as unset: "required oneof field
//!   'data' must have one initialized field"), function call / response names non-empty, function
//!   names valid and unique, not both `parameters` and `parametersJsonSchema`, `properties` only
//!   on `type: OBJECT` schemas, `allowedFunctionNames` only with mode `ANY`/`VALIDATED`,
//!   `responseMimeType` in the allowed list, `responseSchema` only with a JSON / enum mime type.
//! * Then one-message checks: roles are `user` or `model` (missing means `user`): "Please use a
//!   valid role: user, model."; `temperature` in 0..=2, `topP` in 0..=1; `thinkingBudget: 0` on
//!   `*2.5-pro*`; a model turn with `functionCall`s must follow a user turn and be answered by the
//!   very next turn, a user turn with exactly as many `functionResponse` parts with the same names
//!   (pitfall 13); a `functionResponse` turn must follow a function call turn. On thinking models
//!   (name contains `gemini-2.5` or `gemini-3`), in the current turn (the contents after the last
//!   user content holding anything but function responses) the first `functionCall` part of every
//!   model content must carry the `thoughtSignature` the mock issued (or Google's bypass values
//!   `skip_thought_signature_validator` / `context_engineering_is_the_way_to_go`), else 400
//!   "Function call is missing a thought_signature in functionCall parts…"; any other signature
//!   there is "Corrupted thought signature." (pitfall 12).
//! * Answer: "Hello! This is the arouter mock Gemini upstream. You said: {last user text}" where
//!   the last user text is the non-thought text parts of the last `user` content joined with a
//!   space. Words are whitespace-split; `MockOptions::extra_words` appends `word0 word1 …`; with
//!   `responseMimeType: application/json` the text becomes `{"answer": "<that text>"}` (then
//!   split into words again). The answer stops before the first word containing one of
//!   `stopSequences` (finishReason `STOP`), else is cut to `maxOutputTokens` words when that is
//!   positive and smaller (`MAX_TOKENS`), else `STOP`.
//! * Tools: when some `tools[].functionDeclarations` is non-empty, `functionCallingConfig.mode` is
//!   not `NONE` and the last user content has no `functionResponse`, the answer is one
//!   `functionCall` part `{name: <the only allowedFunctionNames entry, else the first
//!   declaration>, args: {"input": <last user text>}}` with finishReason `STOP` (Gemini has no
//!   tool-call finish reason, pitfall 4); on thinking models the part carries `thoughtSignature:
//!   THOUGHT_SIGNATURE`.
//! * Thinking: on thinking models unless `thinkingBudget` is 0 (and on `*flash-lite*` only with a
//!   positive budget), or whenever `includeThoughts` is true, the model "thinks":
//!   `thoughtsTokenCount: 8`. With `includeThoughts` the first part is `{text: THOUGHT_TEXT,
//!   thought: true}`.
//! * Usage: `promptTokenCount` = words of every non-thought text part of `contents` + words of
//!   `systemInstruction` + 3 per content (calls, responses, files, tools count nothing);
//!   `candidatesTokenCount` = answer words, or 10 for a function call (thoughts excluded, pitfall
//!   19); `totalTokenCount` = prompt + candidates + thoughts; `promptTokensDetails: [{modality:
//!   TEXT, tokenCount: prompt}]`. Zero counts are omitted like the real API's proto3 JSON
//!   (`cachedContentTokenCount` never appears, `thoughtsTokenCount` only when thinking).
//! * Response: `{candidates:[{content:{role:"model", parts}, finishReason, index:0}],
//!   usageMetadata, modelVersion: <model>, responseId: "mock<hex>"}`; an empty answer has
//!   `content: {role: "model"}` with no parts.
//! * Streams: one chunk per word (the words after the first with a leading space), a thought
//!   chunk first when shown, a function call whole in one chunk; `usageMetadata` on every chunk,
//!   cumulative; `finishReason` only on the last chunk. `chunk_delay` between chunks.
//! * Blocked prompt: when the last user text contains `BLOCKME`, the answer (and the only stream
//!   chunk) is `{promptFeedback:{blockReason:"SAFETY", safetyRatings}, usageMetadata}` with no
//!   `candidates` (pitfall 22).
//! * countTokens: `{contents}` or `{generateContentRequest:{model:"models/…", contents, …}}` (system
//!   instruction and tools only inside the wrapper) → `{totalTokens, promptTokensDetails}` with the
//!   prompt formula above.
//! * Embeddings: `embedContent` `{content, taskType?, title?, outputDimensionality?}` →
//!   `{embedding:{values}}`; `batchEmbedContents` `{requests:[{model:"models/<url model>", …}]}`
//!   (1..=100 requests) → `{embeddings:[{values}]}` in order. Unit vectors from the OpenAI mock's
//!   helper over the text parts joined with a space, `outputDimensionality` (1..=3072) dimensions,
//!   default 8; no usage.
//!
//! Faults (the model in the path contains; after auth and validation, on every POST route):
//! `fault-500` 500 `INTERNAL`, `fault-503` 503 `UNAVAILABLE`, `fault-429` 429
//! `RESOURCE_EXHAUSTED` with `retry-after: 7` and a `RetryInfo` detail `retryDelay: "7s"`,
//! `fault-400` 400 `INVALID_ARGUMENT`, `fault-hang` never answers; `fault-malformed`: a 200
//! non-JSON body, or in a stream `{not json` after the first chunk; `fault-cut`: the stream ends
//! after two chunks, no `finishReason` (and no closing `]`); `fault-midstream-error`: after two
//! chunks an in-band `{"error":{"code":503,…,"status":"UNAVAILABLE"}}` chunk; `fault-no-usage`:
//! no `usageMetadata` anywhere.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing;
use base64::Engine;
use serde_json::{Map, Value, json};

use super::openai::embedding;
use super::{MockState, digest_hex, hang_if_asked, sse_response};

#[cfg(test)]
mod tests;

/// The header the Gemini API reads the key from (the query `key=` works too).
pub(super) const API_KEY_HEADER: &str = "x-goog-api-key";

/// The answer is this, a space, and the last user text.
pub const ANSWER_PREFIX: &str = "Hello! This is the arouter mock Gemini upstream. You said:";
/// The thought summary part shown with `includeThoughts`.
pub const THOUGHT_TEXT: &str = "The user said hello. I should greet them.";
/// The `thoughtSignature` on the mock's function calls (base64 of `sig_mock_1`).
pub const THOUGHT_SIGNATURE: &str = "c2lnX21vY2tfMQ==";
/// Signature values Google documents as "skip the validator".
pub const BYPASS_SIGNATURES: &[&str] = &["skip_thought_signature_validator", "context_engineering_is_the_way_to_go"];
/// A last user text containing this is blocked (`promptFeedback.blockReason: SAFETY`).
pub const BLOCK_TRIGGER: &str = "BLOCKME";
/// `thoughtsTokenCount` when the model thinks.
pub const THOUGHTS_TOKENS: u64 = 8;
/// `candidatesTokenCount` of a function call answer.
pub const FUNCTION_CALL_TOKENS: u64 = 10;
/// Embedding size without `outputDimensionality`.
pub const EMBEDDING_DIMENSIONS: usize = 8;
/// Most requests in one `batchEmbedContents`.
pub const MAX_BATCH: usize = 100;

const V1BETA: &str = "type.googleapis.com/google.ai.generativelanguage.v1beta";

struct ModelInfo {
    id: &'static str,
    display: &'static str,
    description: &'static str,
    input: u64,
    output: u64,
    methods: &'static [&'static str],
    thinking: bool,
}

const CHAT_METHODS: &[&str] = &["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"];

/// `GET /v1beta/models` answers from this list.
const MODELS: &[ModelInfo] = &[
    ModelInfo {
        id: "gemini-2.5-flash",
        display: "Gemini 2.5 Flash",
        description: "Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 million \
                      tokens, released in June of 2025.",
        input: 1_048_576,
        output: 65_536,
        methods: CHAT_METHODS,
        thinking: true,
    },
    ModelInfo {
        id: "gemini-2.5-pro",
        display: "Gemini 2.5 Pro",
        description: "Stable release (June 17th, 2025) of Gemini 2.5 Pro",
        input: 1_048_576,
        output: 65_536,
        methods: CHAT_METHODS,
        thinking: true,
    },
    ModelInfo {
        id: "gemini-2.5-flash-lite",
        display: "Gemini 2.5 Flash-Lite",
        description: "Stable version of Gemini 2.5 Flash-Lite, released in July of 2025",
        input: 1_048_576,
        output: 65_536,
        methods: CHAT_METHODS,
        thinking: true,
    },
    ModelInfo {
        id: "gemini-2.0-flash",
        display: "Gemini 2.0 Flash",
        description: "Gemini 2.0 Flash",
        input: 1_048_576,
        output: 8_192,
        methods: CHAT_METHODS,
        thinking: false,
    },
    ModelInfo {
        id: "gemini-embedding-001",
        display: "Gemini Embedding 001",
        description: "Obtain a distributed representation of a text.",
        input: 2_048,
        output: 1,
        methods: &["embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"],
        thinking: false,
    },
];

/// The Gemini routes.
pub(super) fn routes() -> Router<Arc<MockState>> {
    Router::new()
        .route("/v1beta/models", routing::get(list_models))
        .route("/v1beta/models/{*rest}", routing::get(get_model).post(call))
}

// ---------------------------------------------------------------------------------------------
// Errors

/// An error in Google's shape.
#[derive(Debug)]
struct ApiError {
    code: StatusCode,
    status: &'static str,
    message: String,
    details: Vec<Value>,
    retry_after: bool,
}

impl ApiError {
    fn new(code: u16, status: &'static str, message: impl Into<String>) -> Self {
        Self {
            code: StatusCode::from_u16(code).expect("valid status"),
            status,
            message: message.into(),
            details: Vec::new(),
            retry_after: false,
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "INVALID_ARGUMENT", message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NOT_FOUND", message)
    }

    fn with_details(mut self, details: Vec<Value>) -> Self {
        self.details = details;
        self
    }

    fn body(&self) -> Value {
        let mut error = json!({ "code": self.code.as_u16(), "message": self.message, "status": self.status });
        if !self.details.is_empty() {
            error["details"] = Value::Array(self.details.clone());
        }
        json!({ "error": error })
    }

    /// The response; `array` wraps the body in a list (`:streamGenerateContent` without SSE).
    fn response(&self, array: bool) -> Response {
        let body = if array { json!([self.body()]) } else { self.body() };
        let mut response = (self.code, axum::Json(body)).into_response();
        if self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        }
        response
    }
}

fn error_info(reason: &str, extra: Value) -> Value {
    let mut metadata = json!({ "service": "generativelanguage.googleapis.com" });
    if let (Some(metadata), Value::Object(extra)) = (metadata.as_object_mut(), extra) {
        metadata.extend(extra);
    }
    json!({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com", "metadata": metadata })
}

/// Lines of `* <prefix>.<path>: <message>\n`, as Google's request validator reports them.
fn validation_error(lines: &[String]) -> ApiError {
    ApiError::invalid(lines.iter().map(|line| format!("* {line}\n")).collect::<String>())
}

/// A fault named in the model; `Ok` to answer normally.
async fn fault(model: &str) -> Result<(), ApiError> {
    hang_if_asked(model).await;
    let faults: [(&str, u16, &'static str, &str); 4] = [
        (
            "fault-500",
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in \
             https://developers.generativeai.google/guide/troubleshooting",
        ),
        ("fault-503", 503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
        (
            "fault-429",
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details. For more information on \
             this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
        ),
        ("fault-400", 400, "INVALID_ARGUMENT", "mock: this request was rejected as invalid"),
    ];
    let Some((name, code, status, message)) = faults.into_iter().find(|(name, ..)| model.contains(name)) else {
        return Ok(());
    };
    let mut error = ApiError::new(code, status, message);
    if name == "fault-429" {
        error.retry_after = true;
        error.details = vec![
            json!({
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{
                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    "quotaDimensions": { "location": "global", "model": model },
                    "quotaValue": "10"
                }]
            }),
            json!({
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [{ "description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits" }]
            }),
            json!({ "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s" }),
        ];
    }
    Err(error)
}

fn malformed() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], "<html>this is not json</html>")
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Requests

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| percent_decode(key) == name)
        .map(|(_, value)| percent_decode(value))
}

/// Checks the API key: `x-goog-api-key`, else `?key=`.
fn authenticate(state: &MockState, uri: &Uri, headers: &HeaderMap) -> Result<(), ApiError> {
    let from_header = headers.get(API_KEY_HEADER).map(|v| v.to_str().unwrap_or("\u{0}").to_owned());
    let key = from_header.or_else(|| query_param(uri, "key")).filter(|key| !key.is_empty());
    match key {
        Some(key) if state.accepts(&key) => Ok(()),
        Some(_) => Err(ApiError::invalid("API key not valid. Please pass a valid API key.")
            .with_details(vec![error_info("API_KEY_INVALID", json!({}))])),
        None if headers.contains_key(header::AUTHORIZATION) => Err(ApiError::new(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other \
             valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        )
        .with_details(vec![error_info(
            "ACCESS_TOKEN_TYPE_UNSUPPORTED",
            json!({ "method": "google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent" }),
        )])),
        None => Err(ApiError::new(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or \
             other form of API consumer identity to call this API.",
        )),
    }
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(request)) => Ok(request),
        Ok(other) => Err(ApiError::invalid(format!(
            "Invalid JSON payload received. Expected an object at the top level, got: {other}."
        ))),
        Err(e) => Err(ApiError::invalid(format!("Invalid JSON payload received. {e}"))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Generate,
    Stream { sse: bool },
    CountTokens,
    Embed,
    BatchEmbed,
}

/// `POST /v1beta/models/{model}:{action}`.
async fn call(
    State(state): State<Arc<MockState>>,
    Path(rest): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.record(method, &uri, &headers, &body);
    let (model, action) = rest.rsplit_once(':').unwrap_or((rest.as_str(), ""));
    let action = match action {
        "generateContent" => Some(Action::Generate),
        "streamGenerateContent" => Some(Action::Stream { sse: query_param(&uri, "alt").as_deref() == Some("sse") }),
        "countTokens" => Some(Action::CountTokens),
        "embedContent" => Some(Action::Embed),
        "batchEmbedContents" => Some(Action::BatchEmbed),
        _ => None,
    };
    let array_errors = action == Some(Action::Stream { sse: false });
    match handle(&state, model, action, &uri, &headers, &body).await {
        Ok(response) => response,
        Err(error) => error.response(array_errors),
    }
}

async fn handle(
    state: &Arc<MockState>,
    model: &str,
    action: Option<Action>,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    authenticate(state, uri, headers)?;
    state.first_byte_delay().await;
    let Some(action) = action.filter(|_| !model.is_empty() && !model.contains('/')) else {
        return Err(ApiError::not_found("Method not found."));
    };
    let request = parse_body(body)?;
    match action {
        Action::Generate => generate(state, model, &request, body, None).await,
        Action::Stream { sse } => generate(state, model, &request, body, Some(sse)).await,
        Action::CountTokens => count_tokens(model, &request).await,
        Action::Embed => embed(model, &request).await,
        Action::BatchEmbed => batch_embed(model, &request).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Proto-JSON parsing: unknown fields and wrongly typed values

#[derive(Debug)]
struct Enum {
    name: &'static str,
    values: &'static [&'static str],
}

#[derive(Debug, Clone, Copy)]
enum Scalar {
    Str,
    Bool,
    Int32,
    Int64,
    Float,
    Double,
    Bytes,
    Struct,
    Any,
    Enum(&'static Enum),
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    One(Scalar),
    Many(Scalar),
    Msg(&'static Spec),
    Msgs(&'static Spec),
    MsgMap(&'static Spec),
}

/// A proto message: its name and its fields (lowerCamelCase; snake_case is accepted too).
#[derive(Debug)]
struct Spec {
    name: &'static str,
    fields: &'static [(&'static str, Kind)],
    /// The members of a required oneof, if the message has one.
    oneof: &'static [&'static str],
}

use Kind::{Many, Msg, MsgMap, Msgs, One};
use Scalar::{Any, Bool, Bytes as B64, Double, Float, Int32, Int64, Str, Struct};

static TYPE: Enum = Enum {
    name: "Type",
    values: &["TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"],
};
static MODE: Enum =
    Enum { name: "FunctionCallingConfig.Mode", values: &["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"] };
static HARM_CATEGORY: Enum = Enum {
    name: "HarmCategory",
    values: &[
        "HARM_CATEGORY_UNSPECIFIED",
        "HARM_CATEGORY_DEROGATORY",
        "HARM_CATEGORY_TOXICITY",
        "HARM_CATEGORY_VIOLENCE",
        "HARM_CATEGORY_SEXUAL",
        "HARM_CATEGORY_MEDICAL",
        "HARM_CATEGORY_DANGEROUS",
        "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_HATE_SPEECH",
        "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_DANGEROUS_CONTENT",
        "HARM_CATEGORY_CIVIC_INTEGRITY",
    ],
};
static THRESHOLD: Enum = Enum {
    name: "SafetySetting.HarmBlockThreshold",
    values: &[
        "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
        "BLOCK_LOW_AND_ABOVE",
        "BLOCK_MEDIUM_AND_ABOVE",
        "BLOCK_ONLY_HIGH",
        "BLOCK_NONE",
        "OFF",
    ],
};
static MODALITY: Enum =
    Enum { name: "GenerationConfig.Modality", values: &["MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO"] };
static MEDIA_RESOLUTION: Enum = Enum {
    name: "GenerationConfig.MediaResolution",
    values: &[
        "MEDIA_RESOLUTION_UNSPECIFIED",
        "MEDIA_RESOLUTION_LOW",
        "MEDIA_RESOLUTION_MEDIUM",
        "MEDIA_RESOLUTION_HIGH",
    ],
};
static THINKING_LEVEL: Enum = Enum {
    name: "ThinkingConfig.ThinkingLevel",
    values: &["THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH"],
};
static BEHAVIOR: Enum =
    Enum { name: "FunctionDeclaration.Behavior", values: &["UNSPECIFIED", "BLOCKING", "NON_BLOCKING"] };
static SCHEDULING: Enum = Enum {
    name: "FunctionResponse.Scheduling",
    values: &["SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"],
};
static LANGUAGE: Enum = Enum { name: "ExecutableCode.Language", values: &["LANGUAGE_UNSPECIFIED", "PYTHON"] };
static OUTCOME: Enum = Enum {
    name: "CodeExecutionResult.Outcome",
    values: &["OUTCOME_UNSPECIFIED", "OUTCOME_OK", "OUTCOME_FAILED", "OUTCOME_DEADLINE_EXCEEDED"],
};
static TASK_TYPE: Enum = Enum {
    name: "TaskType",
    values: &[
        "TASK_TYPE_UNSPECIFIED",
        "RETRIEVAL_QUERY",
        "RETRIEVAL_DOCUMENT",
        "SEMANTIC_SIMILARITY",
        "CLASSIFICATION",
        "CLUSTERING",
        "QUESTION_ANSWERING",
        "FACT_VERIFICATION",
        "CODE_RETRIEVAL_QUERY",
    ],
};

/// The data fields of a `Part`, exactly one of which must be set.
const PART_DATA: &[&str] =
    &["text", "inlineData", "functionCall", "functionResponse", "fileData", "executableCode", "codeExecutionResult"];

static GENERATE_REQUEST: Spec = Spec {
    name: "GenerateContentRequest",
    fields: &[
        ("model", One(Str)),
        ("contents", Msgs(&CONTENT)),
        ("systemInstruction", Msg(&CONTENT)),
        ("tools", Msgs(&TOOL)),
        ("toolConfig", Msg(&TOOL_CONFIG)),
        ("safetySettings", Msgs(&SAFETY_SETTING)),
        ("generationConfig", Msg(&GENERATION_CONFIG)),
        ("cachedContent", One(Str)),
    ],
    oneof: &[],
};
static COUNT_TOKENS_REQUEST: Spec = Spec {
    name: "CountTokensRequest",
    fields: &[("contents", Msgs(&CONTENT)), ("generateContentRequest", Msg(&GENERATE_REQUEST))],
    oneof: &[],
};
static EMBED_REQUEST: Spec = Spec {
    name: "EmbedContentRequest",
    fields: &[
        ("model", One(Str)),
        ("content", Msg(&CONTENT)),
        ("taskType", One(Scalar::Enum(&TASK_TYPE))),
        ("title", One(Str)),
        ("outputDimensionality", One(Int32)),
    ],
    oneof: &[],
};
static BATCH_EMBED_REQUEST: Spec =
    Spec { name: "BatchEmbedContentsRequest", fields: &[("requests", Msgs(&EMBED_REQUEST))], oneof: &[] };
static CONTENT: Spec = Spec { name: "Content", fields: &[("role", One(Str)), ("parts", Msgs(&PART))], oneof: &[] };
static PART: Spec = Spec {
    name: "Part",
    fields: &[
        ("text", One(Str)),
        ("inlineData", Msg(&BLOB)),
        ("functionCall", Msg(&FUNCTION_CALL)),
        ("functionResponse", Msg(&FUNCTION_RESPONSE)),
        ("fileData", Msg(&FILE_DATA)),
        ("executableCode", Msg(&EXECUTABLE_CODE)),
        ("codeExecutionResult", Msg(&CODE_EXECUTION_RESULT)),
        ("thought", One(Bool)),
        ("thoughtSignature", One(B64)),
        ("videoMetadata", Msg(&VIDEO_METADATA)),
        ("partMetadata", One(Struct)),
        ("mediaResolution", One(Any)),
    ],
    oneof: PART_DATA,
};
static BLOB: Spec =
    Spec { name: "Blob", fields: &[("mimeType", One(Str)), ("data", One(B64)), ("displayName", One(Str))], oneof: &[] };
static FILE_DATA: Spec =
    Spec { name: "FileData", fields: &[("mimeType", One(Str)), ("fileUri", One(Str))], oneof: &[] };
static FUNCTION_CALL: Spec =
    Spec { name: "FunctionCall", fields: &[("id", One(Str)), ("name", One(Str)), ("args", One(Struct))], oneof: &[] };
static FUNCTION_RESPONSE: Spec = Spec {
    name: "FunctionResponse",
    fields: &[
        ("id", One(Str)),
        ("name", One(Str)),
        ("response", One(Struct)),
        ("parts", Msgs(&FUNCTION_RESPONSE_PART)),
        ("willContinue", One(Bool)),
        ("scheduling", One(Scalar::Enum(&SCHEDULING))),
    ],
    oneof: &[],
};
static FUNCTION_RESPONSE_PART: Spec =
    Spec { name: "FunctionResponsePart", fields: &[("inlineData", Msg(&BLOB))], oneof: &[] };
static EXECUTABLE_CODE: Spec = Spec {
    name: "ExecutableCode",
    fields: &[("language", One(Scalar::Enum(&LANGUAGE))), ("code", One(Str))],
    oneof: &[],
};
static CODE_EXECUTION_RESULT: Spec = Spec {
    name: "CodeExecutionResult",
    fields: &[("outcome", One(Scalar::Enum(&OUTCOME))), ("output", One(Str))],
    oneof: &[],
};
static VIDEO_METADATA: Spec = Spec {
    name: "VideoMetadata",
    fields: &[("startOffset", One(Str)), ("endOffset", One(Str)), ("fps", One(Double))],
    oneof: &[],
};
static TOOL: Spec = Spec {
    name: "Tool",
    fields: &[
        ("functionDeclarations", Msgs(&FUNCTION_DECLARATION)),
        ("googleSearchRetrieval", One(Any)),
        ("codeExecution", One(Any)),
        ("googleSearch", One(Any)),
        ("urlContext", One(Any)),
        ("computerUse", One(Any)),
        ("fileSearch", One(Any)),
        ("googleMaps", One(Any)),
    ],
    oneof: &[],
};
static FUNCTION_DECLARATION: Spec = Spec {
    name: "FunctionDeclaration",
    fields: &[
        ("name", One(Str)),
        ("description", One(Str)),
        ("parameters", Msg(&SCHEMA)),
        ("parametersJsonSchema", One(Any)),
        ("response", Msg(&SCHEMA)),
        ("responseJsonSchema", One(Any)),
        ("behavior", One(Scalar::Enum(&BEHAVIOR))),
    ],
    oneof: &[],
};
/// Gemini's OpenAPI-subset `Schema`: no `$schema`, `additionalProperties`, `$ref`, `const`,
/// `propertyNames`, `oneOf`, `allOf`, …
static SCHEMA: Spec = Spec {
    name: "Schema",
    fields: &[
        ("type", One(Scalar::Enum(&TYPE))),
        ("format", One(Str)),
        ("title", One(Str)),
        ("description", One(Str)),
        ("nullable", One(Bool)),
        ("enum", Many(Str)),
        ("maxItems", One(Int64)),
        ("minItems", One(Int64)),
        ("items", Msg(&SCHEMA)),
        ("properties", MsgMap(&SCHEMA)),
        ("required", Many(Str)),
        ("propertyOrdering", Many(Str)),
        ("minProperties", One(Int64)),
        ("maxProperties", One(Int64)),
        ("minLength", One(Int64)),
        ("maxLength", One(Int64)),
        ("pattern", One(Str)),
        ("example", One(Any)),
        ("anyOf", Msgs(&SCHEMA)),
        ("default", One(Any)),
        ("minimum", One(Double)),
        ("maximum", One(Double)),
    ],
    oneof: &[],
};
static TOOL_CONFIG: Spec = Spec {
    name: "ToolConfig",
    fields: &[("functionCallingConfig", Msg(&FUNCTION_CALLING_CONFIG)), ("retrievalConfig", One(Any))],
    oneof: &[],
};
static FUNCTION_CALLING_CONFIG: Spec = Spec {
    name: "FunctionCallingConfig",
    fields: &[("mode", One(Scalar::Enum(&MODE))), ("allowedFunctionNames", Many(Str))],
    oneof: &[],
};
static SAFETY_SETTING: Spec = Spec {
    name: "SafetySetting",
    fields: &[("category", One(Scalar::Enum(&HARM_CATEGORY))), ("threshold", One(Scalar::Enum(&THRESHOLD)))],
    oneof: &[],
};
static GENERATION_CONFIG: Spec = Spec {
    name: "GenerationConfig",
    fields: &[
        ("stopSequences", Many(Str)),
        ("responseMimeType", One(Str)),
        ("responseSchema", Msg(&SCHEMA)),
        ("responseJsonSchema", One(Any)),
        ("responseModalities", Many(Scalar::Enum(&MODALITY))),
        ("candidateCount", One(Int32)),
        ("maxOutputTokens", One(Int32)),
        ("temperature", One(Float)),
        ("topP", One(Float)),
        ("topK", One(Int32)),
        ("seed", One(Int32)),
        ("presencePenalty", One(Float)),
        ("frequencyPenalty", One(Float)),
        ("responseLogprobs", One(Bool)),
        ("logprobs", One(Int32)),
        ("enableEnhancedCivicAnswers", One(Bool)),
        ("speechConfig", One(Any)),
        ("thinkingConfig", Msg(&THINKING_CONFIG)),
        ("imageConfig", One(Any)),
        ("mediaResolution", One(Scalar::Enum(&MEDIA_RESOLUTION))),
    ],
    oneof: &[],
};
static THINKING_CONFIG: Spec = Spec {
    name: "ThinkingConfig",
    fields: &[
        ("includeThoughts", One(Bool)),
        ("thinkingBudget", One(Int32)),
        ("thinkingLevel", One(Scalar::Enum(&THINKING_LEVEL))),
    ],
    oneof: &[],
};

/// `fooBar` → `foo_bar`.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

/// A field by its lowerCamelCase name, also found by its snake_case name; `null` is unset.
fn get<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| object.get(&snake(name))).filter(|v| !v.is_null())
}

fn get_in<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value.as_object().and_then(|object| get(object, name))
}

fn list_in(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn base64_ok(text: &str) -> bool {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let trimmed = text.trim_end_matches('=');
    STANDARD_NO_PAD.decode(trimmed).is_ok() || URL_SAFE_NO_PAD.decode(trimmed).is_ok()
}

/// Whether a part field counts as set (an empty `text` does not).
fn is_set(value: &Value) -> bool {
    !value.is_null() && value.as_str() != Some("")
}

/// Parse-time violations: (field path, description).
#[derive(Debug, Default)]
struct Walk {
    violations: Vec<(String, String)>,
}

impl Walk {
    fn fail(&mut self, field: &str, description: String) {
        self.violations.push((field.to_owned(), description));
    }

    fn at(path: &str) -> String {
        if path.is_empty() { String::new() } else { format!(" at '{path}'") }
    }

    fn unknown(&mut self, name: &str, path: &str) {
        self.fail(
            path,
            format!("Invalid JSON payload received. Unknown name \"{name}\"{}: Cannot find field.", Self::at(path)),
        );
    }

    fn not_repeating(&mut self, name: &str, path: &str) {
        self.fail(
            path,
            format!(
                "Invalid JSON payload received. Unknown name \"{name}\"{}: Proto field is not repeating, cannot start list.",
                Self::at(path)
            ),
        );
    }

    fn invalid(&mut self, path: &str, type_name: &str, value: &Value) {
        self.fail(path, format!("Invalid value at '{path}' ({type_name}), {value}"));
    }

    fn scalar(&mut self, value: &Value, path: &str, kind: Scalar) {
        let number = |v: &Value| v.is_number() || v.as_str().is_some_and(|s| s.trim().parse::<f64>().is_ok());
        let integer = |v: &Value| {
            v.is_i64()
                || v.is_u64()
                || v.as_f64().is_some_and(|f| f.fract() == 0.0)
                || v.as_str().is_some_and(|s| s.trim().parse::<i64>().is_ok())
        };
        let (ok, type_name) = match kind {
            Any => (true, String::new()),
            Str => (value.is_string(), "TYPE_STRING".to_owned()),
            Bool => (value.is_boolean(), "TYPE_BOOL".to_owned()),
            Int32 => (integer(value), "TYPE_INT32".to_owned()),
            Int64 => (integer(value), "TYPE_INT64".to_owned()),
            Float => (number(value), "TYPE_FLOAT".to_owned()),
            Double => (number(value), "TYPE_DOUBLE".to_owned()),
            Struct => (value.is_object(), "type.googleapis.com/google.protobuf.Struct".to_owned()),
            B64 => match value.as_str() {
                Some(text) if base64_ok(text) => (true, String::new()),
                Some(text) => {
                    self.fail(
                        path,
                        format!("Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed for \"{text}\""),
                    );
                    return;
                }
                None => (false, "TYPE_BYTES".to_owned()),
            },
            Scalar::Enum(e) => {
                let ok = match value {
                    Value::String(s) => e.values.iter().any(|v| v.eq_ignore_ascii_case(s)),
                    Value::Number(n) => n.as_u64().is_some_and(|i| (i as usize) < e.values.len()),
                    _ => false,
                };
                (ok, format!("{V1BETA}.{}", e.name))
            }
        };
        if !ok && !value.is_null() {
            self.invalid(path, &type_name, value);
        }
    }

    fn field(&mut self, key: &str, value: &Value, parent: &str, kind: Kind) {
        let path = join(parent, &snake(key));
        match kind {
            One(_) | Msg(_) if value.is_array() => self.not_repeating(key, parent),
            One(scalar) => self.scalar(value, &path, scalar),
            Msg(spec) => self.message(value, &path, spec),
            Many(scalar) => match value {
                Value::Null => {}
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.scalar(item, &format!("{path}[{i}]"), scalar);
                    }
                }
                other => self.scalar(other, &path, scalar),
            },
            Msgs(spec) => match value {
                Value::Null => {}
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.message(item, &format!("{path}[{i}]"), spec);
                    }
                }
                other => self.invalid(&path, &format!("{V1BETA}.{}", spec.name), other),
            },
            MsgMap(spec) => match value {
                Value::Null => {}
                Value::Object(entries) => {
                    for (i, entry) in entries.values().enumerate() {
                        self.message(entry, &format!("{path}[{i}].value"), spec);
                    }
                }
                other => self.invalid(&path, &format!("{V1BETA}.{}", spec.name), other),
            },
        }
    }

    fn message(&mut self, value: &Value, path: &str, spec: &'static Spec) {
        let object = match value {
            Value::Null => return,
            Value::Object(object) => object,
            other => return self.invalid(path, &format!("{V1BETA}.{}", spec.name), other),
        };
        let mut oneof_set: Option<&str> = None;
        for (key, value) in object {
            let Some((name, kind)) = spec.fields.iter().find(|(name, _)| key == name || *key == snake(name)) else {
                self.unknown(key, path);
                continue;
            };
            if spec.oneof.contains(name) && is_set(value) {
                match oneof_set {
                    Some(first) => self.fail(
                        path,
                        format!(
                            "Invalid JSON payload received. Oneof field 'data' is already set{}. Cannot set '{}' \
                             (already set: '{}').",
                            Self::at(path),
                            snake(name),
                            snake(first)
                        ),
                    ),
                    None => oneof_set = Some(name),
                }
            }
            self.field(key, value, path, *kind);
        }
    }
}

/// Parses `request` as `spec`; the 400 listing every violation.
fn parse_as(request: &Map<String, Value>, spec: &'static Spec) -> Result<(), ApiError> {
    let mut walk = Walk::default();
    walk.message(&Value::Object(request.clone()), "", spec);
    if walk.violations.is_empty() {
        return Ok(());
    }
    let message = walk.violations.iter().map(|(_, d)| d.as_str()).collect::<Vec<_>>().join("\n");
    let violations: Vec<Value> = walk
        .violations
        .iter()
        .map(|(field, description)| {
            if field.is_empty() {
                json!({ "description": description })
            } else {
                json!({ "field": field, "description": description })
            }
        })
        .collect();
    Err(ApiError::invalid(message).with_details(vec![
        json!({ "@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations }),
    ]))
}

// ---------------------------------------------------------------------------------------------
// Validation

fn role(content: &Value) -> &str {
    match get_in(content, "role").and_then(Value::as_str) {
        None | Some("") => "user",
        Some(role) => role,
    }
}

fn parts(content: &Value) -> &[Value] {
    list_in(get_in(content, "parts"))
}

fn parts_with<'a>(content: &'a Value, field: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    parts(content).iter().filter_map(move |part| get_in(part, field))
}

/// Thinking models: Gemini 2.5 and 3.
fn thinking_model(model: &str) -> bool {
    model.contains("gemini-2.5") || model.contains("gemini-3")
}

fn valid_function_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

fn check_content(content: &Value, path: &str, lines: &mut Vec<String>) {
    let parts = parts(content);
    if parts.is_empty() {
        lines.push(format!("{path}.parts: contents.parts must not be empty."));
    }
    for (j, part) in parts.iter().enumerate() {
        let path = format!("{path}.parts[{j}]");
        if !PART_DATA.iter().any(|field| get_in(part, field).is_some_and(is_set)) {
            lines.push(format!("{path}.data: required oneof field 'data' must have one initialized field"));
        }
        for (field, name) in [("functionCall", "function_call"), ("functionResponse", "function_response")] {
            if let Some(inner) = get_in(part, field) {
                if get_in(inner, "name").and_then(Value::as_str).unwrap_or_default().is_empty() {
                    lines.push(format!("{path}.{name}.name: Name cannot be empty."));
                }
            }
        }
    }
}

fn check_contents(contents: &[Value], path: &str, lines: &mut Vec<String>) {
    if contents.is_empty() {
        lines.push(format!("{path}: contents is not specified"));
    }
    for (i, content) in contents.iter().enumerate() {
        check_content(content, &format!("{path}[{i}]"), lines);
    }
}

fn check_schema(schema: &Value, path: &str, lines: &mut Vec<String>) {
    let kind = get_in(schema, "type").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase();
    if let Some(properties) = get_in(schema, "properties").and_then(Value::as_object) {
        if !properties.is_empty() && kind != "OBJECT" {
            lines.push(format!("{path}.properties: only allowed for OBJECT type"));
        }
        for (name, property) in properties {
            check_schema(property, &format!("{path}.properties[{name}]"), lines);
        }
    }
    if let Some(items) = get_in(schema, "items") {
        check_schema(items, &format!("{path}.items"), lines);
    }
    for (i, option) in list_in(get_in(schema, "anyOf")).iter().enumerate() {
        check_schema(option, &format!("{path}.any_of[{i}]"), lines);
    }
}

fn check_tools(request: &Map<String, Value>, prefix: &str, lines: &mut Vec<String>) {
    let mut names = HashSet::new();
    for (i, tool) in list_in(get(request, "tools")).iter().enumerate() {
        for (j, declaration) in list_in(get_in(tool, "functionDeclarations")).iter().enumerate() {
            let path = format!("{prefix}.tools[{i}].function_declarations[{j}]");
            let name = get_in(declaration, "name").and_then(Value::as_str).unwrap_or_default();
            if !valid_function_name(name) {
                lines.push(format!(
                    "{path}.name: Invalid function name. Must start with a letter or an underscore. Must be alphameric \
                     (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or dashes (-), with a maximum length of 128."
                ));
            } else if !names.insert(name) {
                lines.push(format!("{path}.name: Duplicate function declaration name: {name}"));
            }
            for (schema, json_schema) in
                [("parameters", "parameters_json_schema"), ("response", "response_json_schema")]
            {
                let camel = if schema == "parameters" { "parametersJsonSchema" } else { "responseJsonSchema" };
                if get_in(declaration, schema).is_some() && get_in(declaration, camel).is_some() {
                    lines.push(format!("{path}: {schema} and {json_schema} cannot both be set"));
                }
            }
            if let Some(parameters) = get_in(declaration, "parameters") {
                check_schema(parameters, &format!("{path}.parameters"), lines);
            }
        }
    }
    let config = get(request, "toolConfig").and_then(|c| get_in(c, "functionCallingConfig"));
    let allowed = list_in(config.and_then(|c| get_in(c, "allowedFunctionNames")));
    let mode = config.and_then(|c| get_in(c, "mode")).and_then(Value::as_str).unwrap_or("AUTO").to_ascii_uppercase();
    if !allowed.is_empty() && mode != "ANY" && mode != "VALIDATED" {
        lines.push(format!(
            "{prefix}.tool_config.function_calling_config.allowed_function_names: allowed_function_names may only \
             be set when mode is ANY or VALIDATED"
        ));
    }
}

const RESPONSE_MIME_TYPES: &[&str] =
    &["text/plain", "application/json", "application/xml", "application/yaml", "text/x.enum"];

fn check_generation_config(config: &Value, prefix: &str, lines: &mut Vec<String>) {
    let path = format!("{prefix}.generation_config");
    let mime = get_in(config, "responseMimeType").and_then(Value::as_str);
    if mime.is_some_and(|m| !RESPONSE_MIME_TYPES.contains(&m)) {
        lines.push(format!(
            "{path}.response_mime_type: allowed mimetypes are `text/plain`, `application/json`, `application/xml`, \
             `application/yaml` and `text/x.enum`."
        ));
    }
    if let Some(schema) = get_in(config, "responseSchema") {
        if !matches!(mime, Some("application/json" | "text/x.enum")) {
            lines.push(format!(
                "{path}.response_schema: response_mime_type must be one of [application/json, text/x.enum] when \
                 response_schema is set"
            ));
        }
        if get_in(config, "responseJsonSchema").is_some() {
            lines.push(format!("{path}: response_schema and response_json_schema cannot both be set"));
        }
        check_schema(schema, &format!("{path}.response_schema"), lines);
    }
}

/// Structural validation of a `GenerateContentRequest` (after parsing), as `* …` lines.
fn check_generate_lines(request: &Map<String, Value>, prefix: &str, lines: &mut Vec<String>) {
    check_contents(list_in(get(request, "contents")), &format!("{prefix}.contents"), lines);
    if let Some(system) = get(request, "systemInstruction") {
        check_content(system, &format!("{prefix}.system_instruction"), lines);
    }
    check_tools(request, prefix, lines);
    if let Some(config) = get(request, "generationConfig") {
        check_generation_config(config, prefix, lines);
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    let value = value?;
    value.as_f64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

fn check_sampling(request: &Map<String, Value>, model: &str) -> Result<(), String> {
    let Some(config) = get(request, "generationConfig") else { return Ok(()) };
    let out_of_range = |name: &str, value: f64, max: f64| {
        format!(
            "Unable to submit request because it has a {name} value of {value} but the supported range is from 0 \
             (inclusive) to {max} (exclusive). Update the value and try again."
        )
    };
    if let Some(t) = number(get_in(config, "temperature")).filter(|t| !(0.0..=2.0).contains(t)) {
        return Err(out_of_range("temperature", t, 2.0001));
    }
    if let Some(p) = number(get_in(config, "topP")).filter(|p| !(0.0..=1.0).contains(p)) {
        return Err(out_of_range("top_p", p, 1.0001));
    }
    let budget = get_in(config, "thinkingConfig").and_then(|t| number(get_in(t, "thinkingBudget")));
    if budget == Some(0.0) && model.contains("2.5-pro") {
        return Err("Budget 0 is invalid. This model only works in thinking mode.".into());
    }
    Ok(())
}

const FUNCTION_CALL_ORDER: &str =
    "Please ensure that function call turn comes immediately after a user turn or after a function response turn.";
const FUNCTION_RESPONSE_ORDER: &str =
    "Please ensure that function response turn comes immediately after a function call turn.";
const FUNCTION_RESPONSE_COUNT: &str = "Please ensure that the number of function response parts is equal to the number \
                                       of function call parts of the function call turn.";

fn names<'a>(items: impl Iterator<Item = &'a Value>) -> Vec<String> {
    let mut names: Vec<String> =
        items.map(|item| get_in(item, "name").and_then(Value::as_str).unwrap_or_default().to_owned()).collect();
    names.sort_unstable();
    names
}

/// Roles, function call / response pairing and thought signatures.
fn check_turns(contents: &[Value], model: &str) -> Result<(), String> {
    if contents.iter().any(|c| !matches!(role(c), "user" | "model")) {
        return Err("Please use a valid role: user, model.".into());
    }
    for (i, content) in contents.iter().enumerate() {
        let previous = i.checked_sub(1).map(|p| &contents[p]);
        let calls = parts_with(content, "functionCall").count();
        let responses = parts_with(content, "functionResponse").count();
        if role(content) == "model" && calls > 0 {
            if previous.is_none_or(|p| role(p) != "user") {
                return Err(FUNCTION_CALL_ORDER.into());
            }
            if let Some(next) = contents.get(i + 1) {
                let answered = parts_with(next, "functionResponse").count();
                if role(next) != "user" || answered != calls {
                    return Err(FUNCTION_RESPONSE_COUNT.into());
                }
                let called = names(parts_with(content, "functionCall"));
                let answered = names(parts_with(next, "functionResponse"));
                if called != answered {
                    return Err(format!(
                        "Please ensure that the function response parts answer the function call parts of the \
                         function call turn: called [{}], answered [{}].",
                        called.join(", "),
                        answered.join(", ")
                    ));
                }
            }
        }
        if role(content) == "user"
            && responses > 0
            && previous.is_none_or(|p| role(p) != "model" || parts_with(p, "functionCall").next().is_none())
        {
            return Err(FUNCTION_RESPONSE_ORDER.into());
        }
    }
    if thinking_model(model) {
        check_signatures(contents)?;
    }
    Ok(())
}

fn signature(part: &Value) -> Option<&str> {
    get_in(part, "thoughtSignature").and_then(Value::as_str)
}

/// In the current turn, every model step's first function call carries a signature the mock
/// issued (or a documented bypass value).
fn check_signatures(contents: &[Value]) -> Result<(), String> {
    let start = contents
        .iter()
        .rposition(|c| role(c) == "user" && parts(c).iter().any(|p| get_in(p, "functionResponse").is_none()))
        .map_or(0, |i| i + 1);
    for (i, content) in contents.iter().enumerate().skip(start) {
        if role(content) != "model" {
            continue;
        }
        for part in parts(content) {
            if let Some(signature) = signature(part) {
                if signature != THOUGHT_SIGNATURE && !BYPASS_SIGNATURES.contains(&signature) {
                    return Err("Corrupted thought signature.".into());
                }
            }
        }
        let first_call = parts(content).iter().find(|p| get_in(p, "functionCall").is_some());
        if let Some(part) = first_call.filter(|p| signature(p).is_none_or(str::is_empty)) {
            let name = get_in(part, "functionCall").and_then(|c| get_in(c, "name")).and_then(Value::as_str);
            return Err(format!(
                "Function call is missing a thought_signature in functionCall parts. This is required for tools to \
                 work correctly, and missing thought_signature may lead to degraded model performance. Additional \
                 data, function call `default_api:{}` , position {}. Please refer to \
                 https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                name.unwrap_or_default(),
                i + 1
            ));
        }
    }
    Ok(())
}

fn validate_generate(request: &Map<String, Value>, model: &str) -> Result<(), ApiError> {
    parse_as(request, &GENERATE_REQUEST)?;
    let mut lines = Vec::new();
    check_generate_lines(request, "GenerateContentRequest", &mut lines);
    if !lines.is_empty() {
        return Err(validation_error(&lines));
    }
    check_turns(list_in(get(request, "contents")), model).map_err(ApiError::invalid)?;
    check_sampling(request, model).map_err(ApiError::invalid)
}

// ---------------------------------------------------------------------------------------------
// Answers

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn split_words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// The non-thought text parts of a content, joined with a space.
fn text_of(content: &Value) -> String {
    parts(content)
        .iter()
        .filter(|p| get_in(p, "thought").and_then(Value::as_bool) != Some(true))
        .filter_map(|p| get_in(p, "text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words of every content's text + 3 per content, + words of the system instruction.
fn prompt_tokens(request: &Map<String, Value>) -> u64 {
    let system = get(request, "systemInstruction").map(text_of).unwrap_or_default();
    words(&system) + list_in(get(request, "contents")).iter().map(|c| words(&text_of(c)) + 3).sum::<u64>()
}

#[derive(Debug, Clone, Copy)]
struct Usage {
    prompt: u64,
    candidates: u64,
    thoughts: u64,
}

impl Usage {
    fn json(self) -> Value {
        let mut usage = json!({
            "promptTokenCount": self.prompt,
            "totalTokenCount": self.prompt + self.candidates + self.thoughts,
            "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": self.prompt }],
        });
        if self.candidates > 0 {
            usage["candidatesTokenCount"] = json!(self.candidates);
        }
        if self.thoughts > 0 {
            usage["thoughtsTokenCount"] = json!(self.thoughts);
        }
        usage
    }
}

/// What the mock answers to a valid generate request.
#[derive(Debug)]
struct Reply {
    blocked: bool,
    show_thought: bool,
    /// A function call: name and args.
    call: Option<(String, Value)>,
    /// Whether the function call part carries `THOUGHT_SIGNATURE`.
    signed: bool,
    words: Vec<String>,
    finish: &'static str,
    usage: Usage,
}

fn reply(request: &Map<String, Value>, model: &str, extra_words: usize) -> Reply {
    let contents = list_in(get(request, "contents"));
    let last_user = contents.iter().rev().find(|c| role(c) == "user");
    let said = last_user.map(text_of).unwrap_or_default();
    let answered = last_user.is_some_and(|c| parts_with(c, "functionResponse").next().is_some());
    let config = get(request, "generationConfig");
    let thinking_config = config.and_then(|c| get_in(c, "thinkingConfig"));
    let include_thoughts = thinking_config.and_then(|t| get_in(t, "includeThoughts")) == Some(&Value::Bool(true));
    let budget = thinking_config.and_then(|t| number(get_in(t, "thinkingBudget")));
    let thinks = budget != Some(0.0)
        && (include_thoughts || (thinking_model(model) && !(model.contains("flash-lite") && budget.is_none())));
    let mut usage = Usage { prompt: prompt_tokens(request), candidates: 0, thoughts: 0 };

    if said.contains(BLOCK_TRIGGER) {
        return Reply {
            blocked: true,
            show_thought: false,
            call: None,
            signed: false,
            words: Vec::new(),
            finish: "STOP",
            usage,
        };
    }
    if thinks {
        usage.thoughts = THOUGHTS_TOKENS;
    }

    let declarations: Vec<&str> = list_in(get(request, "tools"))
        .iter()
        .flat_map(|tool| list_in(get_in(tool, "functionDeclarations")))
        .filter_map(|d| get_in(d, "name").and_then(Value::as_str))
        .collect();
    let calling = get(request, "toolConfig").and_then(|c| get_in(c, "functionCallingConfig"));
    let mode = calling.and_then(|c| get_in(c, "mode")).and_then(Value::as_str).unwrap_or("AUTO");
    let allowed = list_in(calling.and_then(|c| get_in(c, "allowedFunctionNames")));
    if !declarations.is_empty() && !mode.eq_ignore_ascii_case("NONE") && !answered {
        let name = match allowed {
            [only] => only.as_str().unwrap_or_default(),
            _ => declarations[0],
        };
        usage.candidates = FUNCTION_CALL_TOKENS;
        return Reply {
            blocked: false,
            show_thought: thinks && include_thoughts,
            call: Some((name.to_owned(), json!({ "input": said }))),
            signed: thinking_model(model),
            words: Vec::new(),
            finish: "STOP",
            usage,
        };
    }

    let mut words = split_words(&format!("{ANSWER_PREFIX} {said}"));
    words.extend((0..extra_words).map(|i| format!("word{i}")));
    if config.and_then(|c| get_in(c, "responseMimeType")).and_then(Value::as_str) == Some("application/json") {
        let text = Value::String(words.join(" "));
        words = split_words(&format!("{{\"answer\": {text}}}"));
    }
    let stops: Vec<&str> = list_in(config.and_then(|c| get_in(c, "stopSequences")))
        .iter()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    let limit = config
        .and_then(|c| number(get_in(c, "maxOutputTokens")))
        .filter(|&l| l > 0.0)
        .map_or(usize::MAX, |l| l as usize);
    let mut finish = "STOP";
    match words.iter().position(|w| stops.iter().any(|s| w.contains(s))) {
        Some(at) if at < limit => words.truncate(at),
        _ if limit < words.len() => {
            words.truncate(limit);
            finish = "MAX_TOKENS";
        }
        _ => {}
    }
    usage.candidates = words.len() as u64;
    Reply { blocked: false, show_thought: thinks && include_thoughts, call: None, signed: false, words, finish, usage }
}

fn thought_part() -> Value {
    json!({ "text": THOUGHT_TEXT, "thought": true })
}

impl Reply {
    fn call_part(&self) -> Option<Value> {
        let (name, args) = self.call.as_ref()?;
        let mut part = json!({ "functionCall": { "name": name, "args": args } });
        if self.signed {
            part["thoughtSignature"] = json!(THOUGHT_SIGNATURE);
        }
        Some(part)
    }

    fn blocked_json(&self, model: &str, id: &str, usage: bool) -> Value {
        let rating = |category: &str, probability: &str| json!({ "category": category, "probability": probability });
        let mut body = json!({
            "promptFeedback": {
                "blockReason": "SAFETY",
                "safetyRatings": [
                    rating("HARM_CATEGORY_SEXUALLY_EXPLICIT", "NEGLIGIBLE"),
                    rating("HARM_CATEGORY_HATE_SPEECH", "NEGLIGIBLE"),
                    rating("HARM_CATEGORY_HARASSMENT", "NEGLIGIBLE"),
                    { "category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true },
                ]
            },
            "modelVersion": model,
            "responseId": id,
        });
        if usage {
            body["usageMetadata"] = self.usage.json();
        }
        body
    }

    /// One `GenerateContentResponse` with one candidate.
    fn response_json(
        &self,
        parts: Vec<Value>,
        finish: Option<&str>,
        usage: Option<Usage>,
        model: &str,
        id: &str,
    ) -> Value {
        let mut content = json!({ "role": "model" });
        if !parts.is_empty() {
            content["parts"] = Value::Array(parts);
        }
        let mut candidate = json!({ "content": content, "index": 0 });
        if let Some(finish) = finish {
            candidate["finishReason"] = json!(finish);
        }
        let mut body = json!({ "candidates": [candidate], "modelVersion": model, "responseId": id });
        if let Some(usage) = usage {
            body["usageMetadata"] = usage.json();
        }
        body
    }

    fn unary_json(&self, model: &str, id: &str, usage: bool) -> Value {
        if self.blocked {
            return self.blocked_json(model, id, usage);
        }
        let mut parts = Vec::new();
        if self.show_thought {
            parts.push(thought_part());
        }
        match self.call_part() {
            Some(part) => parts.push(part),
            None if !self.words.is_empty() => parts.push(json!({ "text": self.words.join(" ") })),
            None => {}
        }
        self.response_json(parts, Some(self.finish), usage.then_some(self.usage), model, id)
    }

    /// The chunks of a streamed answer, usage cumulative on each.
    fn chunks(&self, model: &str, id: &str, usage: bool) -> Vec<Value> {
        if self.blocked {
            return vec![self.blocked_json(model, id, usage)];
        }
        let at = |candidates: u64| usage.then_some(Usage { candidates, ..self.usage });
        let mut chunks = Vec::new();
        if self.show_thought {
            chunks.push(self.response_json(vec![thought_part()], None, at(0), model, id));
        }
        if let Some(part) = self.call_part() {
            chunks.push(self.response_json(vec![part], Some(self.finish), at(self.usage.candidates), model, id));
        } else if self.words.is_empty() {
            chunks.push(self.response_json(Vec::new(), Some(self.finish), at(0), model, id));
        } else {
            let last = self.words.len() - 1;
            for (i, word) in self.words.iter().enumerate() {
                let text = if i == 0 { word.clone() } else { format!(" {word}") };
                let finish = (i == last).then_some(self.finish);
                chunks.push(self.response_json(vec![json!({ "text": text })], finish, at(i as u64 + 1), model, id));
            }
        }
        chunks
    }
}

async fn generate(
    state: &Arc<MockState>,
    model: &str,
    request: &Map<String, Value>,
    body: &[u8],
    stream: Option<bool>,
) -> Result<Response, ApiError> {
    validate_generate(request, model)?;
    fault(model).await?;
    let reply = reply(request, model, state.options.extra_words);
    let id = format!("mock{}", digest_hex(&[b"gemini", model.as_bytes(), body]));
    let usage = !model.contains("fault-no-usage");
    match stream {
        None if model.contains("fault-malformed") => Ok(malformed()),
        None => Ok(axum::Json(reply.unary_json(model, &id, usage)).into_response()),
        Some(sse) => Ok(stream_response(state.clone(), reply.chunks(model, &id, usage), sse, model)),
    }
}

fn stream_response(state: Arc<MockState>, chunks: Vec<Value>, sse: bool, model: &str) -> Response {
    let mut frames: Vec<String> = Vec::new();
    let mut closed = true;
    let strip = |chunks: &mut Vec<Value>| {
        chunks.truncate(2);
        for chunk in chunks.iter_mut() {
            if let Some(candidate) = chunk["candidates"].get_mut(0).and_then(Value::as_object_mut) {
                candidate.remove("finishReason");
            }
        }
    };
    let mut chunks = chunks;
    if model.contains("fault-cut") {
        strip(&mut chunks);
        closed = false;
    } else if model.contains("fault-midstream-error") {
        strip(&mut chunks);
        chunks.push(ApiError::new(503, "UNAVAILABLE", "The model is overloaded. Please try again later.").body());
    } else if model.contains("fault-malformed") {
        chunks.truncate(1);
        closed = false;
    }
    frames.extend(chunks.iter().map(Value::to_string));
    if model.contains("fault-malformed") {
        frames.push("{not json".to_owned());
    }
    let last = frames.len().saturating_sub(1);
    let events: Vec<String> = if sse {
        frames.into_iter().map(|frame| format!("data: {frame}\r\n\r\n")).collect()
    } else {
        frames
            .into_iter()
            .enumerate()
            .map(|(i, frame)| {
                let open = if i == 0 { "[" } else { "\r\n,\r\n" };
                let close = if i == last && closed { "]" } else { "" };
                format!("{open}{frame}{close}")
            })
            .collect()
    };
    let headers: Vec<(HeaderName, HeaderValue)> = if sse {
        Vec::new()
    } else {
        vec![(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=UTF-8"))]
    };
    sse_response(state, events, &headers)
}

// ---------------------------------------------------------------------------------------------
// countTokens

async fn count_tokens(model: &str, request: &Map<String, Value>) -> Result<Response, ApiError> {
    parse_as(request, &COUNT_TOKENS_REQUEST)?;
    let mut lines = Vec::new();
    let counted = match (get(request, "contents"), get(request, "generateContentRequest")) {
        (Some(_), Some(_)) => {
            lines.push("CountTokensRequest: contents and generate_content_request cannot both be set".to_owned());
            request.clone()
        }
        (_, Some(Value::Object(inner))) => {
            if !get(inner, "model").and_then(Value::as_str).is_some_and(|m| m.starts_with("models/") && m.len() > 7) {
                lines.push("GenerateContentRequest.model: unexpected model name format".to_owned());
            }
            check_generate_lines(inner, "GenerateContentRequest", &mut lines);
            inner.clone()
        }
        _ => {
            check_contents(list_in(get(request, "contents")), "CountTokensRequest.contents", &mut lines);
            request.clone()
        }
    };
    if !lines.is_empty() {
        return Err(validation_error(&lines));
    }
    if list_in(get(&counted, "contents")).iter().any(|c| !matches!(role(c), "user" | "model")) {
        return Err(ApiError::invalid("Please use a valid role: user, model."));
    }
    fault(model).await?;
    if model.contains("fault-malformed") {
        return Ok(malformed());
    }
    let total = prompt_tokens(&counted);
    Ok(axum::Json(
        json!({ "totalTokens": total, "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": total }] }),
    )
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// Embeddings

/// Validates one embed request at `prefix` and returns its text and dimensions.
fn embed_input(request: &Value, prefix: &str, lines: &mut Vec<String>) -> (String, usize) {
    match get_in(request, "content") {
        None => lines.push(format!("{prefix}.content: content is not specified")),
        Some(content) => check_content(content, &format!("{prefix}.content"), lines),
    }
    let dimensions = match number(get_in(request, "outputDimensionality")) {
        None | Some(0.0) => EMBEDDING_DIMENSIONS,
        Some(d) if (1.0..=3072.0).contains(&d) => d as usize,
        Some(_) => {
            lines.push(format!("{prefix}.output_dimensionality: must be between 1 and 3072"));
            EMBEDDING_DIMENSIONS
        }
    };
    (get_in(request, "content").map(text_of).unwrap_or_default(), dimensions)
}

fn values(text: &str, dimensions: usize) -> Value {
    json!({ "values": embedding(text, dimensions) })
}

async fn embed(model: &str, request: &Map<String, Value>) -> Result<Response, ApiError> {
    parse_as(request, &EMBED_REQUEST)?;
    let mut lines = Vec::new();
    let (text, dimensions) = embed_input(&Value::Object(request.clone()), "EmbedContentRequest", &mut lines);
    if !lines.is_empty() {
        return Err(validation_error(&lines));
    }
    fault(model).await?;
    if model.contains("fault-malformed") {
        return Ok(malformed());
    }
    Ok(axum::Json(json!({ "embedding": values(&text, dimensions) })).into_response())
}

async fn batch_embed(model: &str, request: &Map<String, Value>) -> Result<Response, ApiError> {
    parse_as(request, &BATCH_EMBED_REQUEST)?;
    let requests = list_in(get(request, "requests"));
    let mut lines = Vec::new();
    if requests.is_empty() {
        lines.push("BatchEmbedContentsRequest.requests: requests is not specified".to_owned());
    }
    if requests.len() > MAX_BATCH {
        lines.push(format!("BatchEmbedContentsRequest.requests: at most {MAX_BATCH} requests can be in one batch"));
    }
    let expected = format!("models/{model}");
    let mut inputs = Vec::with_capacity(requests.len());
    for (i, item) in requests.iter().enumerate() {
        let prefix = format!("BatchEmbedContentsRequest.requests[{i}]");
        match get_in(item, "model").and_then(Value::as_str) {
            Some(m) if m == expected => {}
            Some(m) if m.starts_with("models/") && m.len() > 7 => lines.push(format!(
                "{prefix}.model: the model in each request must be the batch's model `{expected}`, got `{m}`"
            )),
            _ => lines.push(format!("{prefix}.model: unexpected model name format")),
        }
        inputs.push(embed_input(item, &prefix, &mut lines));
    }
    if !lines.is_empty() {
        return Err(validation_error(&lines));
    }
    fault(model).await?;
    if model.contains("fault-malformed") {
        return Ok(malformed());
    }
    let embeddings: Vec<Value> = inputs.iter().map(|(text, dimensions)| values(text, *dimensions)).collect();
    Ok(axum::Json(json!({ "embeddings": embeddings })).into_response())
}

// ---------------------------------------------------------------------------------------------
// Models

fn model_json(model: &ModelInfo) -> Value {
    let mut body = json!({
        "name": format!("models/{}", model.id),
        "version": "001",
        "displayName": model.display,
        "description": model.description,
        "inputTokenLimit": model.input,
        "outputTokenLimit": model.output,
        "supportedGenerationMethods": model.methods,
    });
    if model.methods.contains(&"generateContent") {
        body["temperature"] = json!(1);
        body["topP"] = json!(0.95);
        body["topK"] = json!(if model.thinking { 64 } else { 40 });
        body["maxTemperature"] = json!(2);
        body["thinking"] = json!(model.thinking);
    }
    body
}

/// `GET /v1beta/models?pageSize=&pageToken=`.
async fn list_models(State(state): State<Arc<MockState>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    state.record(method, &uri, &headers, &Bytes::new());
    if let Err(error) = authenticate(&state, &uri, &headers) {
        return error.response(false);
    }
    let size = match query_param(&uri, "pageSize").map(|s| s.parse::<i64>()) {
        None | Some(Ok(0)) => 50,
        Some(Ok(size @ 1..)) => size.min(1000) as usize,
        Some(_) => return ApiError::invalid("* ListModelsRequest.page_size: must be positive\n").response(false),
    };
    let start = match query_param(&uri, "pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => match token.strip_prefix("mock-page-").and_then(|n| n.parse::<usize>().ok()) {
            Some(start) if start <= MODELS.len() => start,
            _ => return ApiError::invalid("Invalid page token.").response(false),
        },
    };
    let end = (start + size).min(MODELS.len());
    let mut body = json!({ "models": MODELS[start..end].iter().map(model_json).collect::<Vec<_>>() });
    if end < MODELS.len() {
        body["nextPageToken"] = json!(format!("mock-page-{end}"));
    }
    axum::Json(body).into_response()
}

/// `GET /v1beta/models/{model}`.
async fn get_model(
    State(state): State<Arc<MockState>>,
    Path(rest): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    state.record(method, &uri, &headers, &Bytes::new());
    if let Err(error) = authenticate(&state, &uri, &headers) {
        return error.response(false);
    }
    match MODELS.iter().find(|m| m.id == rest) {
        Some(model) => axum::Json(model_json(model)).into_response(),
        None => ApiError::not_found(format!(
            "models/{rest} is not found for API version v1beta, or is not supported for getModel. Call ListModels to \
             see the list of available models and their supported methods."
        ))
        .response(false),
    }
}
