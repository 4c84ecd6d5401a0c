use super::*;
use crate::llm::FinishReason;
use crate::sse::SseDecoder;
use crate::usage::Usage;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/anthropic/", $name))
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

/// (a) whole, (b) one byte at a time, (c) split inside every multi-byte character, (d) several
/// events per chunk: all must decode to the same outcome.
fn assert_rechunking_invariant(bytes: &[u8]) -> Outcome {
    let whole = decode([bytes]);
    assert_eq!(decode(bytes.chunks(1)), whole, "one byte at a time");
    for (at, b) in bytes.iter().enumerate() {
        // A UTF-8 continuation byte: splitting before it cuts a character in two.
        if b & 0b1100_0000 == 0b1000_0000 {
            let (head, tail) = bytes.split_at(at);
            assert_eq!(decode([head, tail]), whole, "split at byte {at}, inside a character");
        }
    }
    let events: Vec<&[u8]> = split_after_blank_lines(bytes);
    for per_chunk in [2, 3, 5] {
        let chunks: Vec<Vec<u8>> = events.chunks(per_chunk).map(|c| c.concat()).collect();
        assert_eq!(decode(chunks.iter().map(Vec::as_slice)), whole, "{per_chunk} events per chunk");
    }
    whole
}

/// The raw SSE events of a fixture, each with its terminating blank line.
fn split_after_blank_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..bytes.len() {
        if bytes[i] == b'\n' && bytes[i - 1] == b'\n' {
            out.push(&bytes[start..=i]);
            start = i + 1;
        }
    }
    if start < bytes.len() {
        out.push(&bytes[start..]);
    }
    out
}

fn usage(prompt: u64, completion: u64, cached: u64, cache_write: u64) -> Event {
    Event::Usage(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        cached_tokens: cached,
        cache_write_tokens: cache_write,
        reasoning_tokens: 0,
    })
}

fn start(id: &str) -> Event {
    Event::Start { id: id.into(), model: "claude-sonnet-4-6".into() }
}

fn text(t: &str) -> Event {
    Event::TextDelta(t.into())
}

fn finish(reason: FinishReason, native: &str) -> Event {
    Event::Finish { reason, native: Some(native.into()), stop_sequence: None }
}

#[test]
fn text_stream_with_cache_usage_and_multibyte_text() {
    let bytes = fixture!("text.sse");
    assert!(bytes.iter().any(|b| b & 0b1100_0000 == 0b1000_0000), "fixture has multi-byte characters");
    let outcome = assert_rechunking_invariant(bytes);
    assert_eq!(
        outcome,
        Outcome {
            events: vec![
                start("msg_01XFDUDYJgAACzvnptvVoYEL"),
                // 25 uncached + 20 written + 100 read.
                usage(145, 1, 100, 20),
                text("Héllo"),
                text(", wörld 🌍"),
                text(" — 日本語です。"),
                // message_delta only reports output_tokens; the input side is kept.
                usage(145, 15, 100, 20),
                finish(FinishReason::Stop, "end_turn"),
            ],
            error: None,
            done: true,
        }
    );
}

#[test]
fn tool_use_stream_counts_tools_from_zero_and_fills_empty_arguments() {
    let outcome = assert_rechunking_invariant(fixture!("tool_use.sse"));
    assert_eq!(
        outcome,
        Outcome {
            events: vec![
                start("msg_014p7gG3wDgGV9EUtLvnow3U"),
                usage(472, 2, 0, 0),
                text("Okay"),
                text(", let's check the weather for San Francisco, CA:"),
                // Block index 1, tool index 0; the start's `input: {}` is not an argument
                // fragment, and the empty `partial_json` is skipped.
                Event::ToolCallStart {
                    index: 0,
                    id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6".into(),
                    name: "get_weather".into()
                },
                Event::ToolArgsDelta { index: 0, json: "{\"location\":".into() },
                Event::ToolArgsDelta { index: 0, json: " \"San Francisco, CA\", \"unit\": \"fahrenheit\"}".into() },
                Event::ToolCallStart { index: 1, id: "toolu_01AbCdEfGhIjKlMnOpQrStUv".into(), name: "get_time".into() },
                // No argument text at all: `{}` on the block's stop (pitfall 2).
                Event::ToolArgsDelta { index: 1, json: "{}".into() },
                usage(472, 89, 0, 0),
                finish(FinishReason::ToolCalls, "tool_use"),
            ],
            error: None,
            done: true,
        }
    );
}

#[test]
fn thinking_stream_carries_text_and_signature() {
    let outcome = assert_rechunking_invariant(fixture!("thinking.sse"));
    assert_eq!(
        outcome,
        Outcome {
            events: vec![
                start("msg_01ThinkingStreamExample"),
                usage(40, 3, 0, 0),
                Event::ThinkingDelta("Let me solve this step by step:\n\n1. First break down 27 * 453".into()),
                Event::ThinkingDelta("\n2. 453 = 400 + 50 + 3".into()),
                Event::ThinkingSignature("EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+Q==".into()),
                text("27 * 453 = 12,231"),
                usage(40, 120, 0, 0),
                finish(FinishReason::Stop, "end_turn"),
            ],
            error: None,
            done: true,
        }
    );
}

#[test]
fn error_event_mid_stream_ends_it_without_upstream_text() {
    let outcome = assert_rechunking_invariant(fixture!("error.sse"));
    assert_eq!(
        outcome,
        Outcome {
            events: vec![start("msg_01OverloadedMidStream"), usage(12, 1, 0, 0), text("Sure, here’s")],
            error: Some((ErrorKind::Unavailable, "upstream error during streaming (overloaded)".into())),
            done: false,
        }
    );
}

fn frame(data: &str) -> SseFrame {
    SseFrame { event: None, data: data.into() }
}

#[test]
fn error_types_map_to_kinds_with_fixed_messages() {
    let cases = [
        ("overloaded_error", ErrorKind::Unavailable, "upstream error during streaming (overloaded)"),
        ("rate_limit_error", ErrorKind::RateLimited, "upstream error during streaming (rate limited)"),
        ("api_error", ErrorKind::UpstreamFailed, "upstream error during streaming"),
        ("invalid_request_error", ErrorKind::UpstreamFailed, "upstream error during streaming"),
        ("something_new", ErrorKind::UpstreamFailed, "upstream error during streaming"),
    ];
    for (kind, expected, message) in cases {
        let data =
            format!(r#"{{"type":"error","error":{{"type":"{kind}","message":"secret detail from api.internal"}}}}"#);
        let err = StreamDecoder::new().push(&frame(&data)).unwrap_err();
        assert_eq!((err.kind, err.message.as_ref()), (expected, message), "{kind}");
    }
}

#[test]
fn garbage_and_truncation_are_upstream_failures() {
    let mut decoder = StreamDecoder::new();
    let err = decoder.push(&frame("{not json")).unwrap_err();
    assert_eq!((err.kind, err.message.as_ref()), (ErrorKind::UpstreamFailed, "invalid stream event from upstream"));
    // A known event with a malformed payload is just as broken.
    let err = decoder.push(&frame(r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}}"#));
    assert_eq!(err.unwrap_err().kind, ErrorKind::UpstreamFailed);

    let cut = &fixture!("text.sse")[..600];
    let outcome = decode([cut]);
    assert!(!outcome.done);
    assert_eq!(outcome.error, Some((ErrorKind::UpstreamFailed, "upstream stream ended unexpectedly".into())));
}

#[test]
fn unknown_events_deltas_and_blocks_are_ignored() {
    let mut decoder = StreamDecoder::new();
    let frames = [
        r#"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":1}}}"#,
        r#"{"type":"brand_new_event","payload":{}}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"query\":\"x\"}"}}"#,
        r#"{"type":"content_block_stop","index":0}"#,
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":"Initial"}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"citations_delta","citation":{"type":"char_location"}}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":" more"}}"#,
        r#"{"type":"content_block_stop","index":1}"#,
    ];
    let events: Vec<Event> = frames.iter().flat_map(|f| decoder.push(&frame(f)).unwrap()).collect();
    assert_eq!(
        events,
        vec![
            Event::Start { id: "m".into(), model: "c".into() },
            usage(1, 0, 0, 0),
            // A text block's initial text is emitted (empty ones are not).
            text("Initial"),
            text(" more"),
        ]
    );
}

#[test]
fn message_delta_merges_cumulative_usage_and_stop_details() {
    let mut decoder = StreamDecoder::new();
    decoder
        .push(&frame(
            r#"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}}}"#,
        ))
        .unwrap();
    let events = decoder
        .push(&frame(
            r#"{"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"%%"},"usage":{"output_tokens":30,"cache_creation_input_tokens":7,"output_tokens_details":{"thinking_tokens":12}}}"#,
        ))
        .unwrap();
    assert_eq!(
        events,
        vec![
            Event::Usage(Usage {
                prompt_tokens: 22,
                completion_tokens: 30,
                cached_tokens: 5,
                cache_write_tokens: 7,
                reasoning_tokens: 12
            }),
            Event::Finish {
                reason: FinishReason::Stop,
                native: Some("stop_sequence".into()),
                stop_sequence: Some("%%".into())
            },
        ]
    );
    // A second stop reason adds no second Finish; after message_stop nothing is decoded.
    let again = decoder
        .push(&frame(r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":31}}"#));
    assert!(again.unwrap().iter().all(|e| matches!(e, Event::Usage(_))));
    assert!(!decoder.is_done());
    assert!(decoder.push(&frame(r#"{"type":"message_stop"}"#)).unwrap().is_empty());
    assert!(decoder.is_done());
    assert!(
        decoder
            .push(&frame(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"late"}}"#))
            .unwrap()
            .is_empty()
    );
    assert!(decoder.finish().unwrap().is_empty());
}

#[test]
fn thinking_block_start_may_carry_content() {
    let mut decoder = StreamDecoder::new();
    let events = decoder
        .push(&frame(
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"pre","signature":"sig"}}"#,
        ))
        .unwrap();
    assert_eq!(events, vec![Event::ThinkingDelta("pre".into()), Event::ThinkingSignature("sig".into())]);
}
