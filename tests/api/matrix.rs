//! Every inbound surface × every provider, streamed and not, with a forced tool call: the
//! client gets the upstream's tool call, in its own format, with the same arguments.

use serde_json::{Value, json};

use crate::common::Harness;

#[derive(Debug, Clone, Copy)]
enum Surface {
    OpenAi,
    Anthropic,
    Gemini,
}

const PROVIDERS: [&str; 3] = ["openai", "anthropic", "google"];

/// The model id a client of `surface` uses for `provider` (native names on native surfaces).
fn model_for(surface: Surface, provider: &str) -> &'static str {
    match (surface, provider) {
        (Surface::Anthropic, "anthropic") => "claude-sonnet-4.6",
        (Surface::Gemini, "google") => "gemini-2.5-flash",
        (_, "openai") => "openai/gpt-5.4",
        (_, "anthropic") => "anthropic/claude-sonnet-4.6",
        _ => "google/gemini-2.5-flash",
    }
}

fn schema() -> Value {
    json!({ "type": "object", "properties": { "input": { "type": "string" } }, "required": ["input"] })
}

fn request(h: &Harness, key: &str, surface: Surface, model: &str, stream: bool) -> reqwest::RequestBuilder {
    match surface {
        Surface::OpenAi => h.post("/v1/chat/completions", key).json(&json!({
            "model": model, "stream": stream, "tool_choice": "required",
            "messages": [{ "role": "user", "content": "Paris?" }],
            "tools": [{ "type": "function", "function": { "name": "get_weather", "parameters": schema() } }],
        })),
        Surface::Anthropic => {
            h.http.post(h.url("/v1/messages")).header("x-api-key", key).header("anthropic-version", "2023-06-01").json(
                &json!({
                    "model": model, "max_tokens": 200, "stream": stream, "tool_choice": { "type": "any" },
                    "messages": [{ "role": "user", "content": "Paris?" }],
                    "tools": [{ "name": "get_weather", "input_schema": schema() }],
                }),
            )
        }
        Surface::Gemini => {
            let method = if stream { "streamGenerateContent?alt=sse" } else { "generateContent" };
            h.http.post(h.url(&format!("/v1beta/models/{model}:{method}"))).header("x-goog-api-key", key).json(&json!({
                "contents": [{ "role": "user", "parts": [{ "text": "Paris?" }] }],
                "tools": [{ "functionDeclarations": [{ "name": "get_weather", "parameters": schema() }] }],
                "toolConfig": { "functionCallingConfig": { "mode": "ANY" } },
            }))
        }
    }
}

fn data_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|line| line.trim_end_matches('\r').strip_prefix("data: "))
        .filter(|data| *data != "[DONE]")
        .map(|data| serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}")))
        .collect()
}

/// The (tool name, arguments) the client received, read the way a client of `surface` reads it.
fn tool_call(surface: Surface, stream: bool, text: &str) -> (String, Value) {
    let parse = |args: &str| serde_json::from_str::<Value>(args).unwrap_or_else(|e| panic!("{e}: {args}"));
    match (surface, stream) {
        (Surface::OpenAi, false) => {
            let body: Value = serde_json::from_str(text).unwrap();
            let call = &body["choices"][0]["message"]["tool_calls"][0]["function"];
            (call["name"].as_str().unwrap().to_owned(), parse(call["arguments"].as_str().unwrap()))
        }
        (Surface::OpenAi, true) => {
            let calls: Vec<Value> = data_lines(text)
                .iter()
                .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0).cloned())
                .collect();
            let name = calls.iter().find_map(|c| c["function"]["name"].as_str()).unwrap().to_owned();
            let args: String = calls.iter().filter_map(|c| c["function"]["arguments"].as_str()).collect();
            (name, parse(&args))
        }
        (Surface::Anthropic, false) => {
            let body: Value = serde_json::from_str(text).unwrap();
            let block = body["content"].as_array().unwrap().iter().find(|b| b["type"] == "tool_use").unwrap().clone();
            (block["name"].as_str().unwrap().to_owned(), block["input"].clone())
        }
        (Surface::Anthropic, true) => {
            let events = data_lines(text);
            let start = events.iter().find(|e| e["content_block"]["type"] == "tool_use").unwrap();
            let args: String = events.iter().filter_map(|e| e["delta"]["partial_json"].as_str()).collect();
            (start["content_block"]["name"].as_str().unwrap().to_owned(), parse(&args))
        }
        (Surface::Gemini, _) => {
            let chunks = if stream { data_lines(text) } else { vec![serde_json::from_str(text).unwrap()] };
            let call = chunks
                .iter()
                .flat_map(|c| c["candidates"][0]["content"]["parts"].as_array().cloned().unwrap_or_default())
                .find_map(|p| p.get("functionCall").cloned())
                .unwrap();
            (call["name"].as_str().unwrap().to_owned(), call["args"].clone())
        }
    }
}

#[tokio::test]
async fn every_surface_reaches_every_provider_with_tools_streamed_and_not() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    for surface in [Surface::OpenAi, Surface::Anthropic, Surface::Gemini] {
        for provider in PROVIDERS {
            for stream in [false, true] {
                let case = format!("{surface:?} surface → {provider}, stream: {stream}");
                let model = model_for(surface, provider);
                let response = request(&h, &key, surface, model, stream).send().await.unwrap();
                let status = response.status();
                let text = response.text().await.unwrap();
                assert_eq!(status, 200, "{case}: {text}");
                let (name, arguments) = tool_call(surface, stream, &text);
                assert_eq!(name, "get_weather", "{case}");
                assert_eq!(arguments, json!({ "input": "Paris?" }), "{case}");
                let upstream = h.mock.requests().pop().unwrap();
                let expected_path = match provider {
                    "openai" => "/v1/chat/completions",
                    "anthropic" => "/v1/messages",
                    _ if stream => "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
                    _ => "/v1beta/models/gemini-2.5-flash:generateContent",
                };
                assert_eq!(upstream.path, expected_path, "{case}");
            }
        }
    }
}
