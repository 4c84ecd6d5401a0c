//! The proto messages and enums the request parser knows: each message's fields (and their
//! kinds), for `GenerateContentRequest`, `CountTokensRequest` and the embed requests.

#[derive(Debug)]
pub(super) struct Enum {
    pub(super) name: &'static str,
    pub(super) values: &'static [&'static str],
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Scalar {
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
pub(super) enum Kind {
    One(Scalar),
    Many(Scalar),
    Msg(&'static Spec),
    Msgs(&'static Spec),
    MsgMap(&'static Spec),
}

/// A proto message: its name and its fields (lowerCamelCase; snake_case is accepted too).
#[derive(Debug)]
pub(super) struct Spec {
    pub(super) name: &'static str,
    pub(super) fields: &'static [(&'static str, Kind)],
    /// The members of a required oneof, if the message has one.
    pub(super) oneof: &'static [&'static str],
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
pub(super) const PART_DATA: &[&str] =
    &["text", "inlineData", "functionCall", "functionResponse", "fileData", "executableCode", "codeExecutionResult"];

pub(super) static GENERATE_REQUEST: Spec = Spec {
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
pub(super) static COUNT_TOKENS_REQUEST: Spec = Spec {
    name: "CountTokensRequest",
    fields: &[("contents", Msgs(&CONTENT)), ("generateContentRequest", Msg(&GENERATE_REQUEST))],
    oneof: &[],
};
pub(super) static EMBED_REQUEST: Spec = Spec {
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
pub(super) static BATCH_EMBED_REQUEST: Spec =
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
