//! The answer to a valid Messages request (text, tool call, thinking), its usage with prompt
//! caching, and the token count `count_tokens` reports.

use serde_json::{Map, Value, json};

use super::tools::blocks_of;
use super::{ANSWER_PREFIX, CACHED_TOKENS, THINKING_SIGNATURE, THINKING_TEXT, TOOL_PREAMBLE, TOOL_USE_ID};

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Text blocks (or string content) joined with a space; `tool_result` blocks skipped.
fn user_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The text a message contributes to the prompt count: text blocks and the text in tool results.
fn counted_text(content: &Value) -> String {
    let mut parts = vec![user_text(content)];
    for block in content.as_array().into_iter().flatten().filter(|b| b["type"] == "tool_result") {
        parts.push(user_text(&block["content"]));
    }
    parts.join(" ")
}

pub(super) fn input_tokens(request: &Map<String, Value>) -> u64 {
    let system = request.get("system").map(user_text).unwrap_or_default();
    let messages = request.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    words(&system) + messages.iter().map(|m| words(&counted_text(&m["content"])) + 3).sum::<u64>()
}

fn listed(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    value.and_then(Value::as_array).into_iter().flatten()
}

/// The first `cache_control` in the request: top level, system, message blocks (and the blocks
/// inside their tool results), tools.
fn cache_control(request: &Map<String, Value>) -> Option<&Value> {
    let message_blocks = || listed(request.get("messages")).flat_map(|m| listed(m.get("content")));
    let blocks = listed(request.get("system"))
        .chain(message_blocks())
        .chain(message_blocks().flat_map(|b| listed(b.get("content"))))
        .chain(listed(request.get("tools")));
    std::iter::once(request.get("cache_control"))
        .flatten()
        .chain(blocks.filter_map(|b| b.get("cache_control")))
        .find(|c| !c.is_null())
}

#[derive(Debug)]
pub(super) struct Usage {
    input: u64,
    pub(super) output: u64,
    cache_creation: u64,
    cache_read: u64,
    cache_ttl_1h: bool,
}

impl Usage {
    /// The `usage` of a message (and of `message_start`, with `output` 1).
    pub(super) fn json(&self, output: u64) -> Value {
        let (five_minutes, one_hour) =
            if self.cache_ttl_1h { (0, self.cache_creation) } else { (self.cache_creation, 0) };
        json!({
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": { "ephemeral_5m_input_tokens": five_minutes, "ephemeral_1h_input_tokens": one_hour },
            "output_tokens": output,
            "service_tier": "standard",
        })
    }

    /// The cumulative `usage` of `message_delta`.
    pub(super) fn delta_json(&self) -> Value {
        json!({
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": self.output,
        })
    }
}

#[derive(Debug)]
pub(super) enum Block {
    Thinking,
    Text(Vec<String>),
    ToolUse { name: String, input: Value },
}

impl Block {
    pub(super) fn json(&self) -> Value {
        match self {
            Block::Thinking => {
                json!({ "type": "thinking", "thinking": THINKING_TEXT, "signature": THINKING_SIGNATURE })
            }
            Block::Text(words) => json!({ "type": "text", "text": words.join(" ") }),
            Block::ToolUse { name, input } => {
                json!({ "type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": input })
            }
        }
    }
}

/// What the mock answers to a valid Messages request.
#[derive(Debug)]
pub(super) struct Reply {
    pub(super) blocks: Vec<Block>,
    pub(super) stop_reason: &'static str,
    pub(super) stop_sequence: Option<String>,
    pub(super) usage: Usage,
}

fn split_words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

pub(super) fn reply(request: &Map<String, Value>, body: &[u8], extra_words: usize) -> Reply {
    let messages = request.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let last_user = messages.iter().rev().find(|m| m["role"] == "user");
    let said = last_user.map(|m| user_text(&m["content"])).unwrap_or_default();
    let answered_tool = last_user.is_some_and(|m| blocks_of(m, "tool_result").next().is_some());
    let thinking = request.get("thinking").is_some_and(|t| t["type"] == "enabled");
    let tools = request.get("tools").and_then(Value::as_array).filter(|t| !t.is_empty());
    let choice = request.get("tool_choice").unwrap_or(&Value::Null);
    let choice_type = choice["type"].as_str().unwrap_or("auto");

    let mut blocks = Vec::new();
    if thinking {
        blocks.push(Block::Thinking);
    }
    let mut output = if thinking { 8 } else { 0 };
    let (stop_reason, stop_sequence) = match tools {
        Some(tools) if choice_type != "none" && !answered_tool => {
            let name = if choice_type == "tool" { &choice["name"] } else { &tools[0]["name"] };
            if choice_type == "auto" {
                let preamble = split_words(TOOL_PREAMBLE);
                output += preamble.len() as u64;
                blocks.push(Block::Text(preamble));
            }
            output += 10;
            blocks.push(Block::ToolUse {
                name: name.as_str().unwrap_or("tool").to_owned(),
                input: json!({ "input": said }),
            });
            ("tool_use", None)
        }
        _ => {
            let mut words = split_words(&format!("{ANSWER_PREFIX} {said}"));
            words.extend((0..extra_words).map(|i| format!("word{i}")));
            let limit = request.get("max_tokens").and_then(Value::as_u64).map_or(usize::MAX, |l| l as usize);
            let stops: Vec<&str> = request
                .get("stop_sequences")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|s| !s.is_empty())
                .collect();
            let stop_at = words.iter().position(|w| stops.iter().any(|s| w.contains(s)));
            let stop = match stop_at {
                Some(at) if at < limit => {
                    let matched = stops.iter().find(|s| words[at].contains(**s)).map(|s| (*s).to_owned());
                    words.truncate(at);
                    ("stop_sequence", matched)
                }
                _ if limit < words.len() => {
                    words.truncate(limit);
                    ("max_tokens", None)
                }
                _ => ("end_turn", None),
            };
            output += words.len() as u64;
            if !words.is_empty() {
                blocks.push(Block::Text(words));
            }
            stop
        }
    };
    let cache = cache_control(request);
    let cached = if cache.is_some() { CACHED_TOKENS } else { 0 };
    let read_before = body.windows(b"cached-before".len()).any(|w| w == b"cached-before");
    let usage = Usage {
        input: input_tokens(request),
        output,
        cache_creation: if read_before { 0 } else { cached },
        cache_read: if read_before { cached } else { 0 },
        cache_ttl_1h: cache.is_some_and(|c| c["ttl"] == "1h"),
    };
    Reply { blocks, stop_reason, stop_sequence, usage }
}
