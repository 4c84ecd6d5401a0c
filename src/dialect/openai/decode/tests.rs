use serde_json::json;

use super::*;
use crate::llm::{ImageSource, Message, Role};
use crate::usage::Usage;

fn decode(body: Value) -> llm::ChatRequest {
    request(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{body}: {}", e.message))
}

fn decode_err(body: Value) -> String {
    match request(body.to_string().as_bytes()) {
        Ok(req) => panic!("{body} was accepted: {req:?}"),
        Err(e) => {
            assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
            e.message.into_owned()
        }
    }
}

/// A request with `extra` fields merged in next to a one-message conversation.
fn with(fields: Value) -> llm::ChatRequest {
    let mut body = json!({ "model": "anthropic/claude-sonnet-4.6", "messages": [{ "role": "user", "content": "hi" }] });
    body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    decode(body)
}

fn with_err(fields: Value) -> String {
    let mut body = json!({ "model": "m", "messages": [{ "role": "user", "content": "hi" }] });
    body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    decode_err(body)
}

fn user(parts: Vec<Part>) -> Message {
    Message { role: Role::User, content: parts }
}

fn assistant(parts: Vec<Part>) -> Message {
    Message { role: Role::Assistant, content: parts }
}

fn call(id: &str, name: &str, arguments: Value) -> Part {
    Part::ToolCall { id: id.into(), name: name.into(), arguments }
}

fn result(id: &str, text: &str) -> Part {
    Part::ToolResult { call_id: id.into(), content: vec![Part::text(text)], is_error: false }
}

#[test]
fn system_and_developer_messages_anywhere_become_the_system_prompt() {
    let req = decode(json!({
        "model": "m",
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "user", "content": "hi" },
            { "role": "developer", "content": [
                { "type": "text", "text": "Cached rules.", "cache_control": { "type": "ephemeral" } },
                { "type": "text", "text": "More." }
            ] },
            { "role": "user", "content": "again" }
        ]
    }));
    assert_eq!(
        req.system,
        vec![
            Part::text("Be brief."),
            Part::Text { text: "Cached rules.".into(), cache_control: Some(json!({ "type": "ephemeral" })) },
            Part::text("More."),
        ]
    );
    // The two user messages are consecutive once the developer message is lifted out.
    assert_eq!(req.messages, vec![user(vec![Part::text("hi"), Part::text("again")])]);
    assert!(
        decode_err(json!({ "model": "m", "messages": [
        { "role": "system", "content": [{ "type": "image_url", "image_url": { "url": "https://x/y.png" } }] }
    ] }))
        .contains("'messages[0].content[0]'")
    );
}

#[test]
fn user_content_parts_map_to_text_images_and_documents() {
    let req = decode(json!({ "model": "m", "messages": [{ "role": "user", "content": [
        { "type": "text", "text": "Look:", "cache_control": { "type": "ephemeral" } },
        { "type": "image_url", "image_url": { "url": "https://example.com/cat.png", "detail": "high" } },
        { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBORw0KGgo=" } },
        { "type": "image_url", "image_url": { "url": "data:application/pdf;base64,JVBERi0x" } },
        { "type": "file", "file": { "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0y" } }
    ] }] }));
    let b64 = |media_type: &str, data: &str| ImageSource::Base64 { media_type: media_type.into(), data: data.into() };
    assert_eq!(
        req.messages,
        vec![user(vec![
            Part::Text { text: "Look:".into(), cache_control: Some(json!({ "type": "ephemeral" })) },
            Part::Image { source: ImageSource::Url("https://example.com/cat.png".into()) },
            Part::Image { source: b64("image/png", "iVBORw0KGgo=") },
            Part::Document { source: b64("application/pdf", "JVBERi0x") },
            Part::Document { source: b64("application/pdf", "JVBERi0y") },
        ])]
    );
}

#[test]
fn parts_other_providers_cannot_take_are_refused_naming_the_part() {
    let cases = [
        (
            json!({ "type": "input_audio", "input_audio": { "data": "UklGR", "format": "wav" } }),
            "'messages[0].content[1]': 'input_audio'",
        ),
        (json!({ "type": "file", "file": { "file_id": "file-abc" } }), "'messages[0].content[1].file.file_id'"),
        (
            json!({ "type": "image_url", "image_url": { "url": "data:image/png,notbase64" } }),
            "'messages[0].content[1].image_url.url'",
        ),
        (
            json!({ "type": "image_url", "image_url": { "url": "data:;base64,AAAA" } }),
            "'messages[0].content[1].image_url.url'",
        ),
        (json!({ "type": "video", "video": {} }), "'messages[0].content[1]': 'video'"),
        (json!({ "text": "no type" }), "'messages[0].content[1].type' is required"),
        (json!({ "type": "text", "text": 5 }), "'messages[0].content[1].text'"),
    ];
    for (part, needle) in cases {
        let body = json!({ "model": "m", "messages": [{ "role": "user", "content": [{ "type": "text", "text": "hi" }, part] }] });
        let message = decode_err(body);
        assert!(message.contains(needle), "{message} should contain {needle}");
    }
}

#[test]
fn assistant_turns_put_thinking_first_then_text_then_tool_calls() {
    let req = decode(json!({ "model": "m", "messages": [
        { "role": "user", "content": "weather?" },
        { "role": "assistant", "content": "Checking.", "reasoning": "Need the tool.",
          "tool_calls": [
            { "id": "call_1", "type": "function", "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } },
            { "id": "call_2", "type": "function", "function": { "name": "get_time", "arguments": "" } }
          ] },
        { "role": "assistant", "content": null, "reasoning_details": [
            { "type": "reasoning.text", "text": "Signed.", "signature": "sig==", "format": "anthropic-claude-v1" },
            { "type": "reasoning.encrypted", "data": "opaque" },
            { "type": "reasoning.unknown", "x": 1 }
          ], "reasoning": "ignored when details are present" },
        { "role": "assistant", "content": [{ "type": "refusal", "refusal": "I can't." }] },
        { "role": "assistant", "content": null, "refusal": "No." }
    ] }));
    assert_eq!(
        req.messages,
        vec![
            user(vec![Part::text("weather?")]),
            assistant(vec![
                Part::Thinking { text: "Need the tool.".into(), signature: None },
                Part::text("Checking."),
                call("call_1", "get_weather", json!({ "city": "Paris" })),
                call("call_2", "get_time", json!({})),
                Part::Thinking { text: "Signed.".into(), signature: Some("sig==".into()) },
                Part::RedactedThinking { data: "opaque".into() },
                Part::text("I can't."),
                Part::text("No."),
            ]),
        ]
    );
}

#[test]
fn consecutive_tool_messages_and_the_next_user_message_form_one_user_turn() {
    let req = decode(json!({ "model": "m", "messages": [
        { "role": "user", "content": "weather in Paris and Rome?" },
        { "role": "assistant", "content": null, "tool_calls": [
            { "id": "call_a", "type": "function", "function": { "name": "w", "arguments": "{\"c\":\"Paris\"}" } },
            { "id": "call_b", "type": "function", "function": { "name": "w", "arguments": "{\"c\":\"Rome\"}" } }
        ] },
        { "role": "tool", "tool_call_id": "call_a", "content": "18C" },
        { "role": "tool", "tool_call_id": "call_b", "content": [{ "type": "text", "text": "21C" }] },
        { "role": "user", "content": "Thanks, and tomorrow?" },
        { "role": "user", "content": "In Celsius." }
    ] }));
    assert_eq!(
        req.messages,
        vec![
            user(vec![Part::text("weather in Paris and Rome?")]),
            assistant(vec![call("call_a", "w", json!({ "c": "Paris" })), call("call_b", "w", json!({ "c": "Rome" }))]),
            user(vec![
                result("call_a", "18C"),
                result("call_b", "21C"),
                Part::text("Thanks, and tomorrow?"),
                Part::text("In Celsius."),
            ]),
        ]
    );
}

#[test]
fn tool_results_move_in_front_of_user_text_in_the_same_turn() {
    let req = decode(json!({ "model": "m", "messages": [
        { "role": "assistant", "content": null, "tool_calls": [
            { "id": "c1", "type": "function", "function": { "name": "f", "arguments": "{}" } }
        ] },
        { "role": "user", "content": "note" },
        { "role": "tool", "tool_call_id": "c1", "content": "" },
        { "role": "tool", "tool_call_id": "c2", "content": [
            { "type": "text", "text": "see" }, { "type": "image_url", "image_url": { "url": "https://x/y.png" } }
        ] }
    ] }));
    assert_eq!(
        req.messages[1],
        user(vec![
            Part::ToolResult { call_id: "c1".into(), content: vec![], is_error: false },
            Part::ToolResult {
                call_id: "c2".into(),
                content: vec![Part::text("see"), Part::Image { source: ImageSource::Url("https://x/y.png".into()) }],
                is_error: false,
            },
            Part::text("note"),
        ])
    );
}

#[test]
fn tool_call_arguments_that_are_not_a_json_object_are_400s_naming_the_message() {
    for (arguments, needle) in [
        (json!("{\"city\":"), "'messages[1].tool_calls[0].function.arguments' is not valid JSON"),
        (json!("[1,2]"), "'messages[1].tool_calls[0].function.arguments' must encode a JSON object"),
        (json!(5), "'messages[1].tool_calls[0].function.arguments' must be a string"),
    ] {
        let message = decode_err(json!({ "model": "m", "messages": [
            { "role": "user", "content": "x" },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "c", "type": "function", "function": { "name": "f", "arguments": arguments } }
            ] }
        ] }));
        assert!(message.contains(needle), "{message}");
    }
    // Some clients send an object; that is what the string would have held.
    let req = decode(json!({ "model": "m", "messages": [
        { "role": "assistant", "content": null, "tool_calls": [
            { "id": "c", "type": "function", "function": { "name": "f", "arguments": { "a": 1 } } }
        ] }
    ] }));
    assert_eq!(req.messages[0], assistant(vec![call("c", "f", json!({ "a": 1 }))]));
    assert!(
        decode_err(json!({ "model": "m", "messages": [
        { "role": "assistant", "tool_calls": [{ "type": "function", "function": { "name": "f" } }] }
    ] }))
        .contains("'messages[0].tool_calls[0].id'")
    );
}

#[test]
fn scalar_parameters_map_one_to_one() {
    let req = with(json!({
        "max_completion_tokens": 300, "max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "top_k": 40,
        "stop": ["END", "STOP"], "stream": true, "seed": -7, "frequency_penalty": 0.5, "presence_penalty": -0.5,
        "user": "user-42", "parallel_tool_calls": false, "n": 1
    }));
    assert_eq!(req.model, "anthropic/claude-sonnet-4.6");
    assert_eq!(req.max_tokens, Some(300));
    assert_eq!((req.temperature, req.top_p, req.top_k), (Some(0.2), Some(0.9), Some(40)));
    assert_eq!(req.stop, vec!["END".to_owned(), "STOP".to_owned()]);
    assert!(req.stream);
    assert_eq!((req.seed, req.frequency_penalty, req.presence_penalty), (Some(-7), Some(0.5), Some(-0.5)));
    assert_eq!(req.user.as_deref(), Some("user-42"));
    assert_eq!(req.parallel_tool_calls, Some(false));
    assert!(req.extra.is_empty(), "{:?}", req.extra);

    assert_eq!(with(json!({ "max_tokens": 100 })).max_tokens, Some(100));
    assert_eq!(with(json!({ "stop": "END" })).stop, vec!["END".to_owned()]);
    assert_eq!(with(json!({ "stop": null })).stop, Vec::<String>::new());
    let plain = with(json!({}));
    assert_eq!((plain.max_tokens, plain.temperature, plain.stream, plain.tool_choice), (None, None, false, None));
}

#[test]
fn several_choices_are_refused() {
    assert!(with_err(json!({ "n": 2 })).contains("'n' must be 1"));
    assert!(with_err(json!({ "n": 0 })).contains("'n'"));
}

#[test]
fn fields_without_a_neutral_slot_are_kept_in_extra() {
    let req = with(json!({
        "models": ["a/b", "c/d"], "route": "fallback", "provider": { "order": ["OpenAI"] }, "plugins": [],
        "transforms": ["middle-out"], "usage": { "include": true }, "debug": { "echo_upstream_body": true },
        "session_id": "s", "trace": { "t": 1 }, "logprobs": true, "stream": true, "stream_options": { "include_usage": false },
        "metadata": { "k": "v" }
    }));
    let mut keys: Vec<&str> = req.extra.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "debug",
            "logprobs",
            "metadata",
            "models",
            "plugins",
            "provider",
            "route",
            "session_id",
            "stream_options",
            "trace",
            "transforms",
            "usage"
        ]
    );
    assert_eq!(req.extra["provider"], json!({ "order": ["OpenAI"] }));
}

#[test]
fn validation_errors_are_the_same_as_on_the_passthrough_path() {
    for body in [
        "{",
        r#"{"messages":[{"role":"user","content":"x"}]}"#,
        r#"{"model":"m","messages":[]}"#,
        r#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#,
        r#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#,
        r#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":5}"#,
        r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}"#,
        r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stop":5}"#,
    ] {
        let ours = request(body.as_bytes()).unwrap_err();
        let theirs = Validated::parse(body.as_bytes()).unwrap_err();
        assert_eq!((ours.status(), ours.message), (theirs.status(), theirs.message), "{body}");
    }
    // `models` alone names the model, as on the passthrough path.
    let req = decode(json!({ "models": ["openai/gpt-5.4"], "messages": [{ "role": "user", "content": "x" }] }));
    assert_eq!(req.model, "openai/gpt-5.4");
    assert!(with_err(json!({ "top_k": -1 })).contains("'top_k'"));
    assert!(with_err(json!({ "seed": "x" })).contains("'seed'"));
    assert!(with_err(json!({ "user": 5 })).contains("'user'"));
}

#[test]
fn tools_map_name_description_parameters_strict_and_cache_control() {
    let req = with(json!({ "tools": [
        { "type": "function", "function": {
            "name": "get_weather", "description": "Weather now", "strict": true,
            "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] } },
          "cache_control": { "type": "ephemeral" } },
        { "type": "function", "function": { "name": "ping" } }
    ] }));
    assert_eq!(
        req.tools,
        vec![
            Tool {
                name: "get_weather".into(),
                description: Some("Weather now".into()),
                parameters: json!({ "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] }),
                strict: Some(true),
                cache_control: Some(json!({ "type": "ephemeral" })),
            },
            Tool {
                name: "ping".into(),
                description: None,
                parameters: json!({ "type": "object", "properties": {} }),
                strict: None,
                cache_control: None,
            },
        ]
    );
    assert!(
        with_err(json!({ "tools": [{ "type": "custom", "custom": { "name": "x" } }] })).contains("'tools[0].type'")
    );
    assert!(
        with_err(json!({ "tools": [{ "type": "function", "function": {} }] })).contains("'tools[0].function.name'")
    );
    assert!(
        with_err(json!({ "tools": [{ "type": "function", "function": { "name": "f", "parameters": 1 } }] }))
            .contains("'tools[0].function.parameters'")
    );
}

#[test]
fn tool_choice_variants() {
    let tools = json!([
        { "type": "function", "function": { "name": "a" } },
        { "type": "function", "function": { "name": "b" } }
    ]);
    let cases = [
        (json!("auto"), ToolChoice::Auto, 2),
        (json!("none"), ToolChoice::None, 2),
        (json!("required"), ToolChoice::Required, 2),
        (json!({ "type": "function", "function": { "name": "b" } }), ToolChoice::Tool("b".into()), 2),
        (
            json!({ "type": "allowed_tools", "allowed_tools": { "mode": "required", "tools": [{ "type": "function", "function": { "name": "a" } }] } }),
            ToolChoice::Required,
            1,
        ),
        (
            json!({ "type": "allowed_tools", "allowed_tools": { "mode": "auto", "tools": [{ "type": "function", "function": { "name": "b" } }] } }),
            ToolChoice::Auto,
            1,
        ),
    ];
    for (choice, expected, tool_count) in cases {
        let req = with(json!({ "tools": tools, "tool_choice": choice }));
        assert_eq!(req.tool_choice, Some(expected), "{choice}");
        assert_eq!(req.tools.len(), tool_count, "{choice}");
    }
    for bad in [
        json!("sometimes"),
        json!({ "type": "function" }),
        json!(3),
        json!({ "type": "custom", "custom": { "name": "x" } }),
    ] {
        // A custom choice among function tools names an undeclared tool: refused either way.
        assert!(with_err(json!({ "tools": tools, "tool_choice": bad })).contains("'tool_choice' must"), "{bad}");
    }
}

#[test]
fn legacy_functions_read_as_tools() {
    let req = decode(json!({ "model": "m",
        "functions": [{ "name": "lookup", "parameters": { "type": "object" } }],
        "function_call": { "name": "lookup" },
        "messages": [
            { "role": "user", "content": "find x" },
            { "role": "assistant", "content": null, "function_call": { "name": "lookup", "arguments": "{\"q\":\"x\"}" } },
            { "role": "function", "name": "lookup", "content": "found" }
        ] }));
    assert_eq!(req.tools[0].name, "lookup");
    assert_eq!(req.tool_choice, Some(ToolChoice::Tool("lookup".into())));
    assert_eq!(req.messages[1], assistant(vec![call("call_lookup_1", "lookup", json!({ "q": "x" }))]));
    assert_eq!(req.messages[2], user(vec![result("call_lookup_1", "found")]));
}

#[test]
fn response_format_variants() {
    let cases = [
        (json!({ "type": "text" }), Some(ResponseFormat::Text)),
        (json!({ "type": "json_object" }), Some(ResponseFormat::JsonObject)),
        (
            json!({ "type": "json_schema", "json_schema": { "name": "person", "strict": true, "schema": { "type": "object" } } }),
            Some(ResponseFormat::JsonSchema {
                name: "person".into(),
                schema: json!({ "type": "object" }),
                strict: Some(true),
            }),
        ),
        (
            json!({ "type": "json_schema", "json_schema": { "name": "any" } }),
            Some(ResponseFormat::JsonSchema { name: "any".into(), schema: json!({}), strict: None }),
        ),
        (Value::Null, None),
    ];
    for (format, expected) in cases {
        assert_eq!(with(json!({ "response_format": format })).response_format, expected, "{format}");
    }
    assert!(with_err(json!({ "response_format": { "type": "yaml" } })).contains("'response_format.type'"));
    assert!(
        with_err(json!({ "response_format": { "type": "json_schema" } })).contains("'response_format.json_schema'")
    );
}

#[test]
fn reasoning_variants() {
    let r = |effort: Option<&str>, max_tokens: Option<u64>, exclude: bool| {
        Some(Reasoning { effort: effort.map(str::to_owned), max_tokens, exclude })
    };
    let cases = [
        (json!({ "reasoning": { "effort": "high" } }), r(Some("high"), None, false)),
        (json!({ "reasoning": { "max_tokens": 2000 } }), r(None, Some(2000), false)),
        (json!({ "reasoning": { "enabled": true } }), r(Some("medium"), None, false)),
        (json!({ "reasoning": { "enabled": false } }), r(Some("none"), None, false)),
        (json!({ "reasoning": { "effort": "low", "exclude": true } }), r(Some("low"), None, true)),
        (json!({ "reasoning": { "exclude": true } }), r(None, None, true)),
        (json!({ "reasoning_effort": "minimal" }), r(Some("minimal"), None, false)),
        (json!({ "reasoning": { "effort": "xhigh" }, "reasoning_effort": "low" }), r(Some("xhigh"), None, false)),
        (json!({ "reasoning": { "max_tokens": 10 }, "reasoning_effort": "low" }), r(Some("low"), Some(10), false)),
        (json!({ "reasoning": {} }), None),
        (json!({}), None),
    ];
    for (fields, expected) in cases {
        assert_eq!(with(fields.clone()).reasoning, expected, "{fields}");
    }
    assert!(with_err(json!({ "reasoning": { "effort": "extreme" } })).contains("'reasoning.effort' must be one of"));
    assert!(with_err(json!({ "reasoning_effort": 3 })).contains("'reasoning_effort'"));
    assert!(with_err(json!({ "reasoning": "high" })).contains("'reasoning' must be an object"));
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/openai/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn responses_with_tool_calls_decode_arguments_and_usage() {
    let resp = response(&fixture("completion_tool_calls.json")).unwrap();
    assert_eq!(resp.id, "chatcmpl-C7qcP2dWm9XtR4yLk0VbNs7HfQe3A");
    assert_eq!((resp.model.as_str(), resp.created), ("gpt-4o-2024-08-06", 1767226200));
    assert_eq!(
        resp.content,
        vec![
            call("call_Lk8sPq2Zx5WvMn3Bt7Rc1Yh4", "get_weather", json!({ "city": "Zürich", "unit": "celsius" })),
            call("call_Dv6Jf9Ng3Hq0Ts2Wk5Pm8Ax1", "get_time", json!({})),
        ]
    );
    assert_eq!(resp.finish_reason, FinishReason::ToolCalls);
    assert_eq!(resp.native_finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(resp.usage, Usage { prompt_tokens: 82, completion_tokens: 51, ..Usage::default() });
}

#[test]
fn openrouter_responses_keep_reasoning_first_and_the_native_finish_reason() {
    let resp = response(&fixture("completion_openrouter_reasoning.json")).unwrap();
    assert_eq!(
        resp.content,
        vec![
            Part::Thinking { text: "The user asks for the answer; it is 42.".into(), signature: None },
            Part::text("The answer is 42."),
        ]
    );
    assert_eq!((resp.finish_reason, resp.native_finish_reason.as_deref()), (FinishReason::Stop, Some("stop")));
    assert_eq!(
        resp.usage,
        Usage {
            prompt_tokens: 15,
            completion_tokens: 30,
            cached_tokens: 5,
            cache_write_tokens: 0,
            reasoning_tokens: 20
        }
    );
}

fn completion(message: Value, finish_reason: Value) -> Value {
    json!({ "id": "x", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{ "index": 0, "message": message, "finish_reason": finish_reason }] })
}

#[test]
fn finish_reasons_are_normalised() {
    let text = json!({ "role": "assistant", "content": "hi" });
    for (raw, expected) in [
        (json!("stop"), FinishReason::Stop),
        (json!("length"), FinishReason::Length),
        (json!("tool_calls"), FinishReason::ToolCalls),
        (json!("function_call"), FinishReason::ToolCalls),
        (json!("content_filter"), FinishReason::ContentFilter),
        (json!("error"), FinishReason::Error),
        (json!("SAFETY"), FinishReason::Stop),
        (Value::Null, FinishReason::Stop),
    ] {
        let resp = response(completion(text.clone(), raw.clone()).to_string().as_bytes()).unwrap();
        assert_eq!(resp.finish_reason, expected, "{raw}");
        assert_eq!(resp.native_finish_reason.as_deref(), raw.as_str(), "{raw}");
    }
    // Some backends say `stop` with tool calls.
    let calls = json!({ "role": "assistant", "content": null, "tool_calls": [
        { "id": "c", "type": "function", "function": { "name": "f", "arguments": "{}" } }
    ] });
    let resp = response(completion(calls, json!("stop")).to_string().as_bytes()).unwrap();
    assert_eq!((resp.finish_reason, resp.native_finish_reason.as_deref()), (FinishReason::ToolCalls, Some("stop")));
}

#[test]
fn unparseable_upstream_arguments_are_kept_raw_and_refusals_become_text() {
    let message = json!({ "role": "assistant", "content": null, "refusal": "I can't help with that.", "tool_calls": [
        { "id": "c1", "type": "function", "function": { "name": "f", "arguments": "{\"a\": tru" } },
        { "id": "c2", "type": "function", "function": { "name": "g", "arguments": "[1]" } }
    ] });
    let resp = response(completion(message, json!("tool_calls")).to_string().as_bytes()).unwrap();
    assert_eq!(
        resp.content,
        vec![
            Part::text("I can't help with that."),
            call("c1", "f", json!({ "_raw": "{\"a\": tru" })),
            call("c2", "g", json!({ "_raw": "[1]" })),
        ]
    );
    assert_eq!(resp.usage, Usage::default());
}

#[test]
fn bodies_that_are_not_completions_are_invalid_responses() {
    for body in [
        "<html>502</html>".to_owned(),
        json!({ "id": "x" }).to_string(),
        json!({ "id": "x", "choices": [] }).to_string(),
        json!({ "error": { "message": "overloaded", "code": 502 } }).to_string(),
        json!({ "choices": "nope" }).to_string(),
    ] {
        assert!(response(body.as_bytes()).is_err(), "{body}");
    }
}
