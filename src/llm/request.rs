//! A chat request in neutral form.

use serde_json::{Map, Value};

/// Who speaks a turn. System text is not a turn (`ChatRequest::system`), and tool results are
/// parts of a user turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// Where an image's bytes are.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    /// An `http(s)` URL, fetched by the provider (or, for Gemini, by the gateway).
    Url(String),
    /// Inline bytes, base64-encoded.
    Base64 { media_type: String, data: String },
}

/// One piece of a turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text {
        text: String,
        /// Anthropic-style prompt caching marker (`{"type":"ephemeral"}`), kept when a client
        /// sends it so caching survives translation.
        cache_control: Option<Value>,
    },
    Image {
        source: ImageSource,
    },
    /// A PDF or other document, inline or by URL.
    Document {
        source: ImageSource,
    },
    /// The assistant calling a tool.
    ToolCall {
        /// The call's id, which the matching `ToolResult::call_id` names.
        id: String,
        name: String,
        /// Always a JSON object.
        arguments: Value,
    },
    /// The result of a tool call, sent back in a user turn.
    ToolResult {
        /// The `id` of the `ToolCall` this answers.
        call_id: String,
        /// Text and image parts.
        content: Vec<Part>,
        /// The tool failed (Anthropic's `is_error`; OpenAI has no field for it).
        is_error: bool,
    },
    /// Reasoning text, with the provider's signature when it gave one (needed to replay it).
    Thinking {
        text: String,
        signature: Option<String>,
    },
    /// Reasoning the provider returned encrypted; replayed as-is.
    RedactedThinking {
        data: String,
    },
}

impl Part {
    /// A text part without a cache marker, the common case.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into(), cache_control: None }
    }
}

/// A turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Part>,
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments (an object schema).
    pub parameters: Value,
    /// OpenAI's `strict`: the arguments must match `parameters` exactly.
    pub strict: Option<bool>,
    /// Anthropic's prompt-caching marker, kept so caching survives translation.
    pub cache_control: Option<Value>,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides whether to call a tool.
    Auto,
    /// No tool may be called, though the tools stay in the request.
    None,
    /// Some tool must be called.
    Required,
    /// This tool must be called.
    Tool(String),
}

/// Requested output shape.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Plain text, the default.
    Text,
    /// Any JSON object (OpenAI's JSON mode).
    JsonObject,
    /// JSON that matches `schema`; `name` and `strict` as in OpenAI's `json_schema`.
    JsonSchema { name: String, schema: Value, strict: Option<bool> },
}

/// Reasoning settings, OpenRouter's `reasoning` object (which also covers OpenAI's
/// `reasoning_effort` and Anthropic's `thinking`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reasoning {
    /// `none`, `minimal`, `low`, `medium`, `high`, `xhigh`, `max`.
    pub effort: Option<String>,
    /// A token budget for reasoning.
    pub max_tokens: Option<u64>,
    /// Reason, but leave the reasoning out of the answer.
    pub exclude: bool,
}

/// A chat request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    /// The model id as the client wrote it.
    pub model: String,
    /// System text, in order.
    pub system: Vec<Part>,
    pub messages: Vec<Message>,
    /// Output-token ceiling; `None` leaves it to the provider (Anthropic, which requires one,
    /// then gets a default).
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
    /// Stop sequences; empty for none.
    pub stop: Vec<String>,
    pub stream: bool,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)` forbids several tool calls in one turn.
    pub parallel_tool_calls: Option<bool>,
    pub response_format: Option<ResponseFormat>,
    pub reasoning: Option<Reasoning>,
    /// An opaque end-user id.
    pub user: Option<String>,
    pub seed: Option<i64>,
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
    /// Source-format fields with no neutral slot. Not sent to a provider of another format;
    /// kept so a decoder loses nothing silently and tests can see what was left over.
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// Every image and document source in the conversation, tool results included, so a
    /// gateway step (fetching URLs for providers that only take inline bytes) can rewrite them.
    pub fn media_sources_mut(&mut self) -> Vec<&mut ImageSource> {
        fn collect<'a>(parts: &'a mut [Part], out: &mut Vec<&'a mut ImageSource>) {
            for part in parts {
                match part {
                    Part::Image { source } | Part::Document { source } => out.push(source),
                    Part::ToolResult { content, .. } => collect(content, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        for message in &mut self.messages {
            collect(&mut message.content, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_sources_include_tool_results() {
        let url = |u: &str| ImageSource::Url(u.into());
        let mut request = ChatRequest {
            messages: vec![Message {
                role: Role::User,
                content: vec![
                    Part::text("look"),
                    Part::Image { source: url("https://a/1.png") },
                    Part::ToolResult {
                        call_id: "c".into(),
                        content: vec![Part::Document { source: url("https://a/2.pdf") }],
                        is_error: false,
                    },
                ],
            }],
            ..ChatRequest::default()
        };
        let sources = request.media_sources_mut();
        assert_eq!(sources.len(), 2);
        for source in sources {
            *source = ImageSource::Base64 { media_type: "image/png".into(), data: "AA==".into() };
        }
        assert!(request.media_sources_mut().iter().all(|s| matches!(s, ImageSource::Base64 { .. })));
    }
}
