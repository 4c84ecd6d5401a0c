//! Across both directions and across formats: error bodies, the media the glue must fetch, the
//! thought-signature round trip through an OpenAI client, and the property that what `encode`
//! writes, `decode` reads back.

use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::dialect::{Identity, Target, openai};
use crate::llm::{Event, Message, Role};

#[test]
fn error_body_table() {
    let cases = [
        (ErrorKind::BadRequest, 400, "INVALID_ARGUMENT"),
        (ErrorKind::Unauthenticated, 401, "UNAUTHENTICATED"),
        (ErrorKind::PaymentRequired, 402, "FAILED_PRECONDITION"),
        (ErrorKind::Forbidden, 403, "PERMISSION_DENIED"),
        (ErrorKind::NotFound, 404, "NOT_FOUND"),
        (ErrorKind::PayloadTooLarge, 413, "INVALID_ARGUMENT"),
        (ErrorKind::RateLimited, 429, "RESOURCE_EXHAUSTED"),
        (ErrorKind::Internal, 500, "INTERNAL"),
        (ErrorKind::UpstreamFailed, 502, "UNAVAILABLE"),
        (ErrorKind::Unavailable, 503, "UNAVAILABLE"),
        (ErrorKind::UpstreamTimeout, 504, "DEADLINE_EXCEEDED"),
    ];
    for (kind, code, status) in cases {
        let err = ApiError::new(kind, "something went wrong");
        assert_eq!(
            error_body(&err),
            json!({ "error": { "code": code, "message": "something went wrong", "status": status } }),
            "{kind:?}"
        );
        assert_eq!(err.status().as_u16(), code, "the body's code is the HTTP status");
    }
}

#[test]
fn call_ids_carry_signatures() {
    assert_eq!(split_call_id("call_0__thought__c2ln"), ("call_0", Some("c2ln")));
    assert_eq!(split_call_id("call_0"), ("call_0", None));
    assert_eq!(split_call_id("call_0__thought__"), ("call_0__thought__", None));
    assert_eq!(join_call_id("a".into(), Some("s")), "a__thought__s");
    assert_eq!(join_call_id("a".into(), Some(SKIP_SIGNATURE)), "a");
    assert_eq!(join_call_id("a".into(), None), "a");
    for signature in ["gemini:abc", "EqQB", ""] {
        assert_eq!(signature_from_wire(&signature_to_wire(signature)), signature);
    }
}

fn image(url: &str) -> Part {
    Part::Image { source: ImageSource::Url(url.into()) }
}

#[test]
fn http_media_is_listed_for_the_glue_and_swapped_in() {
    let png = |data: &str| ImageSource::Base64 { media_type: "image/png".into(), data: data.into() };
    let mut req = ChatRequest {
        messages: vec![
            Message {
                role: Role::User,
                content: vec![
                    image("https://example.com/a.png"),
                    image("HTTP://example.com/b.png"),
                    image("gs://bucket/c.png"),
                    image("https://generativelanguage.googleapis.com/v1beta/files/d"),
                    image("data:image/png;base64,AAAA"),
                    Part::Image { source: png("BBBB") },
                    Part::Document { source: ImageSource::Url("https://example.com/e.pdf".into()) },
                ],
            },
            Message { role: Role::Assistant, content: vec![Part::text("ok")] },
            Message {
                role: Role::User,
                content: vec![
                    Part::ToolResult {
                        call_id: "c".into(),
                        content: vec![image("https://example.com/f.png")],
                        is_error: false,
                    },
                    image("https://example.com/a.png"),
                ],
            },
        ],
        ..ChatRequest::default()
    };
    assert!(must_fetch("https://example.com/a.png") && must_fetch("http://10.0.0.1/x"));
    assert!(!must_fetch("https://generativelanguage.googleapis.com/v1beta/files/d") && !must_fetch("gs://b/c.png"));
    assert!(!must_fetch("data:image/png;base64,AAAA") && !must_fetch("ftp://x/y"));
    let urls = image_urls(&req);
    assert_eq!(
        urls,
        [
            "https://example.com/a.png",
            "HTTP://example.com/b.png",
            "https://example.com/e.pdf",
            "https://example.com/f.png"
        ]
    );

    let fetched: HashMap<&str, ImageSource> =
        [("https://example.com/a.png", png("QQ==")), ("https://example.com/f.png", png("Rg=="))].into();
    inline_urls(&mut req, |url| fetched.get(url).cloned());
    assert_eq!(image_urls(&req), ["HTTP://example.com/b.png", "https://example.com/e.pdf"]);
    assert_eq!(req.messages[0].content[0], Part::Image { source: png("QQ==") });
    assert_eq!(req.messages[2].content[1], Part::Image { source: png("QQ==") });
    assert!(
        matches!(&req.messages[2].content[0], Part::ToolResult { content, .. } if content[0] == Part::Image { source: png("Rg==") })
    );
}

/// Gemini answers with a signed call → an OpenAI client gets the id with the signature in it →
/// sends it back with the tool result → the call goes back to Gemini with its signature on the
/// part (pitfall 12).
#[test]
fn a_thought_signature_survives_an_openai_client() {
    let gemini_answer =
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gemini/response_tool_call.json"));
    let answer = decode::response(gemini_answer).unwrap();
    let who = Identity { id: "gen-1-x", model: "google/gemini-2.5-pro", pricing: None, prompt_bytes: 0 };
    let completion: Value = serde_json::from_slice(&openai::encode::response(&answer, who)).unwrap();
    let message = completion["choices"][0]["message"].clone();
    assert_eq!(completion["choices"][0]["finish_reason"], "tool_calls");
    let calls = message["tool_calls"].as_array().unwrap();
    let signed_id = calls[0]["id"].as_str().unwrap();
    assert!(signed_id.ends_with("__thought__Cs8BAdHtim9="), "{signed_id}");

    let client_request = json!({
        "model": "google/gemini-2.5-pro",
        "messages": [
            { "role": "user", "content": "Weather in Paris, and the time?" },
            message,
            { "role": "tool", "tool_call_id": calls[1]["id"], "content": "12:00" },
            { "role": "tool", "tool_call_id": signed_id, "content": "15C" },
        ],
    });
    let req = openai::decode::request(&serde_json::to_vec(&client_request).unwrap()).unwrap();
    let body: Value = serde_json::from_slice(
        &encode::request(&req, Target { model: "gemini-2.5-pro", max_output_tokens: None }).unwrap(),
    )
    .unwrap();
    assert_eq!(
        body["contents"][1]["parts"],
        json!([
            { "text": "Let me check." },
            { "functionCall": { "name": "get_weather", "args": { "city": "Paris" } }, "thoughtSignature": "Cs8BAdHtim9=" },
            { "functionCall": { "name": "get_time", "args": {} } },
        ])
    );
    // Results in the order of the calls, named after them.
    assert_eq!(
        body["contents"][2]["parts"],
        json!([
            { "functionResponse": { "name": "get_weather", "response": { "content": "15C" } } },
            { "functionResponse": { "name": "get_time", "response": { "content": "12:00" } } },
        ])
    );
}

// ----------------------------------------------------------------------------------------------
// Property: llm → encode::request → decode::request → llm
// ----------------------------------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    prop_oneof![1 => Just(String::new()), 6 => "[a-zA-Z0-9 .,!?éü東☕\n]{1,12}"]
}

fn arguments() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        "[a-z ]{0,6}".prop_map(Value::from),
        Just(Value::Null),
    ];
    prop::collection::btree_map("[a-z]{1,6}", leaf, 0..4).prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn signature() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+/]{4,12}={0,2}"
}

fn user_part() -> impl Strategy<Value = Part> {
    prop_oneof![
        4 => text().prop_map(Part::text),
        1 => "[a-z]{1,8}".prop_map(|p| image(&format!("https://example.com/{p}.png"))),
        1 => "[A-Za-z0-9+/]{4,16}".prop_map(|data| Part::Image {
            source: ImageSource::Base64 { media_type: "image/png".into(), data },
        }),
    ]
}

/// A tool call before its id is assigned: (name, arguments, thought signature).
type Call = (String, Value, Option<String>);

fn call() -> impl Strategy<Value = Call> {
    (
        prop_oneof![Just("get"), Just("put"), Just("f_1")].prop_map(str::to_owned),
        arguments(),
        prop::option::of(signature()),
    )
}

/// One round: the user speaks, the model answers (perhaps calling tools), and the user answers
/// every call in some order, perhaps adding text.
#[derive(Debug, Clone)]
struct Exchange {
    user: Vec<Part>,
    thinking: Vec<(String, Option<String>)>,
    model: Vec<Part>,
    calls: Vec<Call>,
    results: Vec<(Vec<String>, bool)>,
    reverse_results: bool,
    after: Vec<Part>,
    /// Send each turn as two messages.
    split: bool,
}

fn exchange() -> impl Strategy<Value = Exchange> {
    (
        prop::collection::vec(user_part(), 0..3),
        prop::collection::vec(("[a-z ]{0,8}", prop::option::of(signature())), 0..2),
        prop::collection::vec(text().prop_map(Part::text), 0..2),
        prop::collection::vec(call(), 0..3),
        prop::collection::vec((prop::collection::vec(text(), 0..3), any::<bool>()), 3),
        any::<bool>(),
        prop::collection::vec(user_part(), 0..2),
        any::<bool>(),
    )
        .prop_map(|(user, thinking, model, calls, results, reverse_results, after, split)| Exchange {
            user,
            thinking,
            model,
            calls,
            results,
            reverse_results,
            after,
            split,
        })
}

/// The conversation as a client of another format would send it.
fn conversation(exchanges: &[Exchange]) -> Vec<Message> {
    let mut messages = Vec::new();
    let mut push = |role: Role, parts: Vec<Part>, split: bool| {
        if split && parts.len() > 1 {
            let mut parts = parts;
            let tail = parts.split_off(parts.len() / 2);
            messages.push(Message { role, content: parts });
            messages.push(Message { role, content: tail });
        } else {
            messages.push(Message { role, content: parts });
        }
    };
    for (e, x) in exchanges.iter().enumerate() {
        push(Role::User, x.user.clone(), x.split);
        let mut model: Vec<Part> = x
            .thinking
            .iter()
            .map(|(text, signature)| Part::Thinking {
                text: text.clone(),
                // Only some reasoning came from Gemini.
                signature: signature
                    .as_ref()
                    .map(|s| if s.len() % 2 == 0 { format!("{GEMINI_SIGNATURE}{s}") } else { s.clone() }),
            })
            .collect();
        model.extend(x.model.iter().cloned());
        let ids: Vec<String> = (0..x.calls.len()).map(|j| format!("id-{e}-{j}")).collect();
        for ((name, arguments, signature), id) in x.calls.iter().zip(&ids) {
            let id = join_call_id(id.clone(), signature.as_deref());
            model.push(Part::ToolCall { id, name: name.clone(), arguments: arguments.clone() });
        }
        push(Role::Assistant, model, x.split);
        if !x.calls.is_empty() {
            let mut results: Vec<Part> = x
                .calls
                .iter()
                .zip(&ids)
                .zip(&x.results)
                .map(|(((_, _, signature), id), (texts, is_error))| Part::ToolResult {
                    call_id: join_call_id(id.clone(), signature.as_deref()),
                    content: texts.iter().cloned().map(Part::text).collect(),
                    is_error: *is_error,
                })
                .collect();
            if x.reverse_results {
                results.reverse();
            }
            results.extend(x.after.iter().cloned());
            push(Role::User, results, x.split);
        }
    }
    messages
}

/// What Gemini is sent, in neutral form, read back: the encoder's rules (module docs of
/// `encode`) applied by hand, with the ids the decoder generates.
fn expected(messages: &[Message]) -> Vec<Message> {
    let mut turns: Vec<Message> = Vec::new();
    for message in messages {
        let content: Vec<Part> = message
            .content
            .iter()
            .filter(|part| match part {
                Part::Text { text, .. } => !text.is_empty(),
                Part::Thinking { text, signature } => {
                    !text.is_empty() && signature.as_deref().is_some_and(|s| s.starts_with(GEMINI_SIGNATURE))
                }
                _ => true,
            })
            .cloned()
            .collect();
        if content.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == message.role => last.content.extend(content),
            _ => turns.push(Message { role: message.role, content }),
        }
    }
    // Ids: `call_<n>` in order, keeping the signature.
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut n = 0;
    let mut previous_calls: Vec<String> = Vec::new();
    for turn in &mut turns {
        match turn.role {
            Role::Assistant => {
                previous_calls.clear();
                for part in &mut turn.content {
                    if let Part::ToolCall { id, .. } = part {
                        let (_, signature) = split_call_id(id);
                        let new = join_call_id(format!("call_{n}"), signature);
                        n += 1;
                        previous_calls.push(id.clone());
                        ids.insert(id.clone(), new.clone());
                        *id = new;
                    }
                }
            }
            Role::User => {
                let (mut results, rest): (Vec<Part>, Vec<Part>) =
                    turn.content.drain(..).partition(|p| matches!(p, Part::ToolResult { .. }));
                let position = |p: &Part| match p {
                    Part::ToolResult { call_id, .. } => previous_calls.iter().position(|c| c == call_id),
                    _ => None,
                };
                results.sort_by_key(|p| position(p).unwrap_or(usize::MAX));
                for result in &mut results {
                    if let Part::ToolResult { call_id, content, .. } = result {
                        *call_id = ids[call_id.as_str()].clone();
                        let joined = content
                            .iter()
                            .filter_map(|p| match p {
                                Part::Text { text, .. } => Some(text.as_str()),
                                _ => None,
                            })
                            .collect::<Vec<_>>()
                            .join("\n");
                        *content = if joined.is_empty() { vec![] } else { vec![Part::text(joined)] };
                    }
                }
                results.extend(rest);
                turn.content = results;
            }
        }
    }
    turns
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn requests_survive_encode_then_decode(
        exchanges in prop::collection::vec(exchange(), 1..5),
        system in prop::collection::vec(text(), 0..3),
    ) {
        let req = ChatRequest {
            model: "google/gemini-2.5-flash".into(),
            system: system.iter().cloned().map(Part::text).collect(),
            messages: conversation(&exchanges),
            ..ChatRequest::default()
        };
        let target = Target { model: "gemini-2.5-flash", max_output_tokens: None };
        let expected = expected(&req.messages);
        match encode::request(&req, target) {
            Err(err) => prop_assert!(expected.is_empty(), "refused: {}", err),
            Ok(body) => {
                let back = decode::request(&body)
                    .map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&body))))?;
                prop_assert_eq!(back.model.as_str(), "");
                let system: Vec<Part> = system.into_iter().filter(|s| !s.is_empty()).map(Part::text).collect();
                prop_assert_eq!(back.system, system);
                prop_assert_eq!(back.messages, expected);
                prop_assert_eq!(back.extra, Map::new());
            }
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Property: events → StreamEncoder → bytes → StreamDecoder → events
// ----------------------------------------------------------------------------------------------

/// One piece of a streamed answer.
#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Thinking(Vec<String>, Option<String>),
    /// Id, name, arguments and where to cut their JSON into fragments.
    Tool(String, String, Value, Vec<usize>),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        text().prop_map(Piece::Text),
        (prop::collection::vec(text(), 1..3), prop::option::of(signature())).prop_map(|(t, s)| Piece::Thinking(t, s)),
        (
            "[a-z0-9]{1,6}",
            prop::option::of(signature()),
            "[a-z_]{1,8}",
            arguments(),
            prop::collection::vec(0usize..64, 0..3)
        )
            .prop_map(|(id, sig, name, args, cuts)| Piece::Tool(
                join_call_id(format!("toolu_{id}"), sig.as_deref()),
                name,
                args,
                cuts
            )),
    ]
}

fn finish_reason_strategy() -> impl Strategy<Value = FinishReason> {
    prop_oneof![
        Just(FinishReason::Stop),
        Just(FinishReason::Length),
        Just(FinishReason::ToolCalls),
        Just(FinishReason::ContentFilter),
        Just(FinishReason::Error),
    ]
}

proptest! {
    /// What `StreamEncoder` writes for a Gemini client, `StreamDecoder` reads back, however the
    /// bytes are chunked.
    #[test]
    fn streams_survive_encode_then_decode(
        pieces in prop::collection::vec(piece(), 0..6),
        reason in finish_reason_strategy(),
        (prompt, cached, completion, reasoning) in (0u64..1000, 0u64..1000, 0u64..1000, 0u64..1000),
        chunk in 1usize..64,
    ) {
        let usage = Usage {
            prompt_tokens: prompt + cached,
            completion_tokens: completion + reasoning,
            cached_tokens: cached,
            cache_write_tokens: 0,
            reasoning_tokens: reasoning,
        };
        let who = Identity { id: "gen-1-x", model: "openai/gpt-5.4", pricing: None, prompt_bytes: 0 };
        let mut input = vec![Event::Start { id: "up".into(), model: "up-model".into() }];
        let mut expected = vec![Event::Start { id: who.id.into(), model: who.model.into() }];
        let mut tools = 0;
        for piece in &pieces {
            match piece {
                Piece::Text(text) => {
                    input.push(Event::TextDelta(text.clone()));
                    if !text.is_empty() {
                        expected.push(Event::TextDelta(text.clone()));
                    }
                }
                Piece::Thinking(parts, signature) => {
                    for part in parts {
                        input.push(Event::ThinkingDelta(part.clone()));
                        if !part.is_empty() {
                            expected.push(Event::ThinkingDelta(part.clone()));
                        }
                    }
                    if let Some(signature) = signature {
                        input.push(Event::ThinkingSignature(signature.clone()));
                        expected.push(Event::ThinkingSignature(signature.clone()));
                    }
                }
                Piece::Tool(id, name, arguments, cuts) => {
                    input.push(Event::ToolCallStart { index: tools, id: id.clone(), name: name.clone() });
                    let json = arguments.to_string();
                    let mut at = 0;
                    for cut in cuts {
                        let end = (*cut).clamp(at, json.len());
                        let end = (end..=json.len()).find(|e| json.is_char_boundary(*e)).unwrap();
                        input.push(Event::ToolArgsDelta { index: tools, json: json[at..end].to_owned() });
                        at = end;
                    }
                    input.push(Event::ToolArgsDelta { index: tools, json: json[at..].to_owned() });
                    expected.push(Event::ToolCallStart { index: tools, id: id.clone(), name: name.clone() });
                    expected.push(Event::ToolArgsDelta { index: tools, json });
                    tools += 1;
                }
            }
        }
        input.push(Event::Usage(usage));
        input.push(Event::Finish { reason, native: None, stop_sequence: None });
        let (back, native) = match reason {
            FinishReason::Stop | FinishReason::ToolCalls if tools > 0 => (FinishReason::ToolCalls, "STOP"),
            FinishReason::Stop | FinishReason::ToolCalls => (FinishReason::Stop, "STOP"),
            FinishReason::Length => (FinishReason::Length, "MAX_TOKENS"),
            FinishReason::ContentFilter => (FinishReason::ContentFilter, "SAFETY"),
            FinishReason::Error => (FinishReason::Stop, "OTHER"),
        };
        expected.push(Event::Usage(usage));
        expected.push(Event::Finish { reason: back, native: Some(native.into()), stop_sequence: None });

        let mut encoder = encode::StreamEncoder::new(who);
        let mut bytes = bytes::BytesMut::new();
        for event in &input {
            encoder.push(event, &mut bytes);
        }
        encoder.finish(&mut bytes);

        let mut sse = crate::sse::SseDecoder::default();
        let mut decoder = decode::StreamDecoder::new();
        let mut events = Vec::new();
        for piece in bytes.chunks(chunk) {
            let mut frames = Vec::new();
            sse.push(piece, &mut frames).unwrap();
            for frame in &frames {
                events.extend(decoder.push(frame).map_err(|e| TestCaseError::fail(format!("{e}")))?);
            }
        }
        prop_assert!(decoder.is_done());
        prop_assert!(decoder.finish().is_ok());
        prop_assert_eq!(events, expected);
    }
}
