//! The answer to a valid generate request (text, function call, thought, blocked prompt), its
//! usage, and its `GenerateContentResponse` JSON, whole or as stream chunks.

use serde_json::{Map, Value, json};

use super::content::{parts_with, prompt_tokens, role, split_words, text_of};
use super::models::thinking_model;
use super::parse::{get, get_in, list_in, number};
use super::{ANSWER_PREFIX, BLOCK_TRIGGER, FUNCTION_CALL_TOKENS, THOUGHT_SIGNATURE, THOUGHT_TEXT, THOUGHTS_TOKENS};

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
pub(super) struct Reply {
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

pub(super) fn reply(request: &Map<String, Value>, model: &str, extra_words: usize) -> Reply {
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

    pub(super) fn unary_json(&self, model: &str, id: &str, usage: bool) -> Value {
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
    pub(super) fn chunks(&self, model: &str, id: &str, usage: bool) -> Vec<Value> {
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
