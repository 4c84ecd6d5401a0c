//! Reading `Content`s: roles, parts, their text and the prompt's word count.

use serde_json::{Map, Value};

use super::parse::{get, get_in, list_in};

pub(super) fn role(content: &Value) -> &str {
    match get_in(content, "role").and_then(Value::as_str) {
        None | Some("") => "user",
        Some(role) => role,
    }
}

pub(super) fn parts(content: &Value) -> &[Value] {
    list_in(get_in(content, "parts"))
}

pub(super) fn parts_with<'a>(content: &'a Value, field: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    parts(content).iter().filter_map(move |part| get_in(part, field))
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

pub(super) fn split_words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// The non-thought text parts of a content, joined with a space.
pub(super) fn text_of(content: &Value) -> String {
    parts(content)
        .iter()
        .filter(|p| get_in(p, "thought").and_then(Value::as_bool) != Some(true))
        .filter_map(|p| get_in(p, "text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words of every content's text + 3 per content, + words of the system instruction.
pub(super) fn prompt_tokens(request: &Map<String, Value>) -> u64 {
    let system = get(request, "systemInstruction").map(text_of).unwrap_or_default();
    words(&system) + list_in(get(request, "contents")).iter().map(|c| words(&text_of(c)) + 3).sum::<u64>()
}
