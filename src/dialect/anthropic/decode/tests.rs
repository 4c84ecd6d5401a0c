use serde_json::json;

use super::*;
use crate::error::ErrorKind;

/// A minimal valid body with `extra` members merged in.
fn body(extra: Value) -> Vec<u8> {
    let mut base = json!({
        "model": "claude-sonnet-4-6",
        "max_tokens": 1024,
        "messages": [{ "role": "user", "content": "Hi" }],
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    serde_json::to_vec(&base).unwrap()
}

fn decode(extra: Value) -> ChatRequest {
    request(&body(extra)).unwrap_or_else(|e| panic!("{e}"))
}

/// The parts of a one-message conversation with these blocks in a turn of `role`.
fn parts(role: &str, blocks: Value) -> Vec<Part> {
    let req = decode(json!({ "messages": [{ "role": role, "content": blocks }] }));
    req.messages.into_iter().next().unwrap().content
}

fn b64(media_type: &str, data: &str) -> ImageSource {
    ImageSource::Base64 { media_type: media_type.into(), data: data.into() }
}

#[test]
fn minimal_request_and_scalar_fields() {
    let req = decode(json!({
        "stop_sequences": ["\n\nHuman:", "END"],
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 40,
        "stream": true,
        "metadata": { "user_id": "user-123" },
    }));
    assert_eq!(req.model, "claude-sonnet-4-6");
    assert_eq!(req.max_tokens, Some(1024));
    assert_eq!(req.messages, vec![Message { role: Role::User, content: vec![Part::text("Hi")] }]);
    assert_eq!(req.stop, vec!["\n\nHuman:".to_owned(), "END".into()]);
    assert_eq!((req.temperature, req.top_p, req.top_k), (Some(0.3), Some(0.9), Some(40)));
    assert!(req.stream);
    assert_eq!(req.user.as_deref(), Some("user-123"));
    assert!(req.extra.is_empty(), "{:?}", req.extra);
    assert!(req.system.is_empty() && req.tools.is_empty() && req.tool_choice.is_none() && req.reasoning.is_none());
}

#[test]
fn system_string_or_text_blocks_keep_cache_control() {
    let cases = [
        (json!("Be brief."), vec![Part::text("Be brief.")]),
        (json!(""), vec![]),
        (
            json!([
                { "type": "text", "text": "Rules.", "cache_control": { "type": "ephemeral" } },
                { "type": "text", "text": "More." },
            ]),
            vec![
                Part::Text { text: "Rules.".into(), cache_control: Some(json!({ "type": "ephemeral" })) },
                Part::text("More."),
            ],
        ),
    ];
    for (system, expected) in cases {
        assert_eq!(decode(json!({ "system": system })).system, expected, "{system}");
    }
}

#[test]
fn content_block_table() {
    let ephemeral = json!({ "type": "ephemeral", "ttl": "1h" });
    let cases: Vec<(&str, Value, Part)> = vec![
        ("user", json!({ "type": "text", "text": "hello" }), Part::text("hello")),
        (
            "user",
            json!({ "type": "text", "text": "cached", "cache_control": ephemeral, "citations": null }),
            Part::Text { text: "cached".into(), cache_control: Some(ephemeral.clone()) },
        ),
        (
            "user",
            json!({ "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo=" } }),
            Part::Image { source: b64("image/png", "iVBORw0KGgo=") },
        ),
        (
            "user",
            json!({ "type": "image", "source": { "type": "url", "url": "https://example.com/cat.jpg" } }),
            Part::Image { source: ImageSource::Url("https://example.com/cat.jpg".into()) },
        ),
        (
            "user",
            json!({ "type": "document", "source": { "type": "base64", "media_type": "application/pdf", "data": "JVBERi0=" }, "title": "T" }),
            Part::Document { source: b64("application/pdf", "JVBERi0=") },
        ),
        (
            "user",
            json!({ "type": "document", "source": { "type": "url", "url": "https://example.com/a.pdf" } }),
            Part::Document { source: ImageSource::Url("https://example.com/a.pdf".into()) },
        ),
        (
            "user",
            json!({ "type": "document", "source": { "type": "text", "media_type": "text/plain", "data": "plain doc" } }),
            Part::text("plain doc"),
        ),
        (
            "assistant",
            json!({ "type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": { "city": "Paris" } }),
            Part::ToolCall { id: "toolu_01".into(), name: "get_weather".into(), arguments: json!({ "city": "Paris" }) },
        ),
        (
            "assistant",
            json!({ "type": "tool_use", "id": "toolu_02", "name": "now" }),
            Part::ToolCall { id: "toolu_02".into(), name: "now".into(), arguments: json!({}) },
        ),
        (
            "user",
            json!({ "type": "tool_result", "tool_use_id": "toolu_01", "content": "15 degrees" }),
            Part::ToolResult { call_id: "toolu_01".into(), content: vec![Part::text("15 degrees")], is_error: false },
        ),
        (
            "user",
            json!({ "type": "tool_result", "tool_use_id": "toolu_01", "is_error": true, "content": [
                { "type": "text", "text": "failed" },
                { "type": "image", "source": { "type": "base64", "media_type": "image/gif", "data": "R0lG" } },
            ] }),
            Part::ToolResult {
                call_id: "toolu_01".into(),
                content: vec![Part::text("failed"), Part::Image { source: b64("image/gif", "R0lG") }],
                is_error: true,
            },
        ),
        (
            "user",
            json!({ "type": "tool_result", "tool_use_id": "toolu_03" }),
            Part::ToolResult { call_id: "toolu_03".into(), content: vec![], is_error: false },
        ),
        (
            "assistant",
            json!({ "type": "thinking", "thinking": "hmm", "signature": "sig==" }),
            Part::Thinking { text: "hmm".into(), signature: Some("sig==".into()) },
        ),
        (
            "assistant",
            json!({ "type": "redacted_thinking", "data": "EmwKAhgB" }),
            Part::RedactedThinking { data: "EmwKAhgB".into() },
        ),
    ];
    for (role, block, expected) in cases {
        assert_eq!(parts(role, json!([block])), vec![expected], "{block}");
    }
}

#[test]
fn turns_keep_roles_and_order() {
    let req = decode(json!({ "messages": [
        { "role": "user", "content": "a" },
        { "role": "user", "content": [{ "type": "text", "text": "b" }] },
        { "role": "assistant", "content": "c" },
    ] }));
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, vec![Role::User, Role::User, Role::Assistant]);
}

#[test]
fn tools_and_tool_choice_table() {
    let req = decode(json!({ "tools": [
        { "name": "get_weather", "description": "Weather", "input_schema": { "type": "object", "properties": { "city": { "type": "string" } } },
          "cache_control": { "type": "ephemeral" }, "strict": true },
        { "type": "custom", "name": "noop" },
    ] }));
    assert_eq!(
        req.tools,
        vec![
            Tool {
                name: "get_weather".into(),
                description: Some("Weather".into()),
                parameters: json!({ "type": "object", "properties": { "city": { "type": "string" } } }),
                strict: Some(true),
                cache_control: Some(json!({ "type": "ephemeral" })),
            },
            Tool {
                name: "noop".into(),
                description: None,
                parameters: json!({ "type": "object", "properties": {} }),
                strict: None,
                cache_control: None,
            },
        ]
    );

    let cases = [
        (json!({ "type": "auto" }), Some(ToolChoice::Auto), None),
        (json!({ "type": "any" }), Some(ToolChoice::Required), None),
        (json!({ "type": "tool", "name": "get_weather" }), Some(ToolChoice::Tool("get_weather".into())), None),
        (json!({ "type": "none" }), Some(ToolChoice::None), None),
        (json!({ "type": "auto", "disable_parallel_tool_use": true }), Some(ToolChoice::Auto), Some(false)),
        (json!({ "type": "any", "disable_parallel_tool_use": true }), Some(ToolChoice::Required), Some(false)),
        (
            json!({ "type": "tool", "name": "x", "disable_parallel_tool_use": true }),
            Some(ToolChoice::Tool("x".into())),
            Some(false),
        ),
        (json!({ "type": "auto", "disable_parallel_tool_use": false }), Some(ToolChoice::Auto), None),
    ];
    for (choice, expected, parallel) in cases {
        let req = decode(json!({ "tool_choice": choice }));
        assert_eq!((req.tool_choice, req.parallel_tool_calls), (expected, parallel), "{choice}");
    }
}

#[test]
fn thinking_effort_and_output_format_table() {
    let reasoning = |effort: Option<&str>, max_tokens: Option<u64>| {
        Some(Reasoning { effort: effort.map(Into::into), max_tokens, exclude: false })
    };
    let cases = [
        (json!({ "thinking": { "type": "enabled", "budget_tokens": 2048 } }), reasoning(None, Some(2048))),
        (json!({ "thinking": { "type": "disabled" } }), None),
        (json!({ "thinking": { "type": "adaptive" } }), reasoning(None, None)),
        (
            json!({ "thinking": { "type": "adaptive" }, "output_config": { "effort": "high" } }),
            reasoning(Some("high"), None),
        ),
        (json!({ "output_config": { "effort": "low" } }), reasoning(Some("low"), None)),
        (
            json!({ "thinking": { "type": "enabled", "budget_tokens": 5000 }, "output_config": { "effort": "max" } }),
            reasoning(Some("max"), Some(5000)),
        ),
    ];
    for (fields, expected) in cases {
        assert_eq!(decode(fields.clone()).reasoning, expected, "{fields}");
    }

    let schema = json!({ "type": "object", "properties": { "a": { "type": "integer" } } });
    let req =
        decode(json!({ "output_config": { "format": { "type": "json_schema", "schema": schema }, "future": 1 } }));
    assert_eq!(
        req.response_format,
        Some(ResponseFormat::JsonSchema { name: SCHEMA_NAME.into(), schema, strict: None })
    );
    assert_eq!(req.extra.get("output_config"), Some(&json!({ "future": 1 })));
}

#[test]
fn unknown_fields_go_to_extra() {
    let req = decode(json!({
        "service_tier": "auto",
        "cache_control": { "type": "ephemeral" },
        "container": "c_1",
        "metadata": { "user_id": "u", "other": true },
    }));
    assert_eq!(req.user.as_deref(), Some("u"));
    assert_eq!(
        Value::Object(req.extra),
        json!({
            "service_tier": "auto",
            "cache_control": { "type": "ephemeral" },
            "container": "c_1",
            "metadata": { "other": true },
        })
    );
}

#[test]
fn bad_requests_name_the_field() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{not json".to_vec(), "invalid JSON"),
        (b"[1,2]".to_vec(), "must be a JSON object"),
        (br#"{"max_tokens":1,"messages":[{"role":"user","content":"x"}]}"#.to_vec(), "'model'"),
        (body(json!({ "model": 5 })), "'model' must be a string"),
        (br#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#.to_vec(), "'max_tokens'"),
        (body(json!({ "max_tokens": -1 })), "'max_tokens' must be a non-negative integer"),
        (body(json!({ "max_tokens": "10" })), "'max_tokens'"),
        (br#"{"model":"m","max_tokens":1}"#.to_vec(), "'messages'"),
        (body(json!({ "messages": [] })), "'messages' must not be empty"),
        (body(json!({ "messages": {} })), "'messages' must be an array"),
        (body(json!({ "messages": ["hi"] })), "messages[0] must be an object"),
        (body(json!({ "messages": [{ "role": "system", "content": "x" }] })), "messages[0].role"),
        (body(json!({ "messages": [{ "content": "x" }] })), "messages[0]: missing required field 'role'"),
        (body(json!({ "messages": [{ "role": "user" }] })), "messages[0]: missing required field 'content'"),
        (body(json!({ "messages": [{ "role": "user", "content": 3 }] })), "messages[0].content must be"),
        (
            body(json!({ "messages": [{ "role": "user", "content": [{ "text": "x" }] }] })),
            "messages[0].content[0]: missing required field 'type'",
        ),
        (
            body(json!({ "messages": [{ "role": "user", "content": [{ "type": "text" }] }] })),
            "messages[0].content[0] (text): missing field `text`",
        ),
        (
            body(
                json!({ "messages": [{ "role": "assistant", "content": [{ "type": "server_tool_use", "id": "s", "name": "web_search", "input": {} }] }] }),
            ),
            "messages[0].content[0]: content block type 'server_tool_use' is not supported",
        ),
        (
            body(
                json!({ "messages": [{ "role": "user", "content": [{ "type": "tool_use", "id": "t", "name": "n", "input": {} }] }] }),
            ),
            "messages[0].content[0]: a 'tool_use' block is not allowed here",
        ),
        (
            body(
                json!({ "messages": [{ "role": "assistant", "content": [{ "type": "tool_result", "tool_use_id": "t" }] }] }),
            ),
            "messages[0].content[0]: a 'tool_result' block is not allowed here",
        ),
        (
            body(
                json!({ "messages": [{ "role": "assistant", "content": [{ "type": "tool_use", "id": "t", "name": "n", "input": [1] }] }] }),
            ),
            "messages[0].content[0].input must be an object",
        ),
        (
            body(
                json!({ "messages": [{ "role": "user", "content": [{ "type": "image", "source": { "type": "file", "file_id": "f" } }] }] }),
            ),
            "messages[0].content[0].source: source type 'file'",
        ),
        (
            body(
                json!({ "messages": [{ "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "t", "content": [{ "type": "tool_use", "id": "a", "name": "b", "input": {} }] }] }] }),
            ),
            "messages[0].content[0].content[0]: a 'tool_use' block is not allowed here",
        ),
        (body(json!({ "system": 7 })), "'system' must be"),
        (body(json!({ "system": [{ "type": "image" }] })), "system[0] must be a text block"),
        (body(json!({ "tools": {} })), "'tools' must be an array"),
        (body(json!({ "tools": [{ "description": "no name" }] })), "tools[0]: missing field `name`"),
        (body(json!({ "tools": [{ "type": "web_search_20250305", "name": "web_search" }] })), "tools[0]: tool type"),
        (body(json!({ "tools": [{ "name": "t", "input_schema": "x" }] })), "tools[0].input_schema"),
        (body(json!({ "tool_choice": "auto" })), "'tool_choice'"),
        (body(json!({ "tool_choice": { "type": "tool" } })), "'tool_choice'"),
        (body(json!({ "thinking": { "type": "enabled" } })), "'thinking'"),
        (body(json!({ "thinking": { "type": "sometimes" } })), "'thinking'"),
        (body(json!({ "temperature": "hot" })), "'temperature' must be a number"),
        (body(json!({ "stop_sequences": "END" })), "'stop_sequences' must be an array of strings"),
        (body(json!({ "stream": "yes" })), "'stream' must be a boolean"),
        (body(json!({ "metadata": { "user_id": 1 } })), "'metadata.user_id'"),
        (body(json!({ "output_config": { "format": { "type": "xml" } } })), "'output_config.format'"),
    ];
    for (input, needle) in cases {
        let err = request(&input).expect_err(needle);
        assert_eq!(err.kind, ErrorKind::BadRequest, "{needle}");
        assert!(err.message.contains(needle), "expected {needle:?} in {:?}", err.message);
    }
}

// ----------------------------------------------------------------------------------------------
// Responses
// ----------------------------------------------------------------------------------------------

fn message_with(stop_reason: Value, usage: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
        "content": [{ "type": "text", "text": "Hi" }],
        "stop_reason": stop_reason, "stop_sequence": null, "usage": usage,
    }))
    .unwrap()
}

#[test]
fn stop_reason_table() {
    let cases = [
        (json!("end_turn"), FinishReason::Stop),
        (json!("stop_sequence"), FinishReason::Stop),
        (json!("pause_turn"), FinishReason::Stop),
        (json!("max_tokens"), FinishReason::Length),
        (json!("model_context_window_exceeded"), FinishReason::Length),
        (json!("tool_use"), FinishReason::ToolCalls),
        (json!("refusal"), FinishReason::ContentFilter),
        (json!("something_new"), FinishReason::Stop),
        (json!(null), FinishReason::Stop),
    ];
    for (stop, expected) in cases {
        let resp = response(&message_with(stop.clone(), json!({ "input_tokens": 1, "output_tokens": 1 }))).unwrap();
        assert_eq!(resp.finish_reason, expected, "{stop}");
        assert_eq!(resp.native_finish_reason.as_deref(), stop.as_str(), "{stop}");
    }
}

#[test]
fn usage_table() {
    let usage = |prompt, completion, cached, cache_write, reasoning| Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        cached_tokens: cached,
        cache_write_tokens: cache_write,
        reasoning_tokens: reasoning,
    };
    let cases = [
        (json!({ "input_tokens": 10, "output_tokens": 5 }), usage(10, 5, 0, 0, 0)),
        (
            json!({ "input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 300 }),
            usage(330, 5, 300, 20, 0),
        ),
        (
            json!({ "input_tokens": 1, "output_tokens": 50, "cache_creation_input_tokens": null, "output_tokens_details": { "thinking_tokens": 30 } }),
            usage(1, 50, 0, 0, 30),
        ),
        (json!({}), usage(0, 0, 0, 0, 0)),
    ];
    for (wire, expected) in cases {
        assert_eq!(response(&message_with(json!("end_turn"), wire.clone())).unwrap().usage, expected, "{wire}");
    }
}

#[test]
fn recorded_tool_use_message() {
    let bytes = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/anthropic/message_tool_use.json"));
    let resp = response(bytes).unwrap();
    assert_eq!(
        resp,
        ChatResponse {
            id: "msg_01Aq9w938a90dw8q".into(),
            model: "claude-sonnet-4-6".into(),
            created: 0,
            content: vec![
                Part::Thinking { text: "The user wants the weather.".into(), signature: Some("EqQBCgIYAhIM".into()) },
                Part::text("I'll check the weather."),
                // The server_tool_use block has no neutral form and is skipped.
                Part::ToolCall {
                    id: "toolu_01A09q90qw90lq917835lq9".into(),
                    name: "get_weather".into(),
                    arguments: json!({ "location": "San Francisco, CA", "unit": "celsius" }),
                },
            ],
            finish_reason: FinishReason::ToolCalls,
            native_finish_reason: Some("tool_use".into()),
            stop_sequence: None,
            usage: Usage {
                prompt_tokens: 3195,
                completion_tokens: 503,
                cached_tokens: 1000,
                cache_write_tokens: 100,
                reasoning_tokens: 40,
            },
        }
    );
}

#[test]
fn stop_sequence_is_kept_and_bad_bodies_are_invalid() {
    let body = br#"{"id":"m","type":"message","role":"assistant","model":"c","content":[],"stop_reason":"stop_sequence","stop_sequence":"END","usage":{"input_tokens":1,"output_tokens":0}}"#;
    assert_eq!(response(body).unwrap().stop_sequence.as_deref(), Some("END"));
    for bad in
        [&b"<html>502</html>"[..], br#"{"type":"error","error":{"type":"api_error","message":"x"}}"#, br#"{"id":"m"}"#]
    {
        assert!(response(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}
