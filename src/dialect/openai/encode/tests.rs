use serde_json::json;

use super::*;
use crate::llm::FinishReason;
use crate::usage::{Pricing, Usage};

const TARGET: Target<'static> = Target { model: "gpt-5.4", max_output_tokens: Some(128_000) };

fn base() -> llm::ChatRequest {
    llm::ChatRequest {
        model: "openai/gpt-5.4".into(),
        messages: vec![Message { role: Role::User, content: vec![Part::text("hi")] }],
        ..Default::default()
    }
}

fn encode(req: &llm::ChatRequest) -> Value {
    serde_json::from_slice(&request(req, TARGET).unwrap()).unwrap()
}

fn messages_of(messages: Vec<Message>, system: Vec<Part>) -> Value {
    encode(&llm::ChatRequest { messages, system, ..base() })["messages"].clone()
}

fn user(parts: Vec<Part>) -> Message {
    Message { role: Role::User, content: parts }
}

fn assistant(parts: Vec<Part>) -> Message {
    Message { role: Role::Assistant, content: parts }
}

fn cached(text: &str) -> Part {
    Part::Text { text: text.into(), cache_control: Some(json!({ "type": "ephemeral" })) }
}

#[test]
fn a_plain_request_is_minimal() {
    assert_eq!(
        String::from_utf8(request(&base(), TARGET).unwrap()).unwrap(),
        r#"{"model":"gpt-5.4","messages":[{"role":"user","content":"hi"}]}"#
    );
}

#[test]
fn scalar_parameters_map_one_to_one_and_unsendable_ones_are_dropped() {
    let mut extra = serde_json::Map::new();
    extra.insert("provider".into(), json!({ "order": ["x"] }));
    let req = llm::ChatRequest {
        max_tokens: Some(500),
        temperature: Some(0.3),
        top_p: Some(0.8),
        top_k: Some(40),
        stop: vec!["END".into()],
        stream: true,
        user: Some("u-1".into()),
        seed: Some(9),
        frequency_penalty: Some(0.1),
        presence_penalty: Some(-0.1),
        extra,
        ..base()
    };
    assert_eq!(
        encode(&req),
        json!({
            "model": "gpt-5.4",
            "messages": [{ "role": "user", "content": "hi" }],
            "max_completion_tokens": 500,
            "temperature": 0.3,
            "top_p": 0.8,
            "stop": ["END"],
            "stream": true,
            "stream_options": { "include_usage": true },
            "user": "u-1",
            "seed": 9,
            "frequency_penalty": 0.1,
            "presence_penalty": -0.1
        })
    );
}

#[test]
fn system_parts_become_one_leading_system_message() {
    let cases = [
        (vec![], None),
        (vec![Part::text("Be brief.")], Some(json!("Be brief."))),
        (
            vec![cached("Rules.")],
            Some(json!([{ "type": "text", "text": "Rules.", "cache_control": { "type": "ephemeral" } }])),
        ),
        (
            vec![Part::text("A."), Part::text("B.")],
            Some(json!([{ "type": "text", "text": "A." }, { "type": "text", "text": "B." }])),
        ),
    ];
    for (system, expected) in cases {
        let messages = messages_of(vec![user(vec![Part::text("hi")])], system.clone());
        match expected {
            None => assert_eq!(messages, json!([{ "role": "user", "content": "hi" }])),
            Some(content) => assert_eq!(messages[0], json!({ "role": "system", "content": content }), "{system:?}"),
        }
    }
}

#[test]
fn user_parts_map_to_strings_text_parts_images_and_files() {
    let b64 = |media_type: &str, data: &str| ImageSource::Base64 { media_type: media_type.into(), data: data.into() };
    let messages = messages_of(
        vec![user(vec![
            cached("Look:"),
            Part::Image { source: ImageSource::Url("https://example.com/cat.png".into()) },
            Part::Image { source: b64("image/png", "iVBORw0KGgo=") },
            Part::Document { source: b64("application/pdf", "JVBERi0x") },
        ])],
        vec![],
    );
    assert_eq!(
        messages,
        json!([{ "role": "user", "content": [
            { "type": "text", "text": "Look:", "cache_control": { "type": "ephemeral" } },
            { "type": "image_url", "image_url": { "url": "https://example.com/cat.png" } },
            { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBORw0KGgo=" } },
            { "type": "file", "file": { "filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBERi0x" } }
        ] }])
    );
    let by_url = llm::ChatRequest {
        messages: vec![user(vec![Part::Document { source: ImageSource::Url("https://x/a.pdf".into()) }])],
        ..base()
    };
    let err = request(&by_url, TARGET).unwrap_err();
    assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
    assert!(err.message.contains("documents by URL"));
}

#[test]
fn tool_results_become_tool_messages_before_the_rest_of_their_turn() {
    let messages = messages_of(
        vec![
            assistant(vec![
                Part::Thinking { text: "dropped".into(), signature: Some("sig".into()) },
                Part::RedactedThinking { data: "dropped too".into() },
                Part::ToolCall { id: "call_a".into(), name: "w".into(), arguments: json!({ "c": "Paris" }) },
                Part::ToolCall { id: "call_b".into(), name: "w".into(), arguments: json!({}) },
            ]),
            user(vec![
                Part::text("and tomorrow?"),
                Part::ToolResult {
                    call_id: "call_a".into(),
                    content: vec![Part::text("18C"), Part::text("sunny")],
                    is_error: false,
                },
                Part::ToolResult {
                    call_id: "call_b".into(),
                    content: vec![
                        Part::Image { source: ImageSource::Url("https://x/y.png".into()) },
                        Part::Document { source: ImageSource::Url("https://x/y.pdf".into()) },
                    ],
                    is_error: true,
                },
                Part::ToolResult { call_id: "call_c".into(), content: vec![], is_error: false },
            ]),
        ],
        vec![],
    );
    assert_eq!(
        messages,
        json!([
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "call_a", "type": "function", "function": { "name": "w", "arguments": "{\"c\":\"Paris\"}" } },
                { "id": "call_b", "type": "function", "function": { "name": "w", "arguments": "{}" } }
            ] },
            { "role": "tool", "tool_call_id": "call_a", "content": "18C\nsunny" },
            { "role": "tool", "tool_call_id": "call_b", "content": "[image]\n[document]" },
            { "role": "tool", "tool_call_id": "call_c", "content": "" },
            { "role": "user", "content": "and tomorrow?" }
        ])
    );
}

#[test]
fn assistant_text_is_joined_and_a_turn_with_nothing_to_send_has_empty_content() {
    let messages = messages_of(
        vec![
            assistant(vec![
                Part::text("Let me "),
                Part::text("check."),
                Part::ToolCall { id: "c".into(), name: "f".into(), arguments: json!({ "q": [1, 2] }) },
            ]),
            user(vec![Part::ToolResult { call_id: "c".into(), content: vec![Part::text("ok")], is_error: false }]),
            assistant(vec![Part::Thinking { text: "only thoughts".into(), signature: None }]),
        ],
        vec![],
    );
    assert_eq!(
        messages,
        json!([
            { "role": "assistant", "content": "Let me check.", "tool_calls": [
                { "id": "c", "type": "function", "function": { "name": "f", "arguments": "{\"q\":[1,2]}" } }
            ] },
            { "role": "tool", "tool_call_id": "c", "content": "ok" },
            { "role": "assistant", "content": "" }
        ])
    );
}

#[test]
fn long_tool_call_ids_are_hash_truncated_consistently() {
    let long = "toolu_01A09q90qw90lq917835lq9_with_a_very_long_suffix_from_elsewhere";
    let other = "toolu_01A09q90qw90lq917835lq9_with_a_very_long_suffix_from_elsewhereX";
    let short = call_id(long);
    assert_eq!(short.len(), 40);
    assert!(short.starts_with("toolu_01A09q90qw90lq917_"), "{short}");
    assert_eq!(call_id(long), short, "deterministic");
    assert_ne!(call_id(other), short, "distinct ids stay distinct");
    assert_eq!(call_id("call_abc"), "call_abc");
    let exactly_40 = "x".repeat(40);
    assert_eq!(call_id(&exactly_40), exactly_40);
    // Cut on a character boundary.
    let wide = "é".repeat(30);
    assert!(call_id(&wide).len() <= 40);

    let messages = messages_of(
        vec![
            assistant(vec![Part::ToolCall { id: long.into(), name: "f".into(), arguments: json!({}) }]),
            user(vec![Part::ToolResult { call_id: long.into(), content: vec![Part::text("r")], is_error: false }]),
        ],
        vec![],
    );
    assert_eq!(messages[0]["tool_calls"][0]["id"], json!(short));
    assert_eq!(messages[1]["tool_call_id"], json!(short));
}

#[test]
fn tools_and_tool_choice() {
    let tool = llm::Tool {
        name: "get_weather".into(),
        description: Some("Weather now".into()),
        parameters: json!({ "type": "object", "properties": {} }),
        strict: Some(true),
        cache_control: Some(json!({ "type": "ephemeral" })),
    };
    let bare =
        llm::Tool { name: "ping".into(), description: None, parameters: json!({}), strict: None, cache_control: None };
    let body = encode(&llm::ChatRequest {
        tools: vec![tool, bare],
        tool_choice: Some(ToolChoice::Auto),
        parallel_tool_calls: Some(false),
        ..base()
    });
    assert_eq!(
        body["tools"],
        json!([
            { "type": "function", "function": {
                "name": "get_weather", "description": "Weather now", "parameters": { "type": "object", "properties": {} }, "strict": true } },
            { "type": "function", "function": { "name": "ping", "parameters": {} } }
        ])
    );
    assert_eq!(body["parallel_tool_calls"], json!(false));
    let one_tool = vec![llm::Tool {
        name: "f".into(),
        description: None,
        parameters: json!({}),
        strict: None,
        cache_control: None,
    }];
    for (choice, expected) in [
        (ToolChoice::Auto, json!("auto")),
        (ToolChoice::None, json!("none")),
        (ToolChoice::Required, json!("required")),
        (ToolChoice::Tool("f".into()), json!({ "type": "function", "function": { "name": "f" } })),
    ] {
        let body = encode(&llm::ChatRequest { tools: one_tool.clone(), tool_choice: Some(choice), ..base() });
        assert_eq!(body["tool_choice"], expected);
    }
    // Without tools OpenAI refuses a choice, so none is sent.
    let body = encode(&llm::ChatRequest {
        tool_choice: Some(ToolChoice::Required),
        parallel_tool_calls: Some(true),
        ..base()
    });
    assert!(
        body.get("tool_choice").is_none() && body.get("parallel_tool_calls").is_none() && body.get("tools").is_none()
    );
}

#[test]
fn response_formats() {
    for (format, expected) in [
        (ResponseFormat::Text, json!({ "type": "text" })),
        (ResponseFormat::JsonObject, json!({ "type": "json_object" })),
        (
            ResponseFormat::JsonSchema { name: "p".into(), schema: json!({ "type": "object" }), strict: Some(true) },
            json!({ "type": "json_schema", "json_schema": { "name": "p", "schema": { "type": "object" }, "strict": true } }),
        ),
        (
            ResponseFormat::JsonSchema { name: "p".into(), schema: json!({}), strict: None },
            json!({ "type": "json_schema", "json_schema": { "name": "p", "schema": {} } }),
        ),
    ] {
        assert_eq!(encode(&llm::ChatRequest { response_format: Some(format), ..base() })["response_format"], expected);
    }
}

#[test]
fn reasoning_maps_to_openai_efforts() {
    let r = |effort: Option<&str>, max_tokens: Option<u64>| Reasoning {
        effort: effort.map(str::to_owned),
        max_tokens,
        exclude: false,
    };
    for (reasoning, expected) in [
        (r(Some("none"), None), Value::Null),
        (r(Some("minimal"), None), json!("minimal")),
        (r(Some("low"), None), json!("low")),
        (r(Some("medium"), Some(4000)), json!("medium")),
        (r(Some("high"), None), json!("high")),
        (r(Some("xhigh"), None), json!("high")),
        (r(Some("max"), None), json!("high")),
        (r(None, Some(2048)), json!("medium")),
        (r(None, None), Value::Null),
    ] {
        let body = encode(&llm::ChatRequest { reasoning: Some(reasoning.clone()), ..base() });
        assert_eq!(body.get("reasoning_effort").cloned().unwrap_or(Value::Null), expected, "{reasoning:?}");
    }
}

fn answer(content: Vec<Part>, finish_reason: FinishReason, native: Option<&str>) -> llm::ChatResponse {
    llm::ChatResponse {
        id: "msg_01XFDUDYJgAACzvnptvVoYEL".into(),
        model: "claude-sonnet-4-6".into(),
        created: 1_767_226_400,
        content,
        finish_reason,
        native_finish_reason: native.map(str::to_owned),
        stop_sequence: None,
        usage: Usage {
            prompt_tokens: 1000,
            completion_tokens: 200,
            cached_tokens: 600,
            cache_write_tokens: 100,
            reasoning_tokens: 50,
        },
    }
}

#[test]
fn responses_for_openai_clients_have_the_sdk_required_shape() {
    let pricing =
        Pricing { prompt: 3_000_000_000, completion: 15_000_000_000, cache_read: Some(300_000_000), cache_write: None };
    let who = Identity {
        id: "gen-1767226400-abc",
        model: "anthropic/claude-sonnet-4.6",
        pricing: Some(&pricing),
        prompt_bytes: 0,
    };
    let resp = answer(
        vec![
            Part::Thinking { text: "First ".into(), signature: Some("sig".into()) },
            Part::Thinking { text: "think.".into(), signature: None },
            Part::text("Checking "),
            Part::text("the weather."),
            Part::ToolCall {
                id: "toolu_01".into(),
                name: "get_weather".into(),
                arguments: json!({ "city": "Zürich" }),
            },
        ],
        FinishReason::ToolCalls,
        Some("tool_use"),
    );
    let body = String::from_utf8(response(&resp, who)).unwrap();
    assert!(
        body.starts_with(r#"{"id":"gen-1767226400-abc","object":"chat.completion","created":1767226400,"#),
        "{body}"
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({
            "id": "gen-1767226400-abc",
            "object": "chat.completion",
            "created": 1_767_226_400,
            "model": "anthropic/claude-sonnet-4.6",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Checking the weather.",
                    "refusal": null,
                    "tool_calls": [{ "id": "toolu_01", "type": "function",
                                     "function": { "name": "get_weather", "arguments": "{\"city\":\"Zürich\"}" } }],
                    "reasoning": "First think."
                },
                "logprobs": null,
                "finish_reason": "tool_calls",
                "native_finish_reason": "tool_use"
            }],
            "system_fingerprint": null,
            "usage": {
                "prompt_tokens": 1000,
                "completion_tokens": 200,
                "total_tokens": 1200,
                "prompt_tokens_details": { "cached_tokens": 600, "cache_write_tokens": 100 },
                "completion_tokens_details": { "reasoning_tokens": 50 },
                // 300 fresh × $3 + 600 cached × $0.30 + 100 written × $3 + 200 out × $15, per million.
                "cost": 0.00438,
                "is_byok": false
            }
        })
    );
}

#[test]
fn responses_without_text_tools_or_thinking_leave_those_out() {
    let who = Identity { id: "gen-1", model: "google/gemini-2.5-flash", pricing: None, prompt_bytes: 0 };
    let body: Value =
        serde_json::from_slice(&response(&answer(vec![], FinishReason::ContentFilter, None), who)).unwrap();
    let choice = &body["choices"][0];
    assert_eq!(choice["message"], json!({ "role": "assistant", "content": null, "refusal": null }));
    assert_eq!(
        (choice["finish_reason"].clone(), choice["native_finish_reason"].clone()),
        (json!("content_filter"), Value::Null)
    );
    assert_eq!(body["usage"]["cost"], json!(0.0));
}
