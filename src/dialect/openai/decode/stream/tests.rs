use crate::error::ErrorKind;
use crate::llm::FinishReason;
use crate::sse::SseDecoder;
use crate::usage::Usage;

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/openai/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Everything a stream turned into: its events, then how it ended.
#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    end: Result<(), (ErrorKind, String)>,
}

/// Feeds `pieces` through the SSE parser and the decoder, as the HTTP glue does.
fn run<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut sse = SseDecoder::default();
    let mut decoder = StreamDecoder::new();
    let mut events = Vec::new();
    let mut frames = Vec::new();
    for piece in pieces {
        sse.push(piece, &mut frames).unwrap();
        for frame in frames.drain(..) {
            match decoder.push(&frame) {
                Ok(more) => events.extend(more),
                Err(e) => return Outcome { events, end: Err((e.kind, e.message.into_owned())) },
            }
        }
    }
    let end = decoder.finish().map(|more| events.extend(more)).map_err(|e| (e.kind, e.message.into_owned()));
    Outcome { events, end }
}

/// Decodes `bytes` in every way the network could cut them, and checks all agree.
fn decode_all_ways(bytes: &[u8]) -> Outcome {
    let whole = run([bytes]);
    assert_eq!(run(bytes.chunks(1)), whole, "byte by byte");
    for size in [2, 3, 7, 64, 333] {
        assert_eq!(run(bytes.chunks(size)), whole, "pieces of {size}");
    }
    // Cut inside every multi-byte character (at each continuation byte).
    let mut inside = 0;
    for at in (1..bytes.len()).filter(|&i| bytes[i] & 0xC0 == 0x80) {
        assert_eq!(run([&bytes[..at], &bytes[at..]]), whole, "split at byte {at}");
        inside += 1;
    }
    assert!(inside > 0, "fixture has no multi-byte characters");
    // Several events per read: the stream in three pieces at arbitrary points.
    let third = bytes.len() / 3;
    assert_eq!(run([&bytes[..third], &bytes[third..2 * third], &bytes[2 * third..]]), whole, "thirds");
    whole
}

fn start(id: &str, model: &str) -> Event {
    Event::Start { id: id.into(), model: model.into() }
}

fn text(t: &str) -> Event {
    Event::TextDelta(t.into())
}

fn finish(reason: FinishReason, native: &str) -> Event {
    Event::Finish { reason, native: Some(native.into()), stop_sequence: None }
}

fn tool_start(index: u32, id: &str, name: &str) -> Event {
    Event::ToolCallStart { index, id: id.into(), name: name.into() }
}

fn args(index: u32, json: &str) -> Event {
    Event::ToolArgsDelta { index, json: json.into() }
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

#[test]
fn text_stream() {
    let out = decode_all_ways(&fixture("text.sse"));
    assert_eq!(
        out,
        Outcome {
            events: vec![
                start("chatcmpl-C7qYtM2HkT0aJf3u9VdXwPzR1sLeN", "gpt-4.1-2025-04-14"),
                text("Café"),
                text(" in 東京"),
                text(" is ☕ 🌧️!"),
                finish(FinishReason::Stop, "stop"),
                usage(24, 9, 0, 0),
            ],
            end: Ok(()),
        }
    );
}

#[test]
fn parallel_tool_calls_stream() {
    let out = decode_all_ways(&fixture("parallel_tool_calls.sse"));
    assert_eq!(
        out,
        Outcome {
            events: vec![
                start("chatcmpl-C7qZ0bG4nWcVx8YhR2tKs6LmQpDfA", "gpt-4o-2024-08-06"),
                tool_start(0, "call_9pTq2yVvRk1mXo3LbZcN8dHs", "get_weather"),
                args(0, "{\"ci"),
                args(0, "ty\": \"Zürich\"}"),
                tool_start(1, "call_Xw4e7Ua0Gj2Pq5RnTz6Ky1Bc", "get_weather"),
                args(1, "{\"city\": \"Kraków\"}"),
                finish(FinishReason::ToolCalls, "tool_calls"),
                usage(86, 48, 64, 0),
            ],
            end: Ok(()),
        }
    );
}

#[test]
fn bundled_arguments_sparse_indexes_and_a_stop_reason_with_tool_calls() {
    let out = decode_all_ways(&fixture("bundled_tool_args.sse"));
    assert_eq!(
        out.events,
        vec![
            start("chatcmpl-7d1f0c2e9a", "gemini-2.5-flash"),
            tool_start(0, "function-call-1", "get_weather"),
            args(0, "{\"city\":\"Besançon\"}"),
            tool_start(1, "function-call-2", "get_time"),
            args(1, "{\"tz\":\"Europe/Paris\"}"),
            finish(FinishReason::ToolCalls, "stop"),
            usage(40, 12, 0, 0),
        ]
    );
    assert_eq!(out.end, Ok(()));
}

#[test]
fn openrouter_reasoning_stream_with_comments_signature_and_native_reason() {
    let out = decode_all_ways(&fixture("openrouter_reasoning.sse"));
    assert_eq!(
        out.events,
        vec![
            start("gen-1767225800-Qm3kZr8TnVb2XcYw", "anthropic/claude-sonnet-4.6"),
            Event::ThinkingDelta("Let me think".into()),
            Event::ThinkingDelta(" about π…".into()),
            Event::ThinkingSignature("EqQBCkgIBhABGAIiQL0sig".into()),
            text("π ≈ 3.14159"),
            finish(FinishReason::Length, "max_tokens"),
            usage(120, 64, 100, 40),
        ]
    );
    assert_eq!(out.end, Ok(()));
}

#[test]
fn in_band_errors_end_the_stream_without_the_upstream_text() {
    for (name, before) in [
        (
            "error_in_band.sse",
            vec![start("chatcmpl-C7qa9Lr0VfE2mKp6NwTx3YhJ5uQbS", "gpt-4.1-mini-2025-04-14"), text("Partial ånswer")],
        ),
        (
            "openrouter_error.sse",
            vec![start("gen-1767226000-Ab12Cd34Ef56Gh78", "google/gemini-2.5-pro"), text("Hallo 👋")],
        ),
    ] {
        let out = decode_all_ways(&fixture(name));
        assert_eq!(out.events, before, "{name}");
        assert_eq!(out.end, Err((ErrorKind::UpstreamFailed, "upstream error during streaming".into())), "{name}");
    }
}

#[test]
fn a_stream_cut_before_done_is_an_error() {
    let out = decode_all_ways(&fixture("cut_short.sse"));
    assert_eq!(out.events, vec![start("chatcmpl-C7qbKx", "gpt-4.1-2025-04-14"), text("Il était une fois")]);
    assert_eq!(out.end, Err((ErrorKind::UpstreamFailed, "upstream stream ended unexpectedly".into())));
}

fn frame(data: &str) -> SseFrame {
    SseFrame { event: None, data: data.into() }
}

fn chunk(choice: serde_json::Value) -> SseFrame {
    frame(&serde_json::json!({ "id": "c", "model": "m", "choices": [choice] }).to_string())
}

#[test]
fn garbage_and_error_events_fail_and_done_is_final() {
    let mut d = StreamDecoder::new();
    let err = d.push(&frame("{not json")).unwrap_err();
    assert_eq!((err.kind, err.message.as_ref()), (ErrorKind::UpstreamFailed, "invalid stream event from upstream"));
    let mut d = StreamDecoder::new();
    let err = d.push(&SseFrame { event: Some("error".into()), data: "{}".into() }).unwrap_err();
    assert_eq!(err.message, "upstream error during streaming");

    let mut d = StreamDecoder::new();
    assert!(!d.is_done());
    assert_eq!(d.push(&frame("[DONE]")).unwrap(), vec![]);
    assert!(d.is_done());
    assert_eq!(d.push(&frame("{not json")).unwrap(), vec![], "nothing after [DONE] counts");
    assert_eq!(d.finish().unwrap(), vec![]);
    // `"error": null` is not an error.
    let mut d = StreamDecoder::new();
    assert_eq!(d.push(&frame(r#"{"id":"c","model":"m","choices":[],"error":null}"#)).unwrap(), vec![start("c", "m")]);
}

#[test]
fn tool_call_fragments_without_index_or_with_a_new_id_at_a_known_index() {
    let mut d = StreamDecoder::new();
    let mut events = Vec::new();
    for choice in [
        // No index: an id starts a call; a fragment without one continues the last call.
        serde_json::json!({ "delta": { "tool_calls": [{ "id": "a", "function": { "name": "f", "arguments": "{" } }] } }),
        serde_json::json!({ "delta": { "tool_calls": [{ "function": { "arguments": "}" } }] } }),
        serde_json::json!({ "delta": { "tool_calls": [{ "index": 0, "id": "b", "function": { "name": "g" } }] } }),
        // Index 0 reused with a different id (a backend quirk): a new call.
        serde_json::json!({ "delta": { "tool_calls": [{ "index": 0, "id": "c9", "function": { "name": "g2" } }] } }),
        serde_json::json!({ "delta": { "tool_calls": [{ "index": 0, "function": { "arguments": { "x": 1 } } }] } }),
        // A new index without an id gets a made-up one.
        serde_json::json!({ "delta": { "tool_calls": [{ "index": 5, "function": { "name": "h", "arguments": "" } }] } }),
        // Another choice is not ours.
        serde_json::json!({ "index": 1, "delta": { "content": "other choice" }, "finish_reason": "stop" }),
        serde_json::json!({ "index": 0, "delta": {}, "finish_reason": "stop" }),
        serde_json::json!({ "index": 0, "delta": {}, "finish_reason": "length" }),
    ] {
        events.extend(d.push(&chunk(choice)).unwrap());
    }
    assert_eq!(
        events,
        vec![
            start("c", "m"),
            tool_start(0, "a", "f"),
            args(0, "{"),
            args(0, "}"),
            tool_start(1, "b", "g"),
            tool_start(2, "c9", "g2"),
            args(2, "{\"x\":1}"),
            tool_start(3, "call_3_c", "h"),
            Event::Finish { reason: FinishReason::ToolCalls, native: Some("stop".into()), stop_sequence: None },
        ]
    );
}

#[test]
fn usage_on_a_choice_chunk_and_refusals_and_reasoning_content() {
    let mut d = StreamDecoder::new();
    let frame = frame(
        r#"{"id":"c","model":"m","choices":[{"index":0,"delta":{"reasoning_content":"hmm","refusal":"no","content":"x"},"finish_reason":"content_filter"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
    );
    assert_eq!(
        d.push(&frame).unwrap(),
        vec![
            start("c", "m"),
            Event::ThinkingDelta("hmm".into()),
            text("x"),
            text("no"),
            finish(FinishReason::ContentFilter, "content_filter"),
            usage(3, 2, 0, 0),
        ]
    );
}
