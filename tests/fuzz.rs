//! Property-based fuzzing (proptest; cargo-fuzz needs nightly) of everything that parses bytes a
//! client or an upstream controls: the request parsers of each surface, the SSE decoder and each
//! dialect's stream decoder. Every target must return, never panic, and keep its invariants.
//!
//! Bounded for CI: `AROUTER_FUZZ_CASES` cases per target (default 256, a few seconds in all).
//! Run longer locally with e.g. `AROUTER_FUZZ_CASES=100000 cargo test --release --test fuzz`.
//! A failure is printed shrunk to a minimal input; fix it and keep that input as a unit test
//! next to the code (e.g. `sse::tests::an_empty_chunk_between_cr_and_lf_changes_nothing`).

use arouter::dialect::hub::Dialect;
use arouter::dialect::{anthropic, gemini, openai};
use arouter::error::ApiError;
use arouter::sse::{SseDecoder, SseFrame};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn config() -> ProptestConfig {
    let cases = std::env::var("AROUTER_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Member names the parsers look at, so generated objects reach past the first check.
const KEYS: &[&str] = &[
    "model",
    "models",
    "messages",
    "role",
    "content",
    "type",
    "text",
    "image_url",
    "url",
    "tools",
    "tool_choice",
    "function",
    "name",
    "arguments",
    "parameters",
    "tool_calls",
    "tool_call_id",
    "id",
    "stream",
    "stream_options",
    "include_usage",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "system",
    "input_schema",
    "tool_use_id",
    "input",
    "thinking",
    "budget_tokens",
    "source",
    "data",
    "media_type",
    "contents",
    "parts",
    "functionCall",
    "functionResponse",
    "generationConfig",
    "maxOutputTokens",
    "candidateCount",
    "systemInstruction",
    "toolConfig",
    "inlineData",
    "mimeType",
    "response_format",
    "reasoning",
    "effort",
    "choices",
    "delta",
    "index",
    "usage",
    "candidates",
    "finishReason",
    "usageMetadata",
    "message",
    "content_block",
    "error",
];

/// Strings that mean something to some parser.
const WORDS: &[&str] = &[
    "user",
    "assistant",
    "system",
    "tool",
    "developer",
    "model",
    "function",
    "text",
    "image_url",
    "tool_use",
    "tool_result",
    "thinking",
    "auto",
    "none",
    "required",
    "any",
    "openai/gpt-5.4",
    "anthropic/claude-sonnet-4.6",
    "gpt-5.4",
    "message_start",
    "content_block_start",
    "content_block_delta",
    "message_delta",
    "message_stop",
    "text_delta",
    "input_json_delta",
    "STOP",
    "MAX_TOKENS",
    "https://example.com/a.png",
    "data:image/png;base64,AA==",
    "",
    "\u{0}",
    "\r\n",
    "é東",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        prop::sample::select(WORDS).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// A valid body with one member (top level, or inside the first message/content) replaced.
fn mutated(seed: &'static str) -> impl Strategy<Value = Vec<u8>> {
    (prop::sample::select(KEYS), json_value(), any::<bool>()).prop_map(move |(key, value, nested)| {
        let mut body: Value = serde_json::from_str(seed).unwrap();
        let target = if nested {
            body.as_object_mut()
                .and_then(|o| o.values_mut().find_map(|v| v.as_array_mut()))
                .and_then(|a| a.first_mut())
                .and_then(Value::as_object_mut)
        } else {
            body.as_object_mut()
        };
        if let Some(object) = target {
            object.insert(key.to_owned(), value);
        }
        serde_json::to_vec(&body).unwrap()
    })
}

const OPENAI_SEED: &str = r#"{"model":"openai/gpt-5.4","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}"#;
const ANTHROPIC_SEED: &str = r#"{"model":"claude-sonnet-4.6","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"tools":[{"name":"f","input_schema":{"type":"object"}}]}"#;
const GEMINI_SEED: &str = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":5},"tools":[{"functionDeclarations":[{"name":"f"}]}]}"#;

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        mutated(OPENAI_SEED),
        mutated(ANTHROPIC_SEED),
        mutated(GEMINI_SEED),
    ]
}

/// A refused request is a client error with a message, never anything else.
fn refused_cleanly(result: Result<(), ApiError>) -> Result<(), TestCaseError> {
    if let Err(err) = result {
        prop_assert_eq!(err.status().as_u16(), 400, "{}", err.message);
        prop_assert!(!err.message.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn request_parsers_never_panic_and_refuse_with_a_400(body in bodies()) {
        refused_cleanly(openai::ChatRequest::parse(&body).map(|_| ()))?;
        refused_cleanly(openai::EmbeddingsRequest::parse(&body).map(|_| ()))?;
        refused_cleanly(openai::decode::request(&body).map(|_| ()))?;
        refused_cleanly(anthropic::decode::request(&body).map(|_| ()))?;
        refused_cleanly(gemini::decode::request(&body).map(|_| ()))?;
        // What the same-format path accepts, the translated path can encode for every upstream.
        if let Ok(request) = openai::decode::request(&body) {
            for upstream in [Dialect::OpenAi, Dialect::Anthropic, Dialect::Gemini] {
                let target = arouter::dialect::Target { model: "m", max_output_tokens: Some(100) };
                refused_cleanly(upstream.encode_request(&request, target).map(|_| ()))?;
            }
        }
    }

    #[test]
    fn sse_frames_do_not_depend_on_where_the_bytes_are_split(
        bytes in sse_bytes(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let whole = frames(&[&bytes]);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for point in points {
            pieces.push(&bytes[start..point]);
            start = point;
        }
        pieces.push(&bytes[start..]);
        prop_assert_eq!(frames(&pieces), whole);
    }

    #[test]
    fn stream_decoders_never_panic(dialect in prop::sample::select(&[Dialect::OpenAi, Dialect::Anthropic, Dialect::Gemini][..]),
                                   frames in stream_frames()) {
        let mut decoder = dialect.stream_decoder();
        for frame in &frames {
            // The relay stops at the first error; so does this.
            if decoder.push(frame).is_err() {
                return Ok(());
            }
        }
        let _ = decoder.finish();
    }
}

fn frames(pieces: &[&[u8]]) -> Vec<SseFrame> {
    let mut decoder = SseDecoder::default();
    let mut out = Vec::new();
    for piece in pieces {
        decoder.push(piece, &mut out).unwrap();
    }
    out
}

/// Event-stream bytes: real-looking fields with every line ending, comments, and noise.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        json_value().prop_map(|v| format!("data: {v}")),
        prop::sample::select(WORDS).prop_map(|w| format!("event: {w}")),
        Just(": keep-alive".to_owned()),
        Just("data: [DONE]".to_owned()),
        Just(String::new()),
        "[a-z:]{0,6} ?.{0,10}",
    ];
    let ending = prop::sample::select(&["\n", "\r\n", "\r"][..]);
    prop_oneof![
        4 => prop::collection::vec((line, ending), 0..24)
            .prop_map(|lines| lines.into_iter().flat_map(|(l, e)| [l, e.to_owned()]).collect::<String>().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..512),
    ]
}

/// Frames from the recorded fixtures, some of them spoiled: data truncated, a member replaced
/// by an arbitrary value, or an arbitrary frame inserted.
fn stream_frames() -> impl Strategy<Value = Vec<SseFrame>> {
    let seeds = fixture_frames();
    (prop::sample::select(seeds), prop::collection::vec((any::<prop::sample::Index>(), spoil()), 0..4)).prop_map(
        |(mut frames, spoils)| {
            for (at, spoil) in spoils {
                let i = at.index(frames.len() + 1);
                match spoil {
                    Spoil::Insert(frame) => frames.insert(i, frame),
                    Spoil::Truncate(n) if i < frames.len() => {
                        let data = &mut frames[i].data;
                        let mut cut = n.index(data.len() + 1);
                        while !data.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        data.truncate(cut);
                    }
                    Spoil::Replace(key, value) if i < frames.len() => {
                        if let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(&frames[i].data) {
                            replace_somewhere(&mut object, key, value);
                            frames[i].data = Value::Object(object).to_string();
                        }
                    }
                    _ => {}
                }
            }
            frames
        },
    )
}

#[derive(Debug, Clone)]
enum Spoil {
    Insert(SseFrame),
    Truncate(prop::sample::Index),
    Replace(&'static str, Value),
}

fn spoil() -> impl Strategy<Value = Spoil> {
    prop_oneof![
        (prop::option::of(prop::sample::select(WORDS)), json_value()).prop_map(|(event, data)| Spoil::Insert(
            SseFrame { event: event.map(str::to_owned), data: data.to_string() }
        )),
        any::<prop::sample::Index>().prop_map(Spoil::Truncate),
        (prop::sample::select(KEYS), json_value()).prop_map(|(k, v)| Spoil::Replace(k, v)),
    ]
}

/// Sets `key` in the object itself and in its first nested object, so deep fields get hit.
fn replace_somewhere(object: &mut Map<String, Value>, key: &str, value: Value) {
    if let Some(Value::Object(inner)) = object.values_mut().find(|v| v.is_object()) {
        inner.insert(key.to_owned(), value.clone());
    }
    object.insert(key.to_owned(), value);
}

fn fixture_frames() -> Vec<Vec<SseFrame>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut all = Vec::new();
    for provider in ["openai", "anthropic", "gemini"] {
        for entry in std::fs::read_dir(format!("{dir}/{provider}")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "sse") {
                all.push(frames(&[&std::fs::read(path).unwrap()]));
            }
        }
    }
    assert!(all.len() >= 10, "fixtures found");
    all
}
