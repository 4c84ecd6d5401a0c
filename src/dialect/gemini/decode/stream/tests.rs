use super::*;
use crate::sse::SseDecoder;
use crate::usage::Usage;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gemini/", $name))
    };
}

/// What a whole stream decodes to: the events, then how it ended.
#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    /// `Some` when `push` or `finish` failed (the kind and message).
    error: Option<(ErrorKind, String)>,
    done: bool,
}

/// Feeds `chunks` through `SseDecoder` and `StreamDecoder` the way the HTTP glue does.
fn decode<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut sse = SseDecoder::default();
    let mut decoder = StreamDecoder::new();
    let mut events = Vec::new();
    let fail = |err: ApiError| Some((err.kind, err.message.into_owned()));
    for chunk in chunks {
        let mut frames = Vec::new();
        sse.push(chunk, &mut frames).unwrap();
        for frame in &frames {
            match decoder.push(frame) {
                Ok(more) => events.extend(more),
                Err(err) => return Outcome { events, error: fail(err), done: decoder.is_done() },
            }
        }
    }
    let error = match decoder.finish() {
        Ok(more) => {
            events.extend(more);
            None
        }
        Err(err) => fail(err),
    };
    Outcome { events, error, done: decoder.is_done() }
}

/// The raw SSE events of a fixture (Google ends each with `\r\n\r\n`).
fn split_events(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 3..bytes.len() {
        if &bytes[i - 3..=i] == b"\r\n\r\n" {
            out.push(&bytes[start..=i]);
            start = i + 1;
        }
    }
    if start < bytes.len() {
        out.push(&bytes[start..]);
    }
    out
}

/// (a) whole, (b) one byte at a time, (c) split inside every multi-byte character, (d) several
/// events per chunk: all must decode to the same outcome.
fn assert_rechunking_invariant(bytes: &[u8]) -> Outcome {
    let whole = decode([bytes]);
    assert_eq!(decode(bytes.chunks(1)), whole, "one byte at a time");
    for (at, b) in bytes.iter().enumerate() {
        if b & 0b1100_0000 == 0b1000_0000 {
            let (head, tail) = bytes.split_at(at);
            assert_eq!(decode([head, tail]), whole, "split at byte {at}, inside a character");
        }
    }
    let events = split_events(bytes);
    assert!(events.len() > 1 || bytes.len() < 300, "fixture events are found");
    for per_chunk in [2, 3] {
        let chunks: Vec<Vec<u8>> = events.chunks(per_chunk).map(|c| c.concat()).collect();
        assert_eq!(decode(chunks.iter().map(Vec::as_slice)), whole, "{per_chunk} events per chunk");
    }
    whole
}

fn usage(prompt: u64, completion: u64, cached: u64, reasoning: u64) -> Event {
    Event::Usage(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        cached_tokens: cached,
        cache_write_tokens: 0,
        reasoning_tokens: reasoning,
    })
}

fn text(t: &str) -> Event {
    Event::TextDelta(t.into())
}

fn finish(reason: FinishReason, native: &str) -> Event {
    Event::Finish { reason, native: Some(native.into()), stop_sequence: None }
}

#[test]
fn text_stream_with_cached_usage_and_multibyte_text() {
    let bytes = fixture!("text.sse");
    assert!(bytes.iter().any(|b| b & 0b1100_0000 == 0b1000_0000), "fixture has multi-byte characters");
    let outcome = assert_rechunking_invariant(bytes);
    assert_eq!(
        outcome,
        Outcome {
            events: vec![
                Event::Start { id: "mG3GaN2bC5uWz7IPlr-ZkAY".into(), model: "gemini-2.5-flash".into() },
                text("Héllo"),
                usage(12, 1, 8, 0),
                text(", wörld 🌍"),
                usage(12, 4, 8, 0),
                text(" — 日本語です。"),
                usage(12, 9, 8, 0),
                finish(FinishReason::Stop, "STOP"),
            ],
            error: None,
            done: true,
        }
    );
}

#[test]
fn function_calls_arrive_whole_and_a_later_stop_means_tool_calls() {
    let outcome = assert_rechunking_invariant(fixture!("tool_call.sse"));
    let first = "call_sFjPaL2xBoqjz7IP0ZvN4Q8_0__thought__CiQB0e2Kb7ZRx+u/Wn0cJ2zkWQ==";
    assert_eq!(
        outcome,
        Outcome {
            events: vec![
                Event::Start { id: "sFjPaL2xBoqjz7IP0ZvN4Q8".into(), model: "gemini-3-pro-preview".into() },
                Event::ThinkingDelta("**Planning the lookup**\n\nThe user wants weather for two cities".into()),
                usage(57, 0, 0, 0),
                Event::ThinkingDelta(", so I’ll call get_weather twice.".into()),
                // The signature rides in the first call's id; the second call has none.
                Event::ToolCallStart { index: 0, id: first.into(), name: "get_weather".into() },
                Event::ToolArgsDelta { index: 0, json: r#"{"city":"Paris","unit":"celsius"}"#.into() },
                Event::ToolCallStart {
                    index: 1,
                    id: "call_sFjPaL2xBoqjz7IP0ZvN4Q8_1".into(),
                    name: "get_weather".into()
                },
                Event::ToolArgsDelta { index: 1, json: r#"{"city":"Zürich"}"#.into() },
                // Completion includes the thoughts (pitfall 19).
                usage(57, 74, 0, 44),
                // STOP in a chunk of its own, after the calls (pitfall 4).
                finish(FinishReason::ToolCalls, "STOP"),
            ],
            error: None,
            done: true,
        }
    );
}

#[test]
fn a_blocked_prompt_is_a_content_filter_finish() {
    let outcome = assert_rechunking_invariant(fixture!("blocked.sse"));
    assert_eq!(
        outcome,
        Outcome {
            events: vec![
                Event::Start { id: "blk-1".into(), model: "gemini-2.5-flash".into() },
                usage(9, 0, 0, 0),
                finish(FinishReason::ContentFilter, "PROHIBITED_CONTENT"),
            ],
            error: None,
            done: true,
        }
    );
}

#[test]
fn an_error_chunk_ends_the_stream_without_upstream_text() {
    let outcome = assert_rechunking_invariant(fixture!("error.sse"));
    assert_eq!(
        outcome,
        Outcome {
            events: vec![
                Event::Start { id: "mG3GaN2bC5uWz7IPlr-ZkAY".into(), model: "gemini-2.5-flash".into() },
                text("Sure, here’s"),
                usage(12, 3, 0, 0),
            ],
            error: Some((ErrorKind::Unavailable, "upstream error during streaming (overloaded)".into())),
            done: false,
        }
    );
}

#[test]
fn a_stream_without_a_finish_reason_was_cut_short() {
    let outcome = assert_rechunking_invariant(fixture!("cut_short.sse"));
    assert!(!outcome.done);
    assert_eq!(outcome.error, Some((ErrorKind::UpstreamFailed, "upstream stream ended unexpectedly".into())));
    assert_eq!(outcome.events[1..3], [text("Once upon"), usage(5, 2, 0, 0)]);
}

fn frame(data: &str) -> SseFrame {
    SseFrame { event: None, data: data.into() }
}

#[test]
fn error_statuses_map_to_kinds_with_fixed_messages() {
    let cases = [
        (
            r#""status":"RESOURCE_EXHAUSTED","code":429"#,
            ErrorKind::RateLimited,
            "upstream error during streaming (rate limited)",
        ),
        (r#""code":429"#, ErrorKind::RateLimited, "upstream error during streaming (rate limited)"),
        (
            r#""status":"UNAVAILABLE","code":503"#,
            ErrorKind::Unavailable,
            "upstream error during streaming (overloaded)",
        ),
        (
            r#""status":"DEADLINE_EXCEEDED","code":504"#,
            ErrorKind::UpstreamTimeout,
            "upstream error during streaming (timeout)",
        ),
        (r#""status":"INTERNAL","code":500"#, ErrorKind::UpstreamFailed, "upstream error during streaming"),
        (r#""status":"INVALID_ARGUMENT","code":400"#, ErrorKind::UpstreamFailed, "upstream error during streaming"),
        ("", ErrorKind::UpstreamFailed, "upstream error during streaming"),
    ];
    for (fields, kind, message) in cases {
        let data = format!(
            r#"{{"error":{{"message":"secret detail from host.internal"{}{fields}}}}}"#,
            if fields.is_empty() { "" } else { "," }
        );
        let err = StreamDecoder::new().push(&frame(&data)).unwrap_err();
        assert_eq!((err.kind, err.message.as_ref()), (kind, message), "{fields}");
    }
}

#[test]
fn garbage_is_an_upstream_failure() {
    let mut decoder = StreamDecoder::new();
    let err = decoder.push(&frame("{not json")).unwrap_err();
    assert_eq!((err.kind, err.message.as_ref()), (ErrorKind::UpstreamFailed, "invalid stream event from upstream"));
    let err = decoder.push(&frame(r#"{"candidates":[{"content":{"parts":[{"functionCall":{"args":{}}}]}}]}"#));
    assert_eq!(err.unwrap_err().kind, ErrorKind::UpstreamFailed, "a call without a name");
}

#[test]
fn thought_signatures_usage_changes_and_late_chunks() {
    let mut decoder = StreamDecoder::new();
    let events = decoder
        .push(&frame(
            r#"{"candidates":[{"content":{"parts":[{"text":"hm","thought":true},{"text":"","thought":true,"thoughtSignature":"c2ln"},{"text":"","thoughtSignature":"dGV4dA=="},{"executableCode":{"code":"print(1)"}}]}}],"usageMetadata":{"promptTokenCount":3}}"#,
        ))
        .unwrap();
    assert_eq!(
        events,
        vec![
            // No responseId or modelVersion: empty, and generated ids are `call_<n>`.
            Event::Start { id: String::new(), model: String::new() },
            Event::ThinkingDelta("hm".into()),
            Event::ThinkingSignature("gemini:c2ln".into()),
            usage(3, 0, 0, 0),
        ]
    );
    // The same usage again is not repeated; a call gets `call_0`.
    let events = decoder
        .push(&frame(
            r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f"}}]},"finishReason":"MALFORMED_FUNCTION_CALL"}],"usageMetadata":{"promptTokenCount":3}}"#,
        ))
        .unwrap();
    assert_eq!(
        events,
        vec![
            Event::ToolCallStart { index: 0, id: "call_0".into(), name: "f".into() },
            Event::ToolArgsDelta { index: 0, json: "{}".into() },
            finish(FinishReason::Stop, "MALFORMED_FUNCTION_CALL"),
        ]
    );
    assert!(decoder.is_done());
    // After the finish: content and a second reason are ignored, usage still counts.
    let events = decoder
        .push(&frame(
            r#"{"candidates":[{"content":{"parts":[{"text":"late"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":9}}"#,
        ))
        .unwrap();
    assert_eq!(events, vec![usage(3, 9, 0, 0)]);
    assert!(decoder.finish().unwrap().is_empty());
}

#[test]
fn finish_reason_table() {
    let cases = [
        ("STOP", false, FinishReason::Stop),
        ("STOP", true, FinishReason::ToolCalls),
        ("MAX_TOKENS", false, FinishReason::Length),
        ("MAX_TOKENS", true, FinishReason::Length),
        ("SAFETY", false, FinishReason::ContentFilter),
        ("RECITATION", false, FinishReason::ContentFilter),
        ("BLOCKLIST", false, FinishReason::ContentFilter),
        ("PROHIBITED_CONTENT", false, FinishReason::ContentFilter),
        ("SPII", false, FinishReason::ContentFilter),
        ("LANGUAGE", false, FinishReason::ContentFilter),
        ("IMAGE_SAFETY", false, FinishReason::ContentFilter),
        ("IMAGE_PROHIBITED_CONTENT", false, FinishReason::ContentFilter),
        ("IMAGE_RECITATION", false, FinishReason::ContentFilter),
        ("IMAGE_OTHER", false, FinishReason::ContentFilter),
        ("OTHER", false, FinishReason::Stop),
        ("MALFORMED_FUNCTION_CALL", false, FinishReason::Stop),
        ("UNEXPECTED_TOOL_CALL", false, FinishReason::Stop),
        ("TOO_MANY_TOOL_CALLS", false, FinishReason::Stop),
        ("MISSING_THOUGHT_SIGNATURE", false, FinishReason::Stop),
        ("FINISH_REASON_UNSPECIFIED", false, FinishReason::Stop),
        ("SOMETHING_NEW", false, FinishReason::Stop),
    ];
    for (raw, called, expected) in cases {
        let mut decoder = StreamDecoder::new();
        if called {
            decoder
                .push(&frame(r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]}}]}"#))
                .unwrap();
        }
        let events = decoder.push(&frame(&format!(r#"{{"candidates":[{{"finishReason":"{raw}"}}]}}"#))).unwrap();
        assert_eq!(events.last(), Some(&finish(expected, raw)), "{raw} called={called}");
    }
}
