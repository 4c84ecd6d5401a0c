//! Bad input on every inference entry point: each case gets a 4xx in its surface's error shape,
//! with a message naming the problem, and nothing reaches an upstream.

use futures_util::StreamExt;
use serde_json::Value;

use crate::common::Harness;

/// The error shape a surface answers in.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `{"error":{"message","type","code"}}`
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}`
    Anthropic,
    /// `{"error":{"code","message","status"}}`
    Google,
}

/// One entry point, with the body of a valid request that the cases spoil.
struct Surface {
    path: &'static str,
    shape: Shape,
    valid: &'static str,
}

const CHAT_OK: &str = r#"{"model":"openai/gpt-5.4","messages":[{"role":"user","content":"hi"}]}"#;
const CHAT_TRANSLATED: &str = r#"{"model":"anthropic/claude-sonnet-4.6","messages":[{"role":"user","content":"hi"}]}"#;
const EMBED_OK: &str = r#"{"model":"openai/text-embedding-3-small","input":"hi"}"#;
const MESSAGES_OK: &str =
    r#"{"model":"claude-sonnet-4.6","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;
const MESSAGES_TRANSLATED: &str =
    r#"{"model":"openai/gpt-5.4","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;
const COUNT_OK: &str = r#"{"model":"claude-sonnet-4.6","messages":[{"role":"user","content":"hi"}]}"#;
const CONTENTS_OK: &str = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;
const EMBED_CONTENT_OK: &str = r#"{"content":{"parts":[{"text":"hi"}]}}"#;
const BATCH_OK: &str = r#"{"requests":[{"content":{"parts":[{"text":"hi"}]}}]}"#;

fn surfaces() -> Vec<Surface> {
    let s = |path, shape, valid| Surface { path, shape, valid };
    vec![
        s("/v1/chat/completions", Shape::OpenAi, CHAT_OK),
        s("/api/v1/chat/completions", Shape::OpenAi, CHAT_TRANSLATED),
        s("/v1/embeddings", Shape::OpenAi, EMBED_OK),
        s("/api/v1/embeddings", Shape::OpenAi, EMBED_OK),
        s("/v1/messages", Shape::Anthropic, MESSAGES_OK),
        s("/api/v1/messages", Shape::Anthropic, MESSAGES_TRANSLATED),
        s("/v1/messages/count_tokens", Shape::Anthropic, COUNT_OK),
        s("/v1beta/models/gemini-2.5-flash:generateContent", Shape::Google, CONTENTS_OK),
        s("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", Shape::Google, CONTENTS_OK),
        s("/v1beta/models/anthropic/claude-sonnet-4.6:generateContent", Shape::Google, CONTENTS_OK),
        s("/v1/models/gemini-2.5-flash:streamGenerateContent", Shape::Google, CONTENTS_OK),
        s("/v1beta/models/gemini-2.5-flash:countTokens", Shape::Google, CONTENTS_OK),
        s("/v1beta/models/gemini-embedding-001:embedContent", Shape::Google, EMBED_CONTENT_OK),
        s("/v1beta/models/gemini-embedding-001:batchEmbedContents", Shape::Google, BATCH_OK),
    ]
}

/// Cases every surface must refuse, whatever its format: (body, fragment of the message).
fn common_cases() -> Vec<(Vec<u8>, &'static str)> {
    vec![
        (b"{\"model\":".to_vec(), "JSON"),
        (b"[]".to_vec(), "JSON"),
        (b"".to_vec(), "JSON"),
        (b"null".to_vec(), "JSON"),
        (b"\"just a string\"".to_vec(), "JSON"),
        (b"{\"model\":\"\xff\xfe\"}".to_vec(), "JSON"),
        // Deep nesting in a member the gateway does not read is harmless: a clean 400 for
        // whatever is missing, no stack overflow.
        (format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(), "required|JSON"),
    ]
}

/// Cases for one surface: (body, fragment of the message; `a|b` for either).
fn cases_for(surface: &Surface) -> Vec<(String, &'static str)> {
    let with = |field: &str, value: &str| -> String {
        let mut body: Value = serde_json::from_str(surface.valid).unwrap();
        body[field] = serde_json::from_str(value).unwrap();
        body.to_string()
    };
    let without = |field: &str| -> String {
        let mut body: Value = serde_json::from_str(surface.valid).unwrap();
        body.as_object_mut().unwrap().remove(field);
        body.to_string()
    };
    let mut cases: Vec<(String, &'static str)> = Vec::new();
    let path = surface.path;
    if path.ends_with("/chat/completions") {
        let tool = r#"[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]"#;
        let mut missing_tool: Value = serde_json::from_str(&with("tools", tool)).unwrap();
        missing_tool["tool_choice"] = serde_json::json!({"type":"function","function":{"name":"nope"}});
        cases.extend([
            (with("messages", r#""x""#), "'messages'"),
            (with("messages", "[]"), "'messages'"),
            (with("max_tokens", r#""ten""#), "'max_tokens'"),
            (with("stream", "1"), "'stream'"),
            (with("temperature", r#""hot""#), "'temperature'"),
            (with("messages", r#"[{"role":"robot","content":"x"}]"#), "'messages[0].role'"),
            (without("model"), "'model'"),
            (with("model", r#""nope/x""#), "unknown provider 'nope'"),
            (with("stream_options", r#"{"include_usage":true}"#), "'stream_options'"),
            (missing_tool.to_string(), "'nope'"),
            (with("tool_choice", r#"{"type":"function","function":{"name":"get_weather"}}"#), "'tool_choice'"),
            (with("tools", r#""x""#), "'tools'"),
        ]);
        if surface.valid == CHAT_TRANSLATED {
            cases.extend([
                (with("n", "2"), "'n'"),
                (with("tools", r#"[{"type":"custom","custom":{"name":"grep"}}]"#), "'tools[0]"),
            ]);
        }
    } else if path.ends_with("/embeddings") {
        cases.extend([
            (without("model"), "'model'"),
            (without("input"), "'input'"),
            (with("input", "{}"), "'input'"),
            (with("input", "[]"), "'input'"),
            (with("model", r#""nope/x""#), "unknown provider 'nope'"),
            (with("dimensions", r#""ten""#), "'dimensions'"),
        ]);
    } else if path.ends_with("/count_tokens") {
        cases.extend([
            (with("messages", r#""x""#), "'messages'"),
            (without("messages"), "'messages'"),
            (without("model"), "'model'"),
            (with("model", r#""nope/x""#), "unknown provider 'nope'"),
        ]);
    } else if path.ends_with("/messages") {
        let tools = r#"[{"name":"get_weather","input_schema":{"type":"object"}}]"#;
        let mut missing_tool: Value = serde_json::from_str(&with("tools", tools)).unwrap();
        missing_tool["tool_choice"] = serde_json::json!({"type":"tool","name":"nope"});
        cases.extend([
            (with("messages", r#""x""#), "'messages'"),
            (with("messages", "[]"), "'messages'"),
            (with("max_tokens", r#""ten""#), "'max_tokens'"),
            (without("max_tokens"), "'max_tokens'"),
            (with("stream", "1"), "'stream'"),
            (with("temperature", r#""hot""#), "'temperature'"),
            (without("model"), "'model'"),
            (with("model", r#""nope/x""#), "unknown provider 'nope'"),
            (missing_tool.to_string(), "'nope'"),
            (with("tool_choice", r#"{"type":"tool","name":"get_weather"}"#), "'tool_choice'"),
            (with("tools", r#""x""#), "'tools'"),
        ]);
    } else if path.contains(":generateContent") || path.contains(":streamGenerateContent") {
        cases.extend([
            (with("contents", r#""x""#), "'contents'"),
            (with("contents", "[]"), "'contents'"),
            (without("contents"), "'contents'"),
            (with("generationConfig", r#"{"maxOutputTokens":"ten"}"#), "'generationConfig.maxOutputTokens'"),
            (with("generationConfig", r#"{"temperature":"hot"}"#), "'generationConfig.temperature'"),
            (with("generationConfig", r#""x""#), "'generationConfig'"),
            (with("tools", r#""x""#), "'tools'"),
        ]);
        if path.contains("anthropic/") {
            cases.push((with("generationConfig", r#"{"candidateCount":2}"#), "'generationConfig.candidateCount'"));
        }
    } else if path.ends_with(":countTokens") {
        cases.extend([(with("contents", r#""x""#), "'contents'"), (without("contents"), "'contents'")]);
    } else if path.ends_with(":embedContent") {
        cases.extend([(without("content"), "'content'"), (with("content", r#""x""#), "'content'")]);
    } else if path.ends_with(":batchEmbedContents") {
        cases.extend([
            (without("requests"), "'requests'"),
            (with("requests", "[]"), "'requests'"),
            (with("requests", r#"["x"]"#), "'requests[0]'"),
        ]);
    }
    cases
}

/// The status, the surface's error shape and a message naming the problem, or what is wrong.
fn check_shape(shape: Shape, status: u16, body: &Value, fragment: &str) -> Result<(), String> {
    let (kind_field, kind) = match shape {
        Shape::OpenAi => ("type", "invalid_request_error"),
        Shape::Anthropic => ("type", if status == 413 { "request_too_large" } else { "invalid_request_error" }),
        Shape::Google => ("status", "INVALID_ARGUMENT"),
    };
    let error = &body["error"];
    let shaped = match shape {
        Shape::OpenAi => error["code"] == status,
        Shape::Anthropic => body["type"] == "error",
        Shape::Google => error["code"] == status,
    };
    if !shaped || error[kind_field] != kind {
        return Err(format!("not in the {shape:?} error shape: {body}"));
    }
    match error["message"].as_str() {
        // `a|b`: either names the problem.
        Some(message) if fragment.split('|').any(|f| message.contains(f)) => Ok(()),
        _ => Err(format!("message does not name {fragment:?}: {body}")),
    }
}

async fn send(h: &Harness, key: &str, path: &str, body: reqwest::Body) -> (u16, Value) {
    let response = h.post(path, key).header("content-type", "application/json").body(body).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    // Streams answer in SSE; an error body that is not JSON fails the shape check.
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn every_surface_refuses_bad_input_in_its_own_shape_without_calling_upstream() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let mut checked = 0;
    let mut failures = Vec::new();
    for surface in surfaces() {
        // The valid body really is valid, so each case below fails for the reason it names.
        let (status, body) = send(&h, &key, surface.path, surface.valid.into()).await;
        assert_eq!(status, 200, "{}: valid body refused: {body}", surface.path);
        let mut cases: Vec<(Vec<u8>, &str)> =
            cases_for(&surface).into_iter().map(|(body, fragment)| (body.into_bytes(), fragment)).collect();
        cases.extend(common_cases());
        for (body, fragment) in cases {
            let what = format!("{} with {}", surface.path, String::from_utf8_lossy(&body[..body.len().min(160)]));
            let calls = h.upstream_calls();
            let (status, answer) = send(&h, &key, surface.path, body.into()).await;
            let verdict = if status != 400 {
                Err(format!("status {status}: {answer}"))
            } else if h.upstream_calls() != calls {
                Err("reached the upstream".to_owned())
            } else {
                check_shape(surface.shape, status, &answer, fragment)
            };
            if let Err(problem) = verdict {
                failures.push(format!("{what}\n    {problem}"));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{} of {checked} cases failed:\n{}", failures.len(), failures.join("\n"));
    assert!(checked > 100, "the table covers every surface ({checked} cases)");
}

#[tokio::test]
async fn every_surface_refuses_bodies_over_10_mb_with_or_without_content_length() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let big = format!(r#"{{"model":"x","pad":"{}"}}"#, "a".repeat(11 * 1024 * 1024));
    for surface in surfaces() {
        let (status, body) = send(&h, &key, surface.path, big.clone().into()).await;
        assert_eq!(status, 413, "{}: {body}", surface.path);
        check_shape(surface.shape, status, &body, "larger than 10 MB").unwrap();
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            big.as_bytes().chunks(1 << 20).map(|c| Ok(c.to_vec())).collect();
        let chunked = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks).boxed());
        let (status, body) = send(&h, &key, surface.path, chunked).await;
        assert_eq!(status, 413, "{} (chunked): {body}", surface.path);
        check_shape(surface.shape, status, &body, "larger than 10 MB").unwrap();
    }
    assert_eq!(h.upstream_calls(), 0);
}

/// Over-large header blocks are refused by hyper (431) and the connection is closed; the
/// gateway keeps serving.
#[tokio::test]
async fn oversized_header_blocks_get_431_and_the_server_keeps_serving() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::start().await;
    let key = h.api_key().await;
    let huge = format!("x-filler: {}\r\n", "a".repeat(100 * 1024));
    let many: String = (0..200).map(|i| format!("x-h{i}: v\r\n")).collect();
    for headers in [huge, many] {
        let mut tcp = tokio::net::TcpStream::connect(h.addr).await.unwrap();
        let request = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\n{headers}content-length: {}\r\n\r\n{CHAT_OK}",
            CHAT_OK.len()
        );
        // The server may close before reading everything; a write error is fine.
        let _ = tcp.write_all(request.as_bytes()).await;
        let mut answer = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "the connection is closed, not left hanging");
        let text = String::from_utf8_lossy(&answer);
        assert!(text.is_empty() || text.starts_with("HTTP/1.1 431"), "431 or a closed connection: {text}");
    }
    assert_eq!(h.upstream_calls(), 0);
    let ok = h.post("/v1/chat/completions", &key).body(CHAT_OK).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(h.upstream_calls(), 1);
}
