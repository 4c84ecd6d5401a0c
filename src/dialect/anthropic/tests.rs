//! Property tests across both directions: what `encode` writes, `decode` reads back.

use bytes::BytesMut;
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::encode::{EMPTY_TOOL_RESULT, StreamEncoder, tool_id};
use super::{decode, encode};
use crate::dialect::{Identity, Target};
use crate::llm::{ChatRequest, Event, FinishReason, ImageSource, Message, Part, Role};
use crate::sse::SseDecoder;
use crate::usage::Usage;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        1 => "[ \t\n]{1,3}",
        1 => "[a-z]{1,6}[ \n]{1,2}",
        6 => "\\PC{1,16}",
    ]
}

/// Tool call ids as other providers write them: many are not Anthropic-safe.
fn call_id() -> impl Strategy<Value = String> {
    prop_oneof!["toolu_[A-Za-z0-9]{8}", "call_[A-Za-z0-9]{6}", "[a-zA-Z0-9_.:|=-]{0,12}"]
}

fn arguments() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
    ];
    prop::collection::btree_map("[a-z_]{1,6}", scalar, 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>()))
}

fn image() -> impl Strategy<Value = Part> {
    prop_oneof![
        "[a-z]{1,8}".prop_map(|p| Part::Image { source: ImageSource::Url(format!("https://example.com/{p}.png")) }),
        "[A-Za-z0-9+/]{4,16}"
            .prop_map(|data| Part::Image { source: ImageSource::Base64 { media_type: "image/png".into(), data } }),
    ]
}

fn user_part() -> impl Strategy<Value = Part> {
    prop_oneof![
        4 => text().prop_map(Part::text),
        1 => image(),
        2 => (call_id(), prop::collection::vec(text(), 0..3), any::<bool>()).prop_map(|(id, texts, is_error)| {
            Part::ToolResult { call_id: id, content: texts.into_iter().map(Part::text).collect(), is_error }
        }),
    ]
}

fn assistant_part() -> impl Strategy<Value = Part> {
    prop_oneof![
        4 => text().prop_map(Part::text),
        2 => (call_id(), "[a-z_]{1,10}", arguments())
            .prop_map(|(id, name, arguments)| Part::ToolCall { id, name, arguments }),
        1 => ("\\PC{0,12}", "[A-Za-z0-9+/=]{4,12}")
            .prop_map(|(text, signature)| Part::Thinking { text, signature: Some(signature) }),
    ]
}

/// Turns whose roles alternate or not, as a client of any format may send them.
fn messages() -> impl Strategy<Value = Vec<Message>> {
    let message = prop_oneof![
        prop::collection::vec(user_part(), 0..4).prop_map(|content| Message { role: Role::User, content }),
        prop::collection::vec(assistant_part(), 0..4).prop_map(|content| Message { role: Role::Assistant, content }),
    ];
    prop::collection::vec(message, 1..8)
}

/// What the Messages API is sent, in neutral form: the encoder's rules (module docs of
/// `encode`) applied by hand.
fn expected(messages: &[Message]) -> Vec<Message> {
    let blank = |t: &str| t.trim().is_empty();
    let mut turns: Vec<(Role, Vec<Part>, Vec<Part>)> = Vec::new();
    for message in messages {
        let (mut first, mut rest) = (Vec::new(), Vec::new());
        for part in &message.content {
            match part {
                Part::Text { text, .. } if blank(text) => {}
                Part::ToolCall { id, name, arguments } => rest.push(Part::ToolCall {
                    id: tool_id(id).into_owned(),
                    name: name.clone(),
                    arguments: arguments.clone(),
                }),
                Part::ToolResult { call_id, content, is_error } => {
                    let mut content: Vec<Part> = content
                        .iter()
                        .filter(|p| !matches!(p, Part::Text { text, .. } if blank(text)))
                        .cloned()
                        .collect();
                    if content.is_empty() {
                        content.push(Part::text(EMPTY_TOOL_RESULT));
                    }
                    first.push(Part::ToolResult {
                        call_id: tool_id(call_id).into_owned(),
                        content,
                        is_error: *is_error,
                    });
                }
                Part::Thinking { .. } => first.push(part.clone()),
                _ => rest.push(part.clone()),
            }
        }
        if first.is_empty() && rest.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((role, f, r)) if *role == message.role => {
                f.append(&mut first);
                r.append(&mut rest);
            }
            _ => turns.push((message.role, first, rest)),
        }
    }
    let mut out: Vec<Message> = turns
        .into_iter()
        .map(|(role, mut first, mut rest)| {
            first.append(&mut rest);
            Message { role, content: first }
        })
        .collect();
    if let Some(Message { role: Role::Assistant, content }) = out.last_mut() {
        if let Some(Part::Text { text, .. }) = content.last_mut() {
            text.truncate(text.trim_end().len());
        }
    }
    out
}

proptest! {
    #[test]
    fn requests_survive_encode_then_decode(messages in messages()) {
        let req = ChatRequest { model: "anthropic/claude".into(), messages: messages.clone(), ..ChatRequest::default() };
        let target = Target { model: "claude-sonnet-4-6", max_output_tokens: None };
        let expected = expected(&messages);
        match encode::request(&req, target) {
            Err(err) => prop_assert!(expected.is_empty(), "refused: {err}"),
            Ok(body) => {
                let back = decode::request(&body).map_err(|e| TestCaseError::fail(format!("{e}")))?;
                prop_assert_eq!(back.model.as_str(), "claude-sonnet-4-6");
                prop_assert_eq!(back.messages, expected);
            }
        }
    }
}

/// One piece of a streamed answer.
#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Thinking(Vec<String>, String),
    Tool(String, String, Vec<String>),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        text().prop_map(Piece::Text),
        (prop::collection::vec(text(), 1..3), "[A-Za-z0-9+/=]{4,12}").prop_map(|(t, s)| Piece::Thinking(t, s)),
        (call_id(), "[a-z_]{1,8}", prop::collection::vec("\\PC{0,6}", 0..3)).prop_map(|(i, n, a)| Piece::Tool(i, n, a)),
    ]
}

fn finish_reason() -> impl Strategy<Value = FinishReason> {
    prop_oneof![
        Just(FinishReason::Stop),
        Just(FinishReason::Length),
        Just(FinishReason::ToolCalls),
        Just(FinishReason::ContentFilter),
        Just(FinishReason::Error),
    ]
}

proptest! {
    /// What `StreamEncoder` writes for an Anthropic client, `StreamDecoder` reads back intact,
    /// however the bytes are chunked.
    #[test]
    fn streams_survive_encode_then_decode(
        pieces in prop::collection::vec(piece(), 0..6),
        reason in finish_reason(),
        (cached, written, fresh, completion) in (0u64..1000, 0u64..1000, 0u64..1000, 0u64..1000),
        chunk in 1usize..64,
    ) {
        let usage = Usage {
            prompt_tokens: cached + written + fresh,
            completion_tokens: completion,
            cached_tokens: cached,
            cache_write_tokens: written,
            reasoning_tokens: 0,
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
                    input.push(Event::ThinkingSignature(signature.clone()));
                    expected.push(Event::ThinkingSignature(signature.clone()));
                }
                Piece::Tool(id, name, fragments) => {
                    input.push(Event::ToolCallStart { index: tools, id: id.clone(), name: name.clone() });
                    expected.push(Event::ToolCallStart { index: tools, id: tool_id(id).into_owned(), name: name.clone() });
                    for json in fragments {
                        input.push(Event::ToolArgsDelta { index: tools, json: json.clone() });
                        if !json.is_empty() {
                            expected.push(Event::ToolArgsDelta { index: tools, json: json.clone() });
                        }
                    }
                    if fragments.iter().all(String::is_empty) {
                        expected.push(Event::ToolArgsDelta { index: tools, json: "{}".into() });
                    }
                    tools += 1;
                }
            }
        }
        input.push(Event::Finish { reason, native: None, stop_sequence: None });
        input.push(Event::Usage(usage));
        let (back, native) = match reason {
            _ if tools > 0 => (FinishReason::ToolCalls, "tool_use"),
            FinishReason::Stop | FinishReason::Error => (FinishReason::Stop, "end_turn"),
            FinishReason::Length => (FinishReason::Length, "max_tokens"),
            FinishReason::ToolCalls => (FinishReason::ToolCalls, "tool_use"),
            FinishReason::ContentFilter => (FinishReason::ContentFilter, "refusal"),
        };
        expected.push(Event::Finish { reason: back, native: Some(native.into()), stop_sequence: None });

        let mut encoder = StreamEncoder::new(who);
        let mut bytes = BytesMut::new();
        for event in &input {
            encoder.push(event, &mut bytes);
        }
        encoder.finish(&mut bytes);

        let mut sse = SseDecoder::default();
        let mut decoder = decode::StreamDecoder::new();
        let mut events = Vec::new();
        for piece in bytes.chunks(chunk) {
            let mut frames = Vec::new();
            sse.push(piece, &mut frames).unwrap();
            for frame in &frames {
                events.extend(decoder.push(frame).map_err(|e| TestCaseError::fail(format!("{e}")))?);
            }
        }
        prop_assert!(decoder.finish().is_ok());
        let last_usage = events.iter().rev().find_map(|e| match e { Event::Usage(u) => Some(*u), _ => None });
        prop_assert_eq!(last_usage, Some(usage));
        events.retain(|e| !matches!(e, Event::Usage(_)));
        prop_assert_eq!(events, expected);
    }
}
