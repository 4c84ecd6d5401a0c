use serde_json::json;

use super::*;
use crate::error::ErrorKind;
use crate::usage::Usage;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gemini/", $name))
    };
}

/// A minimal valid body with `extra` members merged in.
fn body(extra: Value) -> Vec<u8> {
    let mut base = json!({ "contents": [{ "role": "user", "parts": [{ "text": "Hi" }] }] });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    serde_json::to_vec(&base).unwrap()
}

fn decode(extra: Value) -> ChatRequest {
    request(&body(extra)).unwrap_or_else(|e| panic!("{e}"))
}

/// The parts of a one-content conversation with these parts in a turn of `role`.
fn parts(role: &str, parts: Value) -> Vec<Part> {
    let req = decode(json!({ "contents": [{ "role": role, "parts": parts }] }));
    req.messages.into_iter().next().unwrap().content
}

fn b64(media_type: &str, data: &str) -> ImageSource {
    ImageSource::Base64 { media_type: media_type.into(), data: data.into() }
}

fn call(id: &str, name: &str, arguments: Value) -> Part {
    Part::ToolCall { id: id.into(), name: name.into(), arguments }
}

fn result(id: &str, text: &str, is_error: bool) -> Part {
    Part::ToolResult { call_id: id.into(), content: vec![Part::text(text)], is_error }
}

#[test]
fn minimal_request_leaves_model_and_stream_to_the_glue() {
    let req = decode(json!({}));
    assert_eq!(
        req,
        ChatRequest {
            messages: vec![Message { role: Role::User, content: vec![Part::text("Hi")] }],
            ..Default::default()
        }
    );
}

#[test]
fn recorded_request_decodes_whole() {
    let req = request(fixture!("request.json")).unwrap();
    let signed = "call_0__thought__CiQB0e2Kb7ZRx+u/Wn0cJ2zkWQ==";
    assert_eq!(req.model, "");
    assert!(!req.stream);
    assert_eq!(req.system, vec![Part::text("You are a weather bot."), Part::text("Answer briefly.")]);
    assert_eq!(
        req.messages,
        vec![
            Message {
                role: Role::User,
                content: vec![
                    Part::text("What's the weather in Paris? Here is a photo."),
                    Part::Image { source: b64("image/png", "iVBORw0KGgo=") },
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    // Two thought parts, one thought: the signature closes it.
                    Part::Thinking {
                        text: "Looking at the sky and the city.".into(),
                        signature: Some("gemini:Eh0KGwE=".into()),
                    },
                    call(signed, "get_weather", json!({ "city": "Paris" })),
                ],
            },
            Message { role: Role::User, content: vec![result(signed, "15°C, cloudy", false)] },
            Message { role: Role::Assistant, content: vec![Part::text("It is 15°C and cloudy in Paris.")] },
            Message {
                role: Role::User,
                content: vec![
                    Part::text("And the PDF?"),
                    Part::Document {
                        source: ImageSource::Url(
                            "https://generativelanguage.googleapis.com/v1beta/files/abc123".into()
                        ),
                    },
                ],
            },
        ]
    );
    assert_eq!(
        req.tools,
        vec![Tool {
            name: "get_weather".into(),
            description: Some("Current weather".into()),
            parameters: json!({
                "type": "object",
                "properties": {
                    "city": { "type": "string", "description": "City name" },
                    "unit": { "type": ["string", "null"], "enum": ["celsius", "fahrenheit"] },
                },
                "required": ["city"],
            }),
            strict: None,
            cache_control: None,
        }]
    );
    assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
    assert_eq!(
        (req.temperature, req.top_p, req.top_k, req.max_tokens, req.seed),
        (Some(0.4), Some(0.95), Some(40), Some(2048), Some(7))
    );
    assert_eq!(req.stop, vec!["END".to_owned()]);
    assert_eq!(req.reasoning, Some(Reasoning { effort: None, max_tokens: Some(2048), exclude: false }));
    assert_eq!(
        Value::Object(req.extra),
        json!({
            "safetySettings": [{ "category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH" }],
            "generationConfig": { "responseModalities": ["TEXT"] },
        })
    );
}

#[test]
fn part_table() {
    let cases: Vec<(&str, Value, Vec<Part>)> = vec![
        ("user", json!({ "text": "hello" }), vec![Part::text("hello")]),
        ("user", json!({ "text": "" }), vec![]),
        // A plain text's signature is not needed back.
        ("model", json!({ "text": "answer", "thoughtSignature": "c2ln" }), vec![Part::text("answer")]),
        (
            "model",
            json!({ "text": "why", "thought": true }),
            vec![Part::Thinking { text: "why".into(), signature: None }],
        ),
        (
            "model",
            json!({ "text": "why", "thought": true, "thoughtSignature": "c2ln" }),
            vec![Part::Thinking { text: "why".into(), signature: Some("gemini:c2ln".into()) }],
        ),
        // Another provider's signature, as the encoder showed it to the client, comes back as it was.
        (
            "model",
            json!({ "text": "why", "thought": true, "thought_signature": "foreign:EqQBCgIYAhIM" }),
            vec![Part::Thinking { text: "why".into(), signature: Some("EqQBCgIYAhIM".into()) }],
        ),
        (
            "user",
            json!({ "inlineData": { "mimeType": "image/JPEG", "data": "/9j/4AAQ" } }),
            vec![Part::Image { source: b64("image/jpeg", "/9j/4AAQ") }],
        ),
        (
            "user",
            json!({ "inline_data": { "mime_type": "application/pdf", "data": "JVBERi0=" } }),
            vec![Part::Document { source: b64("application/pdf", "JVBERi0=") }],
        ),
        (
            "user",
            json!({ "fileData": { "mimeType": "image/png", "fileUri": "https://example.com/cat.png" } }),
            vec![Part::Image { source: ImageSource::Url("https://example.com/cat.png".into()) }],
        ),
        (
            "user",
            json!({ "fileData": { "fileUri": "gs://bucket/report.PDF" } }),
            vec![Part::Document { source: ImageSource::Url("gs://bucket/report.PDF".into()) }],
        ),
        (
            "user",
            json!({ "file_data": { "file_uri": "https://generativelanguage.googleapis.com/v1beta/files/x" } }),
            vec![Part::Image {
                source: ImageSource::Url("https://generativelanguage.googleapis.com/v1beta/files/x".into()),
            }],
        ),
        ("model", json!({ "functionCall": { "name": "now" } }), vec![call("call_0", "now", json!({}))]),
        (
            "model",
            json!({ "functionCall": { "id": "fc-7", "name": "get", "args": { "a": [1] } } }),
            vec![call("fc-7", "get", json!({ "a": [1] }))],
        ),
        (
            "model",
            json!({ "function_call": { "name": "get", "args": {} }, "thought_signature": "c2ln" }),
            vec![call("call_0__thought__c2ln", "get", json!({}))],
        ),
        // The validator-skipping sentinel is no signature.
        (
            "model",
            json!({ "functionCall": { "name": "get", "args": {} }, "thoughtSignature": "skip_thought_signature_validator" }),
            vec![call("call_0", "get", json!({}))],
        ),
    ];
    for (role, part, expected) in cases {
        assert_eq!(parts(role, json!([part])), expected, "{part}");
    }
}

#[test]
fn thoughts_merge_until_a_signature() {
    let got = parts(
        "model",
        json!([
            { "text": "a", "thought": true },
            { "text": "b", "thought": true, "thoughtSignature": "s1" },
            { "text": "c", "thought": true },
            { "text": "visible" },
            { "text": "d", "thought": true },
        ]),
    );
    assert_eq!(
        got,
        vec![
            Part::Thinking { text: "ab".into(), signature: Some("gemini:s1".into()) },
            Part::Thinking { text: "c".into(), signature: None },
            Part::text("visible"),
            Part::Thinking { text: "d".into(), signature: None },
        ]
    );
}

#[test]
fn function_responses_pair_with_calls_by_id_then_name_and_order() {
    let req = decode(json!({ "contents": [
        { "role": "user", "parts": [{ "text": "go" }] },
        { "role": "model", "parts": [
            { "functionCall": { "name": "get", "args": { "n": 1 } }, "thoughtSignature": "c2ln" },
            { "functionCall": { "name": "get", "args": { "n": 2 } } },
            { "functionCall": { "id": "own", "name": "put", "args": {} } },
        ] },
        { "role": "user", "parts": [
            { "functionResponse": { "id": "own", "name": "put", "response": { "error": "disk full" } } },
            { "functionResponse": { "name": "get", "response": { "content": "one" } } },
        ] },
        // Answers may be split over user contents.
        { "parts": [{ "functionResponse": { "name": "get", "response": { "temp": 3, "ok": true } } }] },
        { "role": "model", "parts": [{ "functionCall": { "name": "get", "args": {} } }] },
        { "role": "user", "parts": [{ "functionResponse": { "name": "get", "response": {} } }] },
    ] }));
    let results: Vec<&Part> =
        req.messages.iter().flat_map(|m| &m.content).filter(|p| matches!(p, Part::ToolResult { .. })).collect();
    assert_eq!(
        results,
        vec![
            &result("own", "disk full", true),
            &result("call_0__thought__c2ln", "one", false),
            &result("call_1", r#"{"ok":true,"temp":3}"#, false),
            &result("call_3", "{}", false),
        ]
    );
}

#[test]
fn function_output_table() {
    let cases = [
        (json!({ "content": "x" }), vec![Part::text("x")], false),
        (json!({ "output": "x" }), vec![Part::text("x")], false),
        (json!({ "error": "bad" }), vec![Part::text("bad")], true),
        (json!({ "content": "" }), vec![], false),
        (json!({ "content": 5 }), vec![Part::text(r#"{"content":5}"#)], false),
        (json!({ "output": "x", "more": 1 }), vec![Part::text(r#"{"more":1,"output":"x"}"#)], false),
        (Value::Null, vec![], false),
    ];
    for (response, content, is_error) in cases {
        assert_eq!(function_output(response.clone()), (content, is_error), "{response}");
    }
}

#[test]
fn tools_and_tool_config_table() {
    let tools = json!([{ "functionDeclarations": [
        { "name": "a", "parametersJsonSchema": { "type": "object", "properties": { "x": { "type": "integer", "const": 1 } } } },
        { "name": "b", "description": "B" },
        { "name": "c", "parameters": { "type": "OBJECT", "properties": { "l": { "type": "ARRAY", "items": { "type": "NUMBER" } } } } },
    ] }]);
    let req = decode(json!({ "tools": tools }));
    let parameters: Vec<&Value> = req.tools.iter().map(|t| &t.parameters).collect();
    assert_eq!(
        parameters,
        vec![
            // JSON Schema is taken as is.
            &json!({ "type": "object", "properties": { "x": { "type": "integer", "const": 1 } } }),
            &json!({ "type": "object", "properties": {} }),
            &json!({ "type": "object", "properties": { "l": { "type": "array", "items": { "type": "number" } } } }),
        ]
    );
    assert_eq!(req.tools[1].description.as_deref(), Some("B"));

    let names = |req: &ChatRequest| req.tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    let cases = [
        (json!({ "mode": "AUTO" }), Some(ToolChoice::Auto), vec!["a", "b", "c"]),
        (json!({ "mode": "VALIDATED" }), Some(ToolChoice::Auto), vec!["a", "b", "c"]),
        (json!({ "mode": "NONE" }), Some(ToolChoice::None), vec!["a", "b", "c"]),
        (json!({ "mode": "ANY" }), Some(ToolChoice::Required), vec!["a", "b", "c"]),
        (
            json!({ "mode": "ANY", "allowedFunctionNames": ["b"] }),
            Some(ToolChoice::Tool("b".into())),
            vec!["a", "b", "c"],
        ),
        (json!({ "mode": "ANY", "allowedFunctionNames": ["a", "c"] }), Some(ToolChoice::Required), vec!["a", "c"]),
        (json!({ "mode": "AUTO", "allowed_function_names": ["c"] }), Some(ToolChoice::Auto), vec!["c"]),
        (json!({ "mode": "MODE_UNSPECIFIED" }), None, vec!["a", "b", "c"]),
        (json!({}), None, vec!["a", "b", "c"]),
    ];
    for (config, choice, kept) in cases {
        let req = decode(json!({ "tools": tools, "toolConfig": { "functionCallingConfig": config } }));
        assert_eq!(
            (req.tool_choice.clone(), names(&req)),
            (choice, kept.iter().map(|s| s.to_string()).collect()),
            "{config}"
        );
    }
    let req = decode(json!({ "tools": tools, "tool_config": { "function_calling_config": { "mode": "NONE" } } }));
    assert_eq!(req.tool_choice, Some(ToolChoice::None));
}

#[test]
fn generation_config_table() {
    let reasoning = |effort: Option<&str>, max_tokens: Option<u64>, exclude: bool| {
        Some(Reasoning { effort: effort.map(Into::into), max_tokens, exclude })
    };
    let cases = [
        (json!({ "thinkingConfig": { "thinkingBudget": 0 } }), reasoning(Some("none"), None, true)),
        (json!({ "thinkingConfig": { "thinkingBudget": -1, "includeThoughts": true } }), reasoning(None, None, false)),
        (json!({ "thinkingConfig": { "thinkingBudget": 4096 } }), reasoning(None, Some(4096), true)),
        (
            json!({ "thinkingConfig": { "thinkingLevel": "HIGH", "includeThoughts": true } }),
            reasoning(Some("high"), None, false),
        ),
        (
            json!({ "thinking_config": { "thinking_level": "low", "include_thoughts": false } }),
            reasoning(Some("low"), None, true),
        ),
        (json!({ "thinkingConfig": { "includeThoughts": true } }), reasoning(None, None, false)),
        (json!({}), None),
    ];
    for (config, expected) in cases {
        assert_eq!(decode(json!({ "generationConfig": config })).reasoning, expected, "{config}");
    }

    let schema = json!({ "type": "object", "properties": { "n": { "type": "integer" } } });
    let cases = [
        (json!({ "responseMimeType": "application/json" }), Some(ResponseFormat::JsonObject)),
        (
            json!({ "responseMimeType": "application/json", "responseJsonSchema": schema }),
            Some(ResponseFormat::JsonSchema { name: SCHEMA_NAME.into(), schema: schema.clone(), strict: None }),
        ),
        (
            json!({ "responseMimeType": "application/json", "responseSchema": { "type": "OBJECT", "properties": { "n": { "type": "INTEGER" } } } }),
            Some(ResponseFormat::JsonSchema { name: SCHEMA_NAME.into(), schema: schema.clone(), strict: None }),
        ),
        (json!({ "responseMimeType": "text/plain" }), None),
        (json!({}), None),
    ];
    for (config, expected) in cases {
        let req = decode(json!({ "generationConfig": config }));
        assert_eq!(req.response_format, expected, "{config}");
        assert!(req.extra.is_empty(), "{config}: {:?}", req.extra);
    }

    let req = decode(json!({ "generationConfig": {
        "responseMimeType": "text/x.enum", "responseSchema": { "type": "STRING", "enum": ["a"] },
        "presencePenalty": 0.5, "frequency_penalty": -0.5, "candidateCount": 1, "logprobs": 3,
    } }));
    assert_eq!(
        (req.presence_penalty, req.frequency_penalty, req.response_format.clone()),
        (Some(0.5), Some(-0.5), None)
    );
    assert_eq!(
        req.extra["generationConfig"],
        json!({ "responseMimeType": "text/x.enum", "responseSchema": { "type": "STRING", "enum": ["a"] }, "logprobs": 3 })
    );
}

#[test]
fn bad_requests_name_the_field() {
    let contents = |parts: Value| json!({ "contents": [{ "role": "user", "parts": parts }] });
    let model = |parts: Value| json!({ "contents": [{ "role": "model", "parts": parts }] });
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{not json".to_vec(), "invalid JSON"),
        (b"[1]".to_vec(), "must be a JSON object"),
        (b"{}".to_vec(), "missing required field 'contents'"),
        (body(json!({ "contents": [] })), "'contents' must not be empty"),
        (body(json!({ "contents": {} })), "'contents' must be an array"),
        (body(json!({ "contents": ["hi"] })), "contents[0] must be a Content object"),
        (body(json!({ "contents": [{ "role": "system", "parts": [] }] })), "contents[0].role must be"),
        (body(json!({ "contents": [{ "role": "user" }] })), "contents[0]: missing required field 'parts'"),
        (body(contents(json!([5]))), "contents[0].parts[0] must be a Part object"),
        (body(contents(json!([{ "text": 5 }]))), "contents[0].parts[0]: invalid type"),
        (
            body(contents(json!([{ "executableCode": { "code": "1" } }]))),
            "contents[0].parts[0]: part type 'executableCode' is not supported",
        ),
        (body(contents(json!([{ "thought": true }]))), "contents[0].parts[0]: a part needs one of"),
        (
            body(contents(json!([{ "text": "a", "inlineData": { "mimeType": "image/png", "data": "x" } }]))),
            "exactly one of",
        ),
        (
            body(contents(json!([{ "inlineData": { "mimeType": "audio/mp3", "data": "x" } }]))),
            "contents[0].parts[0]: inlineData of type 'audio/mp3' is not supported",
        ),
        (
            body(contents(json!([{ "fileData": { "mimeType": "video/mp4", "fileUri": "https://youtu.be/x" } }]))),
            "fileData of type 'video/mp4'",
        ),
        (
            body(contents(json!([{ "text": "t", "thought": true }]))),
            "contents[0].parts[0]: a thought part is only allowed in a model turn",
        ),
        (
            body(contents(json!([{ "functionCall": { "name": "f" } }]))),
            "a functionCall is only allowed in a model turn",
        ),
        (
            body(model(json!([{ "functionCall": { "name": "f", "args": [1] } }]))),
            "contents[0].parts[0].functionCall.args must be an object",
        ),
        (body(model(json!([{ "functionCall": { "args": {} } }]))), "contents[0].parts[0]: missing field `name`"),
        (
            body(model(json!([{ "functionResponse": { "name": "f", "response": {} } }]))),
            "a functionResponse is only allowed in a user turn",
        ),
        (
            body(contents(json!([{ "functionResponse": { "name": "f", "response": {} } }]))),
            "contents[0].parts[0].functionResponse: no functionCall named 'f'",
        ),
        (
            body(json!({ "contents": [
                { "role": "model", "parts": [{ "functionCall": { "name": "f" } }] },
                { "role": "user", "parts": [
                    { "functionResponse": { "name": "f", "response": {} } },
                    { "functionResponse": { "name": "f", "response": {} } },
                ] },
            ] })),
            "contents[1].parts[1].functionResponse: no functionCall named 'f'",
        ),
        (
            body(json!({ "systemInstruction": { "parts": [{ "inlineData": {} }] } })),
            "systemInstruction.parts[0] must be a text part",
        ),
        (body(json!({ "system_instruction": 5 })), "'system_instruction' must be a Content object"),
        (body(json!({ "tools": {} })), "'tools' must be an array"),
        (body(json!({ "tools": [{ "googleSearch": {} }] })), "tools[0]: tool 'googleSearch' is not supported"),
        (
            body(json!({ "tools": [{ "functionDeclarations": [{ "description": "x" }] }] })),
            "tools[0].functionDeclarations[0]: missing field `name`",
        ),
        (
            body(json!({ "tools": [{ "functionDeclarations": [{ "name": "x", "parameters": "y" }] }] })),
            "tools[0].functionDeclarations[0].parameters must be",
        ),
        (
            body(json!({ "toolConfig": { "functionCallingConfig": { "mode": "SOMETIMES" } } })),
            "'toolConfig.functionCallingConfig.mode' must be",
        ),
        (body(json!({ "toolConfig": { "functionCallingConfig": 3 } })), "'toolConfig.functionCallingConfig' must be"),
        (body(json!({ "generationConfig": [] })), "'generationConfig' must be an object"),
        (body(json!({ "generationConfig": { "candidateCount": 2 } })), "'generationConfig.candidateCount' must be 1"),
        (
            body(json!({ "generationConfig": { "maxOutputTokens": -5 } })),
            "'generationConfig.maxOutputTokens' must be a non-negative integer",
        ),
        (
            body(json!({ "generation_config": { "temperature": "hot" } })),
            "'generation_config.temperature' must be a number",
        ),
        (
            body(json!({ "generationConfig": { "stopSequences": "END" } })),
            "'generationConfig.stopSequences' must be an array of strings",
        ),
        (
            body(json!({ "generationConfig": { "responseMimeType": 1 } })),
            "'generationConfig.responseMimeType' must be a string",
        ),
        (
            body(json!({ "generationConfig": { "responseSchema": true } })),
            "'generationConfig.responseSchema' must be a Schema object",
        ),
        (
            body(json!({ "generationConfig": { "thinkingConfig": { "thinkingLevel": "EXTREME" } } })),
            "thinkingLevel' must be",
        ),
        (
            body(json!({ "generationConfig": { "thinkingConfig": { "thinkingBudget": -7 } } })),
            "thinkingBudget' must be",
        ),
    ];
    for (body, needle) in cases {
        let err = request(&body).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadRequest);
        assert!(
            err.message.contains(needle),
            "{:?} does not contain {needle:?} ({})",
            err.message,
            String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn unknown_fields_go_to_extra_and_null_is_absent() {
    let req = decode(
        json!({ "cachedContent": "cachedContents/abc", "labels": { "a": "b" }, "systemInstruction": null, "tools": null }),
    );
    assert_eq!(Value::Object(req.extra), json!({ "cachedContent": "cachedContents/abc", "labels": { "a": "b" } }));
    let req = decode(json!({ "systemInstruction": "Be brief." }));
    assert_eq!(req.system, vec![Part::text("Be brief.")]);
}

// ----------------------------------------------------------------------------------------------
// Responses
// ----------------------------------------------------------------------------------------------

#[test]
fn recorded_response_with_thoughts_calls_and_cache() {
    let resp = response(fixture!("response_tool_call.json")).unwrap();
    assert_eq!(
        resp,
        ChatResponse {
            id: "Zk7GaKq4Lq-Az7IP3t2V0Qc".into(),
            model: "gemini-2.5-pro".into(),
            created: 1_757_845_230,
            content: vec![
                Part::Thinking { text: "The user asks for Paris weather.".into(), signature: None },
                Part::text("Let me check."),
                call(
                    "call_Zk7GaKq4Lq-Az7IP3t2V0Qc_0__thought__Cs8BAdHtim9=",
                    "get_weather",
                    json!({ "city": "Paris" })
                ),
                call("call_Zk7GaKq4Lq-Az7IP3t2V0Qc_1", "get_time", json!({})),
            ],
            finish_reason: FinishReason::ToolCalls,
            native_finish_reason: Some("STOP".into()),
            stop_sequence: None,
            usage: Usage {
                prompt_tokens: 120,
                completion_tokens: 50,
                cached_tokens: 100,
                cache_write_tokens: 0,
                reasoning_tokens: 25,
            },
        }
    );
}

#[test]
fn a_blocked_prompt_is_an_empty_content_filter_answer() {
    let resp = response(fixture!("response_blocked.json")).unwrap();
    assert_eq!(resp.content, vec![]);
    assert_eq!(
        (resp.finish_reason, resp.native_finish_reason.as_deref()),
        (FinishReason::ContentFilter, Some("SAFETY"))
    );
    assert_eq!(resp.usage.prompt_tokens, 14);
}

#[test]
fn response_edge_cases() {
    // A candidate cut by the safety filter has no content at all.
    let resp = response(br#"{"candidates":[{"finishReason":"SAFETY","index":0}],"responseId":"r"}"#).unwrap();
    assert_eq!((resp.content.len(), resp.finish_reason), (0, FinishReason::ContentFilter));
    // Tool use prompt tokens count as prompt, so the total is Gemini's.
    let resp = response(
        br#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"MAX_TOKENS"}],
            "usageMetadata":{"promptTokenCount":10,"toolUsePromptTokenCount":5,"candidatesTokenCount":2,"totalTokenCount":17}}"#,
    )
    .unwrap();
    assert_eq!((resp.usage.prompt_tokens, resp.usage.total_tokens()), (15, 17));
    assert_eq!((resp.finish_reason, resp.id.as_str(), resp.created), (FinishReason::Length, "", 0));
    // Non-object arguments are kept rather than lost.
    let resp =
        response(br#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":"x"}}]}}]}"#).unwrap();
    assert_eq!(resp.content, vec![call("call_0", "f", json!({ "_raw": "x" }))]);
    assert_eq!(resp.finish_reason, FinishReason::ToolCalls);

    for body in [&b"{}"[..], br#"{"candidates":[]}"#, br#"{"error":{"code":500}}"#, b"[]", b"nope"] {
        assert!(response(body).is_err(), "{}", String::from_utf8_lossy(body));
    }
}
