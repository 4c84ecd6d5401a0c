//! `POST /v1/chat/completions` with `"stream": true`: chunk-by-chunk relay, the usage chunk,
//! errors before and after the first byte, client disconnect, and graceful shutdown.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use arouter::mock::MockOptions;
use serde_json::{Value, json};

use crate::common::{Harness, assert_error, chat, sse_events};

const ANSWER: &str = "Hello! This is the arouter mock upstream. You said: Hello!";
const UPSTREAM_ERROR: &str = "The server had an error while processing your request.";

fn stream_body(model: &str) -> Value {
    let mut body = chat(model);
    body["stream"] = true.into();
    body
}

fn mock(chunk_delay_ms: u64, extra_words: usize) -> MockOptions {
    MockOptions { chunk_delay: Duration::from_millis(chunk_delay_ms), extra_words, ..Default::default() }
}

fn parse(event: &str) -> Value {
    serde_json::from_str(event).unwrap_or_else(|e| panic!("event is not JSON ({e}): {event}"))
}

/// The non-empty `delta.content` of a chunk, if it has one.
fn content_of(chunk: &Value) -> Option<&str> {
    chunk["choices"][0]["delta"]["content"].as_str().filter(|s| !s.is_empty())
}

fn concat_content(events: &[String]) -> String {
    events.iter().filter(|e| *e != "[DONE]").map(|e| content_of(&parse(e)).unwrap_or("").to_owned()).collect()
}

/// Reads an SSE response incrementally with `Response::chunk`, noting when each event arrived.
struct SseReader {
    response: reqwest::Response,
    buf: Vec<u8>,
    ready: VecDeque<(String, Instant)>,
}

impl SseReader {
    fn new(response: reqwest::Response) -> Self {
        Self { response, buf: Vec::new(), ready: VecDeque::new() }
    }

    /// The next `data:` payload and the time the bytes that completed it arrived.
    async fn next(&mut self) -> Option<(String, Instant)> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            let bytes = self.response.chunk().await.expect("stream read")?;
            let at = Instant::now();
            self.buf.extend_from_slice(&bytes);
            while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = self.buf.drain(..end + 2).collect();
                let event = String::from_utf8(event).expect("UTF-8 event");
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    self.ready.push_back((data.to_owned(), at));
                }
            }
        }
    }

    /// Reads until the first event with non-empty content; returns its arrival time.
    async fn first_content(&mut self) -> Instant {
        loop {
            let (event, at) = self.next().await.expect("stream ended before any content");
            if event != "[DONE]" && content_of(&parse(&event)).is_some() {
                return at;
            }
        }
    }

    async fn rest(&mut self) -> Vec<String> {
        let mut events = Vec::new();
        while let Some((event, _)) = self.next().await {
            events.push(event);
        }
        events
    }
}

fn generation_id(response: &reqwest::Response) -> String {
    response.headers()["x-generation-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn streams_rewritten_chunks_then_usage_then_done() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let response = h.post("/v1/chat/completions", &key).json(&stream_body("openai/gpt-5.4")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let id = generation_id(&response);
    assert!(id.starts_with("gen-"), "{id}");
    let events = sse_events(response).await;

    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(events.iter().filter(|e| *e == "[DONE]").count(), 1);
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| parse(e)).collect();
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk", "{chunk}");
        assert_eq!(chunk["id"], id.as_str(), "{chunk}");
        assert_eq!(chunk["model"], "openai/gpt-5.4", "{chunk}");
        assert!(chunk.get("error").is_none(), "{chunk}");
    }
    assert_eq!(concat_content(&events), ANSWER);
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "stop"));

    let usage_chunk = &chunks[chunks.len() - 1];
    assert_eq!(usage_chunk["choices"], json!([]), "second-to-last event is the usage chunk: {usage_chunk}");
    let usage = &usage_chunk["usage"];
    assert_eq!(usage["prompt_tokens"], 4);
    assert_eq!(usage["completion_tokens"], 10);
    assert_eq!(usage["is_byok"], false);
    let cost = usage["cost"].as_f64().expect("usage.cost is a number");
    assert!(cost > 0.0);
    assert_eq!(chunks.iter().filter(|c| c["choices"] == json!([])).count(), 1);

    // What the upstream was asked for.
    let requests = h.mock.requests();
    assert_eq!(requests.len(), 1);
    let sent = requests[0].json();
    assert_eq!(sent["model"], "gpt-5.4");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
    assert_eq!(requests[0].headers["accept"], "text/event-stream");

    // And what the ledger kept.
    let record = h.generation(&id).await;
    assert_eq!((record.status, record.streamed, record.cancelled, record.usage_estimated), (200, true, false, false));
    assert_eq!((record.usage.prompt_tokens, record.usage.completion_tokens), (4, 10));
    assert_eq!(record.cost_nano, 4 * 2_500 + 10 * 15_000);
    assert_eq!(record.cost_nano as f64 / 1e9, cost);
    assert_eq!(record.finish_reason.as_deref(), Some("stop"));
    assert!(record.first_byte_ms.is_some());
}

#[tokio::test]
async fn usage_chunk_opt_out_hides_it_from_the_client_but_not_from_the_ledger() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let mut body = stream_body("openai/gpt-5.4");
    body["stream_options"] = json!({ "include_usage": false });
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let id = generation_id(&response);
    let events = sse_events(response).await;

    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(concat_content(&events), ANSWER);
    for event in events.iter().filter(|e| *e != "[DONE]") {
        let chunk = parse(event);
        assert_ne!(chunk["choices"], json!([]), "usage chunk reached a client that opted out: {event}");
        assert!(chunk["usage"].is_null(), "{event}");
    }
    assert_eq!(h.mock.requests()[0].json()["stream_options"]["include_usage"], true, "the gateway still asks upstream");

    let record = h.generation(&id).await;
    assert!(!record.usage_estimated);
    assert_eq!((record.usage.prompt_tokens, record.usage.completion_tokens), (4, 10));
    assert_eq!(record.cost_nano, 4 * 2_500 + 10 * 15_000);
}

#[tokio::test]
async fn chunks_are_relayed_as_they_arrive_not_buffered() {
    let h = Harness::with(mock(150, 0), |_| {}).await;
    let key = h.api_key().await;
    let response = h.post("/v1/chat/completions", &key).json(&stream_body("openai/gpt-5.4")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut reader = SseReader::new(response);
    let first_content = reader.first_content().await;
    let mut last_content = first_content;
    let mut rest = Vec::new();
    while let Some((event, at)) = reader.next().await {
        if event != "[DONE]" && content_of(&parse(&event)).is_some() {
            last_content = at;
        }
        rest.push(event);
    }
    assert_eq!(rest.last().map(String::as_str), Some("[DONE]"));

    let streams = h.mock.streams();
    assert_eq!(streams.len(), 1);
    let upstream = &streams[0];
    assert!(upstream.finished);
    let last_sent = upstream.last_chunk_at.expect("the mock sent chunks");
    assert!(
        first_content < last_sent,
        "first content reached the client {:?} after the upstream's last chunk",
        first_content.duration_since(last_sent)
    );
    // Ten words 150 ms apart: the client saw them spread out, not in one burst.
    assert!(last_sent.duration_since(first_content) > Duration::from_millis(900));
    assert!(last_content.duration_since(first_content) > Duration::from_millis(900));
}

#[tokio::test]
async fn failures_before_the_first_byte_are_http_errors() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let send = |model: &str| h.post("/v1/chat/completions", &key).json(&stream_body(model)).send();

    let failed = send("openai/fault-500").await.unwrap();
    assert_eq!(failed.headers()["content-type"], "application/json");
    assert_error(failed, 502, "server_error", "upstream request failed").await;

    let limited = send("openai/fault-429").await.unwrap();
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_ne!(limited.headers()["content-type"], "text/event-stream");
    assert_error(limited, 429, "rate_limit_error", "rate limiting").await;

    let rejected = send("openai/fault-400").await.unwrap();
    assert_eq!(rejected.headers()["content-type"], "application/json");
    assert_error(rejected, 400, "invalid_request_error", "mock: this request was rejected").await;
    // The 500 was retried twice; the 429 (Retry-After 7 s) and the 400 were not.
    assert_eq!(h.upstream_calls(), 5);
}

#[tokio::test]
async fn failures_after_the_first_byte_end_with_an_error_chunk() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    for model in ["openai/fault-cut", "openai/fault-midstream-error", "openai/fault-malformed"] {
        let response = h.post("/v1/chat/completions", &key).json(&stream_body(model)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{model}");
        assert_eq!(response.headers()["content-type"], "text/event-stream", "{model}");
        let id = generation_id(&response);
        let text = response.text().await.unwrap();
        assert!(!text.contains(UPSTREAM_ERROR), "{model}: upstream message shown verbatim: {text}");
        assert!(!text.contains("not json"), "{model}: upstream garbage relayed: {text}");
        let events: Vec<String> = text
            .split("\n\n")
            .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")).map(str::to_owned))
            .collect();
        assert!(!events.iter().any(|e| e == "[DONE]"), "{model}: [DONE] after an error: {text}");
        let (last, before) = events.split_last().expect("some events");
        assert!(!concat_content(before).is_empty(), "{model}: no content before the error: {text}");
        assert!(concat_content(before).starts_with("Hello!"), "{model}");
        for event in before {
            let chunk = parse(event);
            assert!(chunk.get("error").is_none(), "{model}: {event}");
            assert_eq!(chunk["id"], id.as_str());
        }

        let last = parse(last);
        assert_eq!(last["object"], "chat.completion.chunk", "{model}: {last}");
        assert_eq!(last["id"], id.as_str(), "{model}: {last}");
        assert_eq!(last["model"], model, "{model}: {last}");
        assert_eq!(last["choices"][0]["finish_reason"], "error", "{model}: {last}");
        assert_eq!(last["error"]["code"], 502, "{model}: {last}");
        assert_eq!(last["error"]["type"], "server_error", "{model}: {last}");
        assert!(!last["error"]["message"].as_str().unwrap_or("").is_empty(), "{model}: {last}");

        let record = h.generation(&id).await;
        assert_eq!((record.status, record.streamed, record.cancelled), (200, true, false), "{model}");
        assert_eq!(record.finish_reason.as_deref(), Some("error"), "{model}");
    }
}

#[tokio::test]
async fn client_disconnect_drops_the_upstream_and_is_charged_by_estimate() {
    let h = Harness::with(mock(100, 200), |_| {}).await;
    let key = h.api_key().await;
    let response = h.post("/v1/chat/completions", &key).json(&stream_body("openai/gpt-5.4")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let id = generation_id(&response);
    let mut reader = SseReader::new(response);
    reader.first_content().await;
    drop(reader);
    let gone = Instant::now();

    let log = loop {
        let log = h.mock.streams().pop().expect("the mock served a stream");
        if log.dropped_at.is_some() || gone.elapsed() > Duration::from_secs(1) {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let dropped_at =
        log.dropped_at.unwrap_or_else(|| panic!("upstream still streaming 1 s after the client left: {log:?}"));
    assert!(dropped_at.duration_since(gone) < Duration::from_secs(1));
    assert!(!log.finished);
    assert!(log.chunks_sent < 50, "the upstream kept going: {log:?}");

    let record = h.generation(&id).await;
    assert_eq!((record.status, record.streamed, record.cancelled), (499, true, true));
    assert!(record.usage_estimated, "usage never arrived, so it is an estimate");
    assert!(record.usage.prompt_tokens > 0);
    assert!(record.usage.completion_tokens > 0);
    assert!(record.cost_nano > 0);
}

#[tokio::test]
async fn a_stream_without_usage_is_metered_by_estimate() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let response =
        h.post("/v1/chat/completions", &key).json(&stream_body("openai/fault-no-usage")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let id = generation_id(&response);
    let events = sse_events(response).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(concat_content(&events), ANSWER);

    let record = h.generation(&id).await;
    assert_eq!((record.status, record.streamed, record.cancelled), (200, true, false));
    assert!(record.usage_estimated);
    assert!(record.usage.completion_tokens > 0);
    assert!(record.usage.prompt_tokens > 0);
    assert_eq!(record.finish_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn tool_call_deltas_stream_through() {
    let h = Harness::start().await;
    let key = h.api_key().await;
    let mut body = stream_body("openai/gpt-5.4");
    body["tools"] =
        json!([{ "type": "function", "function": { "name": "get_weather", "parameters": { "type": "object" } } }]);
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let id = generation_id(&response);
    let events = sse_events(response).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| parse(e)).collect();

    let calls: Vec<&Value> =
        chunks.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array()).flatten().collect();
    assert!(calls.len() >= 2, "{calls:?}");
    assert!(calls.iter().all(|c| c["index"] == 0), "{calls:?}");
    assert_eq!(calls[0]["id"], "call_mock_1");
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let fragments: Vec<&str> = calls[1..].iter().map(|c| c["function"]["arguments"].as_str().unwrap()).collect();
    assert!(fragments.len() >= 2 && fragments.iter().all(|f| !f.is_empty()), "{fragments:?}");
    assert!(calls[1..].iter().all(|c| c.get("id").is_none() && c["function"].get("name").is_none()));
    let arguments: String = calls.iter().filter_map(|c| c["function"]["arguments"].as_str()).collect();
    let arguments: Value = serde_json::from_str(&arguments).unwrap();
    assert_eq!(arguments, json!({ "input": "Hello!" }));
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
    assert_eq!(chunks.last().unwrap()["choices"], json!([]));

    let record = h.generation(&id).await;
    assert_eq!(record.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(record.usage.completion_tokens, 12);
    assert_eq!(h.mock.requests()[0].json()["tools"][0]["function"]["name"], "get_weather");
}

#[tokio::test]
async fn graceful_shutdown_lets_a_running_stream_finish() {
    let dir = tempfile::tempdir().unwrap();
    // The harness does not own this directory, so the database outlives `stop`.
    let url = format!("sqlite://{}", dir.path().join("arouter.db").display());
    let h = Harness::on_database(&url, mock(50, 40), |_| {}).await;
    let db_url = h.db_url.clone();
    let key = h.api_key().await;
    let response = h.post("/v1/chat/completions", &key).json(&stream_body("openai/gpt-5.4")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let id = generation_id(&response);
    let health = h.url("/healthz");
    let mut reader = SseReader::new(response);
    reader.first_content().await;

    let stopping = Instant::now();
    let stopper = tokio::spawn(h.stop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = reqwest::Client::new().get(&health).timeout(Duration::from_secs(2)).send().await;
    assert!(refused.is_err(), "a new connection was accepted after shutdown began");
    assert!(!stopper.is_finished(), "shutdown did not wait for the stream");

    let events = reader.rest().await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "the stream was cut by shutdown");
    let usage_chunk = parse(&events[events.len() - 2]);
    assert_eq!(usage_chunk["choices"], json!([]));
    let words = events.iter().filter(|e| *e != "[DONE]" && content_of(&parse(e)).is_some()).count();
    assert_eq!(words, 40 + 10 - 1, "every word after the first arrived");
    assert!(stopping.elapsed() > Duration::from_secs(1), "the stream ended suspiciously early");

    tokio::time::timeout(Duration::from_secs(15), stopper).await.expect("stop returned").unwrap();
    let store = arouter::store::Store::connect(&db_url).await.unwrap();
    let record = store.get_generation(&id).await.unwrap().expect("generation flushed to the database at shutdown");
    assert_eq!((record.status, record.streamed, record.cancelled, record.usage_estimated), (200, true, false, false));
    assert_eq!(record.usage.completion_tokens, 50);
}

#[tokio::test]
async fn a_silent_upstream_gets_keep_alive_comments_between_chunks() {
    let options = MockOptions { chunk_delay: Duration::from_millis(400), ..MockOptions::default() };
    let h = Harness::with(options, |c| c.timeouts.keep_alive = Duration::from_millis(100)).await;
    let key = h.api_key().await;
    let mut body = chat("openai/gpt-5.4");
    body["stream"] = json!(true);
    body["max_tokens"] = json!(2);
    let response = h.post("/v1/chat/completions", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let comments = text.lines().filter(|l| *l == ": keep-alive").count();
    assert!(comments >= 4, "expected keep-alive comments while the upstream was silent:\n{text}");
    let data: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    assert_eq!(data.last(), Some(&"[DONE]"));
    let content: String = data
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(content, "Hello! This", "keep-alives do not disturb the content");
}
