//! Anthropic Messages wire types, for what the translation reads and writes.
//!
//! * The read side (`In*`, `Deserialize`, owned) is tolerant: unknown block, source, event and
//!   delta types deserialize to an `Unknown` variant and unknown members are ignored, because the
//!   API adds both without notice (wire-formats §3.5, "versioning policy").
//! * The write side (`Out*`, `Serialize`) borrows from the neutral model where it can and
//!   declares members in the order the API itself sends them, so output is stable and readable.
//!
//! What has no neutral slot stays a `serde_json::Value` (`cache_control`, tool schemas, tool
//! inputs).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Read side
// ---------------------------------------------------------------------------------------------

/// A content block in a client's request or in an upstream response.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InBlock {
    Text {
        text: String,
        #[serde(default)]
        cache_control: Option<Value>,
    },
    Image {
        source: InSource,
    },
    Document {
        source: InSource,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        /// A string or an array of blocks; walked by the decoder so errors can name the path.
        #[serde(default)]
        content: Value,
        #[serde(default)]
        is_error: Option<bool>,
    },
    Thinking {
        thinking: String,
        #[serde(default)]
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
    /// Server tools (`server_tool_use`, `web_search_tool_result`…), `search_result`, and any
    /// block type added later.
    #[serde(other)]
    Unknown,
}

/// Where an image's or document's bytes are.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InSource {
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
    /// A plain-text document.
    Text {
        data: String,
    },
    /// `file` (Files API), `content`, and anything newer.
    #[serde(other)]
    Unknown,
}

/// A custom tool definition in a client's request. Server tools carry a `type` other than
/// `custom` and are refused by the decoder.
#[derive(Debug, Deserialize)]
pub struct InTool {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub input_schema: Value,
    #[serde(default)]
    pub cache_control: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InToolChoice {
    Auto {
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    Any {
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    Tool {
        name: String,
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    None,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InThinking {
    Enabled { budget_tokens: u64 },
    Disabled,
    Adaptive,
}

/// `output_config.format`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InFormat {
    JsonSchema { schema: Value },
}

/// A complete upstream `message`.
#[derive(Debug, Deserialize)]
pub struct InMessage {
    pub id: String,
    #[serde(default)]
    pub model: String,
    pub content: Vec<InBlock>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    #[serde(default)]
    pub usage: InUsage,
}

/// Anthropic usage. Every member is optional so stream snapshots can be merged field by field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct InUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens_details: Option<InOutputDetails>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct InOutputDetails {
    #[serde(default)]
    pub thinking_tokens: Option<u64>,
}

impl InUsage {
    /// Overlays the members `newer` reports. Stream usage values are cumulative snapshots, so a
    /// later value replaces an earlier one and an absent one keeps it.
    pub fn merge(&mut self, newer: &InUsage) {
        fn take(old: &mut Option<u64>, new: Option<u64>) {
            if new.is_some() {
                *old = new;
            }
        }
        take(&mut self.input_tokens, newer.input_tokens);
        take(&mut self.output_tokens, newer.output_tokens);
        take(&mut self.cache_creation_input_tokens, newer.cache_creation_input_tokens);
        take(&mut self.cache_read_input_tokens, newer.cache_read_input_tokens);
        if let Some(thinking) = newer.output_tokens_details.and_then(|d| d.thinking_tokens) {
            self.output_tokens_details = Some(InOutputDetails { thinking_tokens: Some(thinking) });
        }
    }
}

/// One upstream stream event (the `data` of an SSE frame; its `type` repeats the `event:` name).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InEvent {
    MessageStart {
        message: InStartMessage,
    },
    ContentBlockStart {
        index: u32,
        content_block: InBlock,
    },
    ContentBlockDelta {
        index: u32,
        delta: InDelta,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        #[serde(default)]
        delta: InStop,
        #[serde(default)]
        usage: InUsage,
    },
    MessageStop,
    Ping,
    Error {
        error: InError,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Deserialize)]
pub struct InStartMessage {
    pub id: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub usage: InUsage,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum InDelta {
    #[serde(rename = "text_delta")]
    Text { text: String },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: String },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: String },
    #[serde(rename = "signature_delta")]
    Signature { signature: String },
    /// `citations_delta` and anything newer.
    #[serde(other)]
    Unknown,
}

/// `message_delta.delta`.
#[derive(Debug, Default, Deserialize)]
pub struct InStop {
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct InError {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// Write side
// ---------------------------------------------------------------------------------------------

fn is_false(b: &bool) -> bool {
    !*b
}

/// A content block as arouter writes it (requests upstream, responses and streams to clients).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutBlock<'a> {
    Text {
        text: Cow<'a, str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    Image {
        source: OutSource<'a>,
    },
    Document {
        source: OutSource<'a>,
    },
    ToolUse {
        id: Cow<'a, str>,
        name: &'a str,
        input: Cow<'a, Value>,
    },
    ToolResult {
        tool_use_id: Cow<'a, str>,
        content: Vec<OutBlock<'a>>,
        #[serde(skip_serializing_if = "is_false")]
        is_error: bool,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutSource<'a> {
    Base64 { media_type: &'a str, data: &'a str },
    Url { url: &'a str },
}

/// A `POST /v1/messages` body for an Anthropic upstream.
#[derive(Debug, Serialize)]
pub struct OutRequest<'a> {
    pub model: &'a str,
    pub max_tokens: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<OutBlock<'a>>,
    pub messages: Vec<OutMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<OutTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<OutToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<OutThinking>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutOutputConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<OutMetadata<'a>>,
    #[serde(skip_serializing_if = "is_false")]
    pub stream: bool,
}

#[derive(Debug, Serialize)]
pub struct OutMessage<'a> {
    pub role: &'static str,
    pub content: Vec<OutBlock<'a>>,
}

#[derive(Debug, Serialize)]
pub struct OutTool<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub input_schema: Cow<'a, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutToolChoice<'a> {
    Auto {
        #[serde(skip_serializing_if = "is_false")]
        disable_parallel_tool_use: bool,
    },
    Any {
        #[serde(skip_serializing_if = "is_false")]
        disable_parallel_tool_use: bool,
    },
    Tool {
        name: &'a str,
        #[serde(skip_serializing_if = "is_false")]
        disable_parallel_tool_use: bool,
    },
    None,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutThinking {
    Enabled { budget_tokens: u64 },
}

#[derive(Debug, Serialize)]
pub struct OutOutputConfig<'a> {
    pub format: OutFormat<'a>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutFormat<'a> {
    JsonSchema { schema: &'a Value },
}

#[derive(Debug, Serialize)]
pub struct OutMetadata<'a> {
    pub user_id: &'a str,
}

/// A `message` for a client of `/v1/messages` (also the `message` of `message_start`, where
/// `content` is empty and `stop_reason` null).
#[derive(Debug, Serialize)]
pub struct OutMessageBody<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub model: &'a str,
    pub content: Vec<OutBlock<'a>>,
    pub stop_reason: Option<&'static str>,
    pub stop_sequence: Option<&'a str>,
    pub usage: OutUsage,
}

/// Usage in Anthropic's convention: `input_tokens` is the uncached part of the prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutUsage {
    pub input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub output_tokens: u64,
}

/// The cumulative usage of the final `message_delta`, in the order the API sends it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct OutDeltaUsage {
    pub output_tokens: u64,
    pub input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
}

/// One stream event for a client; serialised as the `data` of an SSE frame whose `event:` is
/// `OutEvent::name`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutEvent<'a> {
    MessageStart { message: OutMessageBody<'a> },
    ContentBlockStart { index: u32, content_block: OutBlock<'a> },
    ContentBlockDelta { index: u32, delta: OutDelta<'a> },
    ContentBlockStop { index: u32 },
    MessageDelta { delta: OutStop<'a>, usage: OutDeltaUsage },
    MessageStop,
}

impl OutEvent<'_> {
    /// The SSE `event:` name, which the `type` in the data repeats.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MessageStart { .. } => "message_start",
            Self::ContentBlockStart { .. } => "content_block_start",
            Self::ContentBlockDelta { .. } => "content_block_delta",
            Self::ContentBlockStop { .. } => "content_block_stop",
            Self::MessageDelta { .. } => "message_delta",
            Self::MessageStop => "message_stop",
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum OutDelta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
}

/// `message_delta.delta`.
#[derive(Debug, Serialize)]
pub struct OutStop<'a> {
    pub stop_reason: &'static str,
    pub stop_sequence: Option<&'a str>,
}
