use super::*;
use crate::dialect::gemini::decode;
use crate::error::ErrorKind;
use crate::sse::{SseDecoder, SseFrame};

const WHO: Identity<'static> = Identity { id: "gen-1-abc", model: "openai/gpt-5.4", pricing: None, prompt_bytes: 0 };

/// Encodes `events`, then ends with `finish()` (or `error()` when `failure` is given), and
/// returns the `data` of each frame.
fn encode(events: &[Event], failure: Option<ApiError>) -> Vec<String> {
    let mut encoder = StreamEncoder::new(WHO);
    let mut out = BytesMut::new();
    for event in events {
        encoder.push(event, &mut out);
    }
    match failure {
        Some(err) => encoder.error(&err, &mut out),
        None => encoder.finish(&mut out),
    }
    // Nothing may follow the end.
    let len = out.len();
    encoder.push(&Event::TextDelta("late".into()), &mut out);
    encoder.finish(&mut out);
    encoder.error(&ApiError::new(ErrorKind::Internal, "x"), &mut out);
    assert_eq!(out.len(), len, "bytes after the end");
    frames(&out)
}

fn frames(bytes: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(text.ends_with("\r\n\r\n"));
    text.split_terminator("\r\n\r\n")
        .map(|frame| {
            let data = frame.strip_prefix("data: ").unwrap();
            assert!(!data.contains('\n'), "one line per frame");
            serde_json::from_str::<Value>(data).unwrap();
            data.to_owned()
        })
        .collect()
}

/// A content chunk as the encoder writes it.
fn chunk(parts: &str) -> String {
    format!(
        r#"{{"candidates":[{{"content":{{"parts":[{parts}],"role":"model"}},"index":0}}],"modelVersion":"openai/gpt-5.4","responseId":"gen-1-abc"}}"#
    )
}

/// The last chunk: an empty text, the finish reason and the usage.
fn last(reason: &str, usage: &str) -> String {
    format!(
        r#"{{"candidates":[{{"content":{{"parts":[{{"text":""}}],"role":"model"}},"finishReason":"{reason}","index":0}}],"usageMetadata":{usage},"modelVersion":"openai/gpt-5.4","responseId":"gen-1-abc"}}"#
    )
}

fn start() -> Event {
    Event::Start { id: "chatcmpl-upstream".into(), model: "gpt-5.4-2026".into() }
}

fn finish(reason: FinishReason) -> Event {
    Event::Finish { reason, native: None, stop_sequence: None }
}

#[test]
fn text_stream_is_exact() {
    // OpenAI order: finish reason, then the usage.
    let events = [
        start(),
        Event::TextDelta("Hel".into()),
        Event::TextDelta("".into()),
        Event::TextDelta("lo ✓".into()),
        finish(FinishReason::Stop),
        Event::Usage(Usage { prompt_tokens: 100, completion_tokens: 5, cached_tokens: 40, ..Usage::default() }),
    ];
    assert_eq!(
        encode(&events, None),
        vec![
            chunk(r#"{"text":"Hel"}"#),
            chunk(r#"{"text":"lo ✓"}"#),
            last(
                "STOP",
                r#"{"promptTokenCount":100,"candidatesTokenCount":5,"totalTokenCount":105,"cachedContentTokenCount":40}"#
            ),
        ]
    );
}

#[test]
fn thinking_then_buffered_tool_calls() {
    let events = [
        start(),
        Event::ThinkingDelta("Two ".into()),
        Event::ThinkingDelta("cities.".into()),
        Event::ThinkingSignature("gemini:c2ln".into()),
        Event::TextDelta("Checking.".into()),
        Event::ToolCallStart { index: 0, id: "call_1__thought__Q2lR".into(), name: "get_weather".into() },
        Event::ToolArgsDelta { index: 0, json: "{\"city\":".into() },
        Event::ToolArgsDelta { index: 0, json: "\"Paris\"}".into() },
        Event::ToolCallStart { index: 1, id: "call_2".into(), name: "now".into() },
        Event::ToolArgsDelta { index: 1, json: "".into() },
        Event::ToolCallStart { index: 2, id: "call_3".into(), name: "bad".into() },
        Event::ToolArgsDelta { index: 2, json: "{\"cut".into() },
        Event::Usage(Usage { prompt_tokens: 10, completion_tokens: 30, reasoning_tokens: 12, ..Usage::default() }),
        finish(FinishReason::ToolCalls),
        // A fragment for a call already written is dropped.
        Event::ToolArgsDelta { index: 0, json: "more".into() },
    ];
    assert_eq!(
        encode(&events, None),
        vec![
            chunk(r#"{"text":"Two ","thought":true}"#),
            chunk(r#"{"text":"cities.","thought":true}"#),
            chunk(r#"{"text":"","thought":true,"thoughtSignature":"c2ln"}"#),
            chunk(r#"{"text":"Checking."}"#),
            // Each call goes out whole when the next starts, or at the finish.
            chunk(
                r#"{"functionCall":{"id":"call_1","name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"Q2lR"}"#
            ),
            chunk(r#"{"functionCall":{"id":"call_2","name":"now","args":{}}}"#),
            chunk(r#"{"functionCall":{"id":"call_3","name":"bad","args":{"_raw":"{\"cut"}}}"#),
            last(
                "STOP",
                r#"{"promptTokenCount":10,"candidatesTokenCount":18,"totalTokenCount":40,"thoughtsTokenCount":12}"#
            ),
        ]
    );
}

#[test]
fn calls_without_a_finish_are_written_at_the_end_and_reasons_map() {
    let events = [
        Event::ToolCallStart { index: 0, id: "toolu_1".into(), name: "f".into() },
        Event::ToolArgsDelta { index: 0, json: "{}".into() },
    ];
    let frames = encode(&events, None);
    assert_eq!(frames[0], chunk(r#"{"functionCall":{"id":"toolu_1","name":"f","args":{}}}"#));
    assert!(frames[1].contains(r#""finishReason":"STOP""#));

    let cases = [
        (FinishReason::Stop, "STOP"),
        (FinishReason::ToolCalls, "STOP"),
        (FinishReason::Length, "MAX_TOKENS"),
        (FinishReason::ContentFilter, "SAFETY"),
        (FinishReason::Error, "OTHER"),
    ];
    for (reason, wire) in cases {
        let frames = encode(&[start(), finish(reason)], None);
        assert_eq!(frames, vec![last(wire, r#"{"promptTokenCount":0,"candidatesTokenCount":0,"totalTokenCount":0}"#)]);
    }
    // Another provider's thinking signature is marked so it comes back unchanged.
    let frames = encode(&[Event::ThinkingSignature("EqQB".into())], None);
    assert_eq!(frames[0], chunk(r#"{"text":"","thought":true,"thoughtSignature":"foreign:EqQB"}"#));
}

#[test]
fn a_mid_stream_error_is_the_last_frame() {
    let err = ApiError::new(ErrorKind::RateLimited, "upstream error during streaming (rate limited)");
    let pending = Event::ToolCallStart { index: 0, id: "c".into(), name: "f".into() };
    let frames = encode(&[start(), Event::TextDelta("Sure".into()), pending], Some(err));
    assert_eq!(
        frames,
        vec![
            chunk(r#"{"text":"Sure"}"#),
            r#"{"error":{"code":429,"message":"upstream error during streaming (rate limited)","status":"RESOURCE_EXHAUSTED"}}"#
                .to_owned(),
        ]
    );
}

#[test]
fn keep_alive_is_a_blank_line_that_dispatches_nothing() {
    let mut frames = Vec::new();
    let mut sse = SseDecoder::default();
    sse.push(KEEP_ALIVE, &mut frames).unwrap();
    sse.push(b"data: {}\r\n", &mut frames).unwrap();
    sse.push(KEEP_ALIVE, &mut frames).unwrap();
    assert_eq!(frames, vec![SseFrame { event: None, data: "{}".into() }]);
}

/// A recorded Gemini stream, decoded and encoded for a Gemini client, carries the same parts,
/// finish reason and usage (ids aside), however the client's bytes are chunked.
#[test]
fn decoded_fixtures_reencode_to_the_same_content() {
    for bytes in [
        &include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gemini/text.sse"))[..],
        &include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gemini/tool_call.sse"))[..],
    ] {
        let mut upstream = Vec::new();
        SseDecoder::default().push(bytes, &mut upstream).unwrap();
        let mut decoder = decode::StreamDecoder::new();
        let mut encoder = StreamEncoder::new(WHO);
        let mut out = BytesMut::new();
        for frame in &upstream {
            for event in decoder.push(frame).unwrap() {
                encoder.push(&event, &mut out);
            }
        }
        assert!(decoder.finish().unwrap().is_empty());
        encoder.finish(&mut out);

        let collect = |frames: &[SseFrame]| {
            let mut parts = Vec::new();
            let mut reason = Value::Null;
            let mut usage = Value::Null;
            for frame in frames {
                let chunk: Value = serde_json::from_str(&frame.data).unwrap();
                for part in chunk["candidates"][0]["content"]["parts"].as_array().into_iter().flatten() {
                    let mut part = part.clone();
                    if let Some(call) = part.get_mut("functionCall") {
                        call.as_object_mut().unwrap().remove("id");
                    }
                    if part != serde_json::json!({ "text": "" }) {
                        parts.push(part);
                    }
                }
                if let Some(r) = chunk["candidates"][0].get("finishReason") {
                    reason = r.clone();
                }
                if let Some(u) = chunk.get("usageMetadata") {
                    usage = serde_json::json!({
                        "prompt": u["promptTokenCount"],
                        "candidates": u.get("candidatesTokenCount").cloned().unwrap_or(0.into()),
                        "thoughts": u.get("thoughtsTokenCount").cloned().unwrap_or(0.into()),
                        "cached": u.get("cachedContentTokenCount").cloned().unwrap_or(0.into()),
                    });
                }
            }
            (parts, reason, usage)
        };
        let mut ours = Vec::new();
        let mut sse = SseDecoder::default();
        for piece in out.chunks(7) {
            sse.push(piece, &mut ours).unwrap();
        }
        assert_eq!(collect(&ours), collect(&upstream));
    }
}
