use serde_json::{Value, json};

use super::*;
use crate::dialect::openai::StreamRewriter;
use crate::error::ErrorKind;

const ID: &str = "gen-1767225600-0123456789abcdef0123456789abcdef";
const MODEL: &str = "anthropic/claude-sonnet-4.6";
const CREATED: i64 = 1_767_225_600;

fn pricing() -> Pricing {
    Pricing { prompt: 3_000_000_000, completion: 15_000_000_000, cache_read: None, cache_write: None }
}

fn encoder(pricing: &Pricing, wants_usage_chunk: bool) -> StreamEncoder {
    let who = Identity { id: ID, model: MODEL, pricing: Some(pricing), prompt_bytes: 0 };
    StreamEncoder::new(who, wants_usage_chunk, CREATED)
}

/// The SSE events written, without the `data: ` prefix and the blank line.
fn events(out: &BytesMut) -> Vec<String> {
    let text = std::str::from_utf8(out).unwrap();
    assert!(text.ends_with("\n\n"), "{text:?}");
    text.split_terminator("\n\n").map(|e| e.strip_prefix("data: ").expect("a data line").to_owned()).collect()
}

/// One chunk with one choice, as the encoder must write it, byte for byte.
fn chunk(delta: &str, finish_reason: &str, native: &str) -> String {
    format!(
        r#"{{"id":"{ID}","object":"chat.completion.chunk","created":{CREATED},"model":"{MODEL}","choices":[{{"index":0,"delta":{delta},"finish_reason":{finish_reason},"native_finish_reason":{native}}}]}}"#
    )
}

fn usage_chunk(usage: Value) -> Value {
    json!({ "id": ID, "object": "chat.completion.chunk", "created": CREATED, "model": MODEL, "choices": [], "usage": usage })
}

fn run(enc: &mut StreamEncoder, events_in: &[Event]) -> BytesMut {
    let mut out = BytesMut::new();
    for event in events_in {
        enc.push(event, &mut out);
    }
    enc.finish(&mut out);
    out
}

#[test]
fn text_stream_chunks() {
    let p = pricing();
    let out = run(
        &mut encoder(&p, true),
        &[
            Event::Start { id: "msg_01".into(), model: "claude-sonnet-4-6".into() },
            Event::TextDelta("Hel".into()),
            Event::TextDelta(String::new()),
            Event::TextDelta("lo \"wörld\"".into()),
            Event::Finish { reason: FinishReason::Stop, native: Some("end_turn".into()), stop_sequence: None },
            Event::Usage(Usage { prompt_tokens: 10, completion_tokens: 2, ..Usage::default() }),
        ],
    );
    let got = events(&out);
    assert_eq!(got.len(), 6, "{got:#?}");
    assert_eq!(got[0], chunk(r#"{"role":"assistant","content":""}"#, "null", "null"));
    assert_eq!(got[1], chunk(r#"{"content":"Hel"}"#, "null", "null"));
    assert_eq!(got[2], chunk(r#"{"content":"lo \"wörld\""}"#, "null", "null"));
    assert_eq!(got[3], chunk("{}", r#""stop""#, r#""end_turn""#));
    assert_eq!(
        serde_json::from_str::<Value>(&got[4]).unwrap(),
        usage_chunk(json!({
            "prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12,
            "prompt_tokens_details": { "cached_tokens": 0, "cache_write_tokens": 0 },
            "completion_tokens_details": { "reasoning_tokens": 0 },
            "cost": 0.00006, "is_byok": false
        }))
    );
    assert_eq!(got[5], "[DONE]");
}

#[test]
fn parallel_tool_call_chunks() {
    let p = pricing();
    let out = run(
        &mut encoder(&p, false),
        &[
            Event::Start { id: "x".into(), model: "y".into() },
            Event::ToolCallStart { index: 0, id: "toolu_01".into(), name: "get_weather".into() },
            Event::ToolArgsDelta { index: 0, json: "{\"city\":".into() },
            Event::ToolArgsDelta { index: 0, json: "\"Zürich\"}".into() },
            Event::ToolCallStart { index: 1, id: "toolu_02".into(), name: "get_time".into() },
            Event::ToolArgsDelta { index: 1, json: "{}".into() },
            Event::Usage(Usage { prompt_tokens: 5, completion_tokens: 5, ..Usage::default() }),
            Event::Finish { reason: FinishReason::ToolCalls, native: Some("tool_use".into()), stop_sequence: None },
            Event::Finish { reason: FinishReason::Stop, native: None, stop_sequence: None },
        ],
    );
    assert_eq!(
        events(&out),
        vec![
            chunk(r#"{"role":"assistant","content":""}"#, "null", "null"),
            chunk(
                r#"{"tool_calls":[{"index":0,"id":"toolu_01","type":"function","function":{"name":"get_weather","arguments":""}}]}"#,
                "null",
                "null"
            ),
            chunk(r#"{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}"#, "null", "null"),
            chunk(r#"{"tool_calls":[{"index":0,"function":{"arguments":"\"Zürich\"}"}}]}"#, "null", "null"),
            chunk(
                r#"{"tool_calls":[{"index":1,"id":"toolu_02","type":"function","function":{"name":"get_time","arguments":""}}]}"#,
                "null",
                "null"
            ),
            chunk(r#"{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]}"#, "null", "null"),
            chunk("{}", r#""tool_calls""#, r#""tool_use""#),
            "[DONE]".to_owned(),
        ]
    );
}

#[test]
fn thinking_goes_in_reasoning_and_signatures_are_not_sent() {
    let p = pricing();
    let out = run(
        &mut encoder(&p, false),
        &[
            Event::Start { id: "x".into(), model: "y".into() },
            Event::ThinkingDelta("Let me think.".into()),
            Event::ThinkingSignature("EqQBCkgI".into()),
            Event::ThinkingDelta(String::new()),
            Event::TextDelta("42".into()),
            Event::Finish { reason: FinishReason::Length, native: None, stop_sequence: None },
        ],
    );
    assert_eq!(
        events(&out),
        vec![
            chunk(r#"{"role":"assistant","content":""}"#, "null", "null"),
            chunk(r#"{"reasoning":"Let me think."}"#, "null", "null"),
            chunk(r#"{"content":"42"}"#, "null", "null"),
            chunk("{}", r#""length""#, "null"),
            "[DONE]".to_owned(),
        ]
    );
}

#[test]
fn finish_adds_what_the_upstream_never_sent() {
    // Nothing at all: a role chunk, a stop, the (zero) usage, [DONE].
    let p = pricing();
    let got = events(&run(&mut encoder(&p, true), &[]));
    assert_eq!(got[0], chunk(r#"{"role":"assistant","content":""}"#, "null", "null"));
    assert_eq!(got[1], chunk("{}", r#""stop""#, "null"));
    assert_eq!(serde_json::from_str::<Value>(&got[2]).unwrap()["usage"]["total_tokens"], json!(0));
    assert_eq!(got[3], "[DONE]");
    // A tool call but no finish: `tool_calls`. The last usage snapshot wins.
    let got = events(&run(
        &mut encoder(&p, true),
        &[
            Event::ToolCallStart { index: 0, id: "c".into(), name: "f".into() },
            Event::Usage(Usage { prompt_tokens: 1, completion_tokens: 1, ..Usage::default() }),
            Event::Usage(Usage { prompt_tokens: 1_000_000, completion_tokens: 0, ..Usage::default() }),
        ],
    ));
    assert_eq!(got.len(), 5);
    assert_eq!(got[2], chunk("{}", r#""tool_calls""#, "null"));
    let usage = &serde_json::from_str::<Value>(&got[3]).unwrap()["usage"];
    assert_eq!((usage["prompt_tokens"].clone(), usage["cost"].clone()), (json!(1_000_000), json!(3.0)));
}

#[test]
fn every_choice_carries_finish_reason() {
    let p = pricing();
    let out = run(
        &mut encoder(&p, true),
        &[
            Event::Start { id: "x".into(), model: "y".into() },
            Event::TextDelta("a".into()),
            Event::ToolCallStart { index: 0, id: "c".into(), name: "f".into() },
            Event::Finish { reason: FinishReason::ToolCalls, native: None, stop_sequence: None },
        ],
    );
    for event in events(&out).iter().filter(|e| *e != "[DONE]") {
        let chunk: Value = serde_json::from_str(event).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        for choice in chunk["choices"].as_array().unwrap() {
            assert!(choice.get("finish_reason").is_some() && choice.get("delta").is_some(), "{event}");
        }
    }
}

#[test]
fn errors_end_the_stream_with_openrouters_error_chunk() {
    let p = pricing();
    let mut enc = encoder(&p, true);
    let mut out = BytesMut::new();
    enc.push(&Event::Start { id: "x".into(), model: "y".into() }, &mut out);
    enc.push(&Event::TextDelta("partial".into()), &mut out);
    let err = ApiError::new(ErrorKind::UpstreamFailed, "upstream error during streaming");
    enc.error(&err, &mut out);
    enc.push(&Event::TextDelta("late".into()), &mut out);
    enc.finish(&mut out);
    enc.error(&err, &mut out);
    let got = events(&out);
    assert_eq!(got.len(), 3, "nothing after the error chunk: {got:#?}");
    // The same bytes the same-format rewriter sends.
    let who = Identity { id: ID, model: MODEL, pricing: None, prompt_bytes: 0 };
    let rewriter_chunk = StreamRewriter::new(who, true, CREATED).error_chunk(&err);
    assert_eq!(format!("data: {}\n\n", got[2]).as_bytes(), &rewriter_chunk[..]);
    assert_eq!(
        serde_json::from_str::<Value>(&got[2]).unwrap(),
        json!({
            "error": { "message": "upstream error during streaming", "type": "server_error", "code": 502 },
            "id": ID, "object": "chat.completion.chunk", "created": CREATED, "model": MODEL,
            "choices": [{ "index": 0, "delta": { "content": "" }, "finish_reason": "error" }]
        })
    );
}
