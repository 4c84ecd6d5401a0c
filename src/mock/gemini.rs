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

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::routing;
use serde_json::{Map, Value};

use super::MockState;
use auth::{authenticate, query_param};
use count_tokens::count_tokens;
use embed::{batch_embed, embed};
use error::ApiError;
use generate::generate;
use models::{get_model, list_models};

mod answer;
mod auth;
mod content;
mod count_tokens;
mod embed;
mod error;
mod generate;
mod models;
mod parse;
mod spec;
mod turns;
mod validate;

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

/// The Gemini routes.
pub(super) fn routes() -> Router<Arc<MockState>> {
    Router::new()
        .route("/v1beta/models", routing::get(list_models))
        .route("/v1beta/models/{*rest}", routing::get(get_model).post(call))
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
