//! Property: `llm` → `encode::request` → `decode::request` → `llm` keeps roles (after
//! merging), text, tool calls (arguments as objects; long ids mapped by `encode::call_id` on
//! both sides) and tool results, plus the scalar parameters. What the OpenAI format cannot
//! carry is normalised away first, exactly as the encoder documents it.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{decode, encode};
use crate::dialect::Target;
use crate::llm::{ChatRequest, ImageSource, Message, Part, Role, Tool, ToolChoice};

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 .,!?éü東☕]{1,12}"
}

fn text_part() -> impl Strategy<Value = Part> {
    (text(), any::<bool>())
        .prop_map(|(text, cached)| Part::Text { text, cache_control: cached.then(|| json!({ "type": "ephemeral" })) })
}

fn call_id() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_-]{1,60}"
}

fn arguments() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        text().prop_map(Value::from),
        Just(Value::Null),
    ];
    prop::collection::btree_map("[a-z]{1,6}", leaf, 0..4).prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn user_part() -> impl Strategy<Value = Part> {
    prop_oneof![
        3 => text_part(),
        1 => "[a-z]{1,8}".prop_map(|p| Part::Image { source: ImageSource::Url(format!("https://example.com/{p}.png")) }),
        1 => "[A-Za-z0-9+/]{4,16}".prop_map(|data| Part::Image {
            source: ImageSource::Base64 { media_type: "image/png".into(), data },
        }),
        2 => (call_id(), prop::collection::vec(text_part(), 1..3))
            .prop_map(|(call_id, content)| Part::ToolResult { call_id, content, is_error: false }),
    ]
}

fn assistant_part() -> impl Strategy<Value = Part> {
    prop_oneof![
        3 => text_part(),
        3 => (call_id(), "[a-z_]{1,10}", arguments()).prop_map(|(id, name, arguments)| Part::ToolCall { id, name, arguments }),
        1 => (text(), prop::option::of("[A-Za-z0-9]{4,8}")).prop_map(|(text, signature)| Part::Thinking { text, signature }),
    ]
}

fn turn() -> impl Strategy<Value = Message> {
    prop_oneof![
        prop::collection::vec(user_part(), 1..4).prop_map(|content| Message { role: Role::User, content }),
        prop::collection::vec(assistant_part(), 1..4).prop_map(|content| Message { role: Role::Assistant, content }),
    ]
}

fn tool() -> impl Strategy<Value = Tool> {
    ("[a-z_]{1,10}", prop::option::of(text()), prop::option::of(any::<bool>())).prop_map(
        |(name, description, strict)| Tool {
            name,
            description,
            parameters: json!({ "type": "object", "properties": {} }),
            strict,
            cache_control: None,
        },
    )
}

fn tool_choice() -> impl Strategy<Value = ToolChoice> {
    prop_oneof![
        Just(ToolChoice::Auto),
        Just(ToolChoice::None),
        Just(ToolChoice::Required),
        "[a-z_]{1,10}".prop_map(ToolChoice::Tool),
    ]
}

fn chat_request() -> impl Strategy<Value = ChatRequest> {
    (
        prop::collection::vec(text_part(), 0..3),
        prop::collection::vec(turn(), 1..7),
        (prop::option::of(1u64..100_000), prop::option::of((0u32..=20).prop_map(|t| f64::from(t) / 10.0))),
        (prop::collection::vec(text(), 0..3), any::<bool>(), prop::option::of(any::<i64>())),
        (prop::collection::vec(tool(), 0..3), prop::option::of(tool_choice()), prop::option::of(any::<bool>())),
    )
        .prop_map(
            |(
                system,
                messages,
                (max_tokens, temperature),
                (stop, stream, seed),
                (tools, mut tool_choice, parallel),
            )| {
                // A forced tool is one of the declared ones (any other is refused as bad input).
                if let (Some(ToolChoice::Tool(name)), Some(first)) = (&mut tool_choice, tools.first()) {
                    name.clone_from(&first.name);
                }
                ChatRequest {
                    model: "anthropic/claude-sonnet-4.6".into(),
                    system,
                    messages,
                    max_tokens,
                    temperature,
                    stop,
                    stream,
                    seed,
                    tools,
                    tool_choice,
                    parallel_tool_calls: parallel,
                    ..Default::default()
                }
            },
        )
}

/// What the request should look like after a trip through the OpenAI format.
fn normalised(mut req: ChatRequest) -> ChatRequest {
    let mut turns: Vec<Message> = Vec::new();
    for message in req.messages {
        let content: Vec<Part> = match message.role {
            Role::Assistant => {
                let joined: String = message
                    .content
                    .iter()
                    .filter_map(|p| match p {
                        Part::Text { text, .. } => Some(text.as_str()),
                        _ => None,
                    })
                    .collect();
                let calls = message.content.into_iter().filter_map(|p| match p {
                    Part::ToolCall { id, name, arguments } => {
                        Some(Part::ToolCall { id: encode::call_id(&id).into_owned(), name, arguments })
                    }
                    _ => None,
                });
                (!joined.is_empty()).then(|| Part::text(joined)).into_iter().chain(calls).collect()
            }
            Role::User => message
                .content
                .into_iter()
                .map(|p| match p {
                    Part::ToolResult { call_id, content, is_error: _ } => {
                        let texts: Vec<String> = content
                            .into_iter()
                            .filter_map(|c| match c {
                                Part::Text { text, .. } => Some(text),
                                _ => None,
                            })
                            .collect();
                        let joined = texts.join("\n");
                        Part::ToolResult {
                            call_id: encode::call_id(&call_id).into_owned(),
                            content: if joined.is_empty() { vec![] } else { vec![Part::text(joined)] },
                            is_error: false,
                        }
                    }
                    other => other,
                })
                .collect(),
        };
        if content.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == message.role => last.content.extend(content),
            _ => turns.push(Message { role: message.role, content }),
        }
    }
    for turn in turns.iter_mut().filter(|t| t.role == Role::User) {
        let (mut results, rest): (Vec<Part>, Vec<Part>) =
            turn.content.drain(..).partition(|p| matches!(p, Part::ToolResult { .. }));
        results.extend(rest);
        turn.content = results;
    }
    req.messages = turns;
    req.model = "gpt-5.4".into();
    if req.tools.is_empty() {
        req.tool_choice = None;
        req.parallel_tool_calls = None;
    }

    let mut extra = Map::new();
    if req.stream {
        extra.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    req.extra = extra;
    req
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_decode_keeps_the_conversation(req in chat_request()) {
        let body = encode::request(&req, Target { model: "gpt-5.4", max_output_tokens: None }).unwrap();
        let back = decode::request(&body).unwrap_or_else(|e| panic!("{}: {}", e.message, String::from_utf8_lossy(&body)));
        for message in &back.messages {
            for part in &message.content {
                match part {
                    Part::ToolCall { id, arguments, .. } => {
                        prop_assert!(id.len() <= 40);
                        prop_assert!(arguments.is_object());
                    }
                    Part::ToolResult { call_id, .. } => prop_assert!(call_id.len() <= 40),
                    _ => {}
                }
            }
        }
        prop_assert_eq!(back, normalised(req));
    }
}
