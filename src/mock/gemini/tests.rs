//! The fake Gemini API over real HTTP.

use std::time::Duration;

use serde_json::{Value, json};

use super::{ANSWER_PREFIX as GREETING, EMBEDDING_DIMENSIONS, THOUGHT_SIGNATURE, THOUGHT_TEXT};
use crate::config::Config;
use crate::mock::{MOCK_API_KEY, MockOptions, MockUpstream};

async fn start() -> MockUpstream {
    MockUpstream::start(MockOptions { chunk_delay: Duration::ZERO, ..MockOptions::default() }).await.unwrap()
}

fn url(mock: &MockUpstream, model: &str, action: &str) -> String {
    format!("{}/v1beta/models/{model}:{action}", mock.gemini_base_url())
}

async fn post_raw(mock: &MockUpstream, model: &str, action: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url(mock, model, action))
        .header("x-goog-api-key", MOCK_API_KEY)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn post(mock: &MockUpstream, model: &str, action: &str, body: &Value) -> (u16, Value) {
    let response = post_raw(mock, model, action, body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn user(text: &str) -> Value {
    json!({ "role": "user", "parts": [{ "text": text }] })
}

fn hello(text: &str) -> Value {
    json!({ "contents": [user(text)] })
}

fn weather_tools() -> Value {
    json!([{ "functionDeclarations": [{
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] }
    }] }])
}

fn text_of(response: &Value) -> String {
    response["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["thought"] != true)
        .filter_map(|p| p["text"].as_str())
        .collect()
}

/// The JSON of every `data:` event of a CRLF-framed SSE body (panics on any other framing).
fn sse_chunks(body: &str) -> Vec<Value> {
    assert!(body.ends_with("\r\n\r\n"), "{body:?}");
    body.trim_end_matches("\r\n\r\n")
        .split("\r\n\r\n")
        .map(|event| serde_json::from_str(event.strip_prefix("data: ").expect("data: prefix")).unwrap())
        .collect()
}

#[tokio::test]
async fn generates_text_in_the_gemini_shape() {
    let mock = start().await;
    let body = json!({
        "systemInstruction": { "parts": [{ "text": "Be brief." }] },
        "contents": [
            user("first question"),
            { "role": "model", "parts": [{ "text": "first answer" }] },
            { "role": "user", "parts": [{ "text": "hi" }, { "text": "there" }] }
        ],
        "generationConfig": { "temperature": 0.5, "thinkingConfig": { "thinkingBudget": 0 } }
    });
    let (status, r) = post(&mock, "gemini-2.5-flash", "generateContent", &body).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        r["candidates"],
        json!([{
            "content": { "role": "model", "parts": [{ "text": format!("{GREETING} hi there") }] },
            "finishReason": "STOP",
            "index": 0
        }])
    );
    // system 2 words; contents (2 + 3) + (2 + 3) + (2 + 3); thinking off, so no thoughts.
    assert_eq!(
        r["usageMetadata"],
        json!({
            "promptTokenCount": 17, "candidatesTokenCount": 12, "totalTokenCount": 29,
            "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": 17 }]
        })
    );
    assert_eq!(r["modelVersion"], "gemini-2.5-flash");
    assert!(r["responseId"].as_str().unwrap().starts_with("mock"));

    let recorded = mock.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(recorded[0].headers["x-goog-api-key"], MOCK_API_KEY);
    assert_eq!(recorded[0].json(), body);
}

#[tokio::test]
async fn thinking_models_report_thoughts_outside_candidates() {
    let mock = start().await;
    // By default a 2.5 model thinks: thoughtsTokenCount, not part of candidatesTokenCount.
    let (_, r) = post(&mock, "gemini-2.5-flash", "generateContent", &hello("hi")).await;
    assert_eq!(r["usageMetadata"]["promptTokenCount"], 4);
    assert_eq!(r["usageMetadata"]["candidatesTokenCount"], 11);
    assert_eq!(r["usageMetadata"]["thoughtsTokenCount"], 8);
    assert_eq!(r["usageMetadata"]["totalTokenCount"], 23);
    assert!(r["usageMetadata"].get("cachedContentTokenCount").is_none());
    assert_eq!(r["candidates"][0]["content"]["parts"].as_array().unwrap().len(), 1);

    let mut body = hello("hi");
    body["generationConfig"] = json!({ "thinkingConfig": { "includeThoughts": true } });
    let (_, r) = post(&mock, "gemini-2.5-flash", "generateContent", &body).await;
    let parts = &r["candidates"][0]["content"]["parts"];
    assert_eq!(parts[0], json!({ "text": THOUGHT_TEXT, "thought": true }));
    assert_eq!(parts[1]["text"], format!("{GREETING} hi"));

    // A 2.0 model does not think.
    let (_, r) = post(&mock, "gemini-2.0-flash", "generateContent", &hello("hi")).await;
    assert!(r["usageMetadata"].get("thoughtsTokenCount").is_none());
    assert_eq!(r["usageMetadata"]["totalTokenCount"], 15);
}

#[tokio::test]
async fn max_tokens_stop_sequences_json_mode_and_query_key() {
    let mock = start().await;
    let send = |config: Value| {
        let body = json!({ "contents": [user("one two three")], "generationConfig": config });
        let url = format!("{}?key={MOCK_API_KEY}", url(&mock, "gemini-2.0-flash", "generateContent"));
        async move { reqwest::Client::new().post(url).json(&body).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let r = send(json!({ "maxOutputTokens": 3 })).await;
    assert_eq!(text_of(&r), "Hello! This is");
    assert_eq!(r["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(r["usageMetadata"]["candidatesTokenCount"], 3);

    let r = send(json!({ "stopSequences": ["mock"] })).await;
    assert_eq!(text_of(&r), "Hello! This is the arouter");
    assert_eq!(r["candidates"][0]["finishReason"], "STOP");

    let r = send(json!({ "responseMimeType": "application/json" })).await;
    let answer: Value = serde_json::from_str(&text_of(&r)).unwrap();
    assert_eq!(answer, json!({ "answer": format!("{GREETING} one two three") }));
    assert_eq!(mock.requests()[0].query.as_deref(), Some(format!("key={MOCK_API_KEY}").as_str()));
}

#[tokio::test]
async fn calls_a_function_with_a_thought_signature_and_takes_the_answer_back() {
    let mock = start().await;
    let body = json!({ "contents": [user("weather in Paris")], "tools": weather_tools() });
    let (status, r) = post(&mock, "gemini-2.5-flash", "generateContent", &body).await;
    assert_eq!(status, 200, "{r}");
    let candidate = &r["candidates"][0];
    let call = json!({
        "functionCall": { "name": "get_weather", "args": { "input": "weather in Paris" } },
        "thoughtSignature": THOUGHT_SIGNATURE
    });
    assert_eq!(candidate["content"]["parts"], json!([call]));
    assert_eq!(candidate["finishReason"], "STOP", "Gemini has no tool-call finish reason");
    assert_eq!(r["usageMetadata"]["candidatesTokenCount"], 10);

    // Replaying the call with its signature and answering it gives text.
    let answer = json!({ "role": "user", "parts": [{ "functionResponse": { "name": "get_weather", "response": { "output": "sunny" } } }] });
    let turn = json!({ "contents": [user("weather in Paris"), { "role": "model", "parts": [call] }, answer], "tools": weather_tools() });
    let (status, r) = post(&mock, "gemini-2.5-flash", "generateContent", &turn).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(text_of(&r), GREETING, "the last user turn holds no text");

    // mode NONE and a single allowed name steer the choice.
    let mut none = body.clone();
    none["toolConfig"] = json!({ "functionCallingConfig": { "mode": "NONE" } });
    let (_, r) = post(&mock, "gemini-2.5-flash", "generateContent", &none).await;
    assert_eq!(text_of(&r), format!("{GREETING} weather in Paris"));
}

#[tokio::test]
async fn rejects_a_replayed_call_without_its_signature() {
    let mock = start().await;
    let call = json!({ "functionCall": { "name": "get_weather", "args": { "city": "Paris" } } });
    let answer = json!({ "role": "user", "parts": [{ "functionResponse": { "name": "get_weather", "response": { "output": "sunny" } } }] });
    let body = |call: Value| json!({ "contents": [user("weather?"), { "role": "model", "parts": [call] }, answer.clone()], "tools": weather_tools() });
    let (status, r) = post(&mock, "gemini-2.5-flash", "generateContent", &body(call.clone())).await;
    assert_eq!(status, 400);
    assert_eq!(r["error"]["status"], "INVALID_ARGUMENT");
    let message = r["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("Function call is missing a thought_signature in functionCall parts."), "{message}");
    assert!(message.contains("`default_api:get_weather` , position 2."), "{message}");

    let mut forged = call.clone();
    forged["thoughtSignature"] = json!("Zm9yZ2Vk");
    let (status, r) = post(&mock, "gemini-2.5-flash", "generateContent", &body(forged)).await;
    assert_eq!((status, r["error"]["message"].as_str().unwrap()), (400, "Corrupted thought signature."));

    let mut bypass = call.clone();
    bypass["thought_signature"] = json!("skip_thought_signature_validator");
    assert_eq!(post(&mock, "gemini-2.5-flash", "generateContent", &body(bypass)).await.0, 200);
    // Non-thinking models do not check.
    assert_eq!(post(&mock, "gemini-2.0-flash", "generateContent", &body(call)).await.0, 200);
}

#[tokio::test]
async fn function_responses_must_answer_the_calls_one_for_one() {
    let mock = start().await;
    let call = json!({ "functionCall": { "name": "get_weather", "args": {} }, "thoughtSignature": THOUGHT_SIGNATURE });
    let response = json!({ "functionResponse": { "name": "get_weather", "response": { "output": "sunny" } } });
    let send = |calls: Vec<Value>, responses: Vec<Value>| {
        let body = json!({ "contents": [
            user("weather?"),
            { "role": "model", "parts": calls },
            { "role": "user", "parts": responses }
        ] });
        let mock = &mock;
        async move { post(mock, "gemini-2.5-flash", "generateContent", &body).await }
    };
    let (status, r) = send(vec![call.clone(), call.clone()], vec![response.clone()]).await;
    assert_eq!(status, 400);
    assert_eq!(
        r["error"]["message"],
        "Please ensure that the number of function response parts is equal to the number of function call parts of \
         the function call turn."
    );
    let other = json!({ "functionResponse": { "name": "get_time", "response": {} } });
    assert_eq!(send(vec![call.clone()], vec![other]).await.0, 400);
    assert_eq!(send(vec![call.clone(), call.clone()], vec![response.clone(), response.clone()]).await.0, 200);

    // A response turn that follows no call turn.
    let body = json!({ "contents": [{ "role": "user", "parts": [response] }] });
    let (status, r) = post(&mock, "gemini-2.5-flash", "generateContent", &body).await;
    assert_eq!(status, 400);
    assert_eq!(
        r["error"]["message"],
        "Please ensure that function response turn comes immediately after a function call turn."
    );
}

#[tokio::test]
async fn streams_sse_with_crlf_framing_and_cumulative_usage() {
    let mock = start().await;
    let response = reqwest::Client::new()
        .post(format!("{}?alt=sse", url(&mock, "gemini-2.0-flash", "streamGenerateContent")))
        .header("x-goog-api-key", MOCK_API_KEY)
        .json(&hello("hi there"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let body = response.text().await.unwrap();
    assert!(!body.contains("[DONE]"));
    let chunks = sse_chunks(&body);
    assert_eq!(chunks.len(), 12, "one chunk per word");
    let text: String = chunks.iter().map(text_of).collect();
    assert_eq!(text, format!("{GREETING} hi there"));
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["usageMetadata"]["promptTokenCount"], 5);
        assert_eq!(chunk["usageMetadata"]["candidatesTokenCount"], i + 1);
        assert_eq!(chunk["modelVersion"], "gemini-2.0-flash");
        let finish = &chunk["candidates"][0]["finishReason"];
        if i + 1 == chunks.len() { assert_eq!(finish, "STOP") } else { assert!(finish.is_null()) }
    }
    assert_eq!(mock.streams()[0].chunks_sent, 12);
    assert!(mock.streams()[0].finished);
}

#[tokio::test]
async fn streams_a_json_array_without_alt_sse() {
    let mock = start().await;
    let mut body = hello("hi");
    body["tools"] = weather_tools();
    body["generationConfig"] = json!({ "thinkingConfig": { "includeThoughts": true } });
    let response = post_raw(&mock, "gemini-2.5-flash", "streamGenerateContent", &body).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let text = response.text().await.unwrap();
    assert!(text.starts_with("[{") && text.ends_with("}]") && text.contains("}\r\n,\r\n{"), "{text:?}");
    let chunks: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(chunks.len(), 2, "the thought, then the whole call");
    assert_eq!(chunks[0]["candidates"][0]["content"]["parts"][0]["thought"], true);
    assert_eq!(chunks[0]["usageMetadata"]["thoughtsTokenCount"], 8);
    let call = &chunks[1]["candidates"][0]["content"]["parts"][0];
    assert_eq!(call["functionCall"]["args"], json!({ "input": "hi" }));
    assert_eq!(call["thoughtSignature"], THOUGHT_SIGNATURE);
    assert_eq!(chunks[1]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(chunks[1]["usageMetadata"]["totalTokenCount"], 4 + 10 + 8);

    // Errors in this mode are arrays too.
    let response = post_raw(&mock, "gemini-fault-503", "streamGenerateContent", &hello("hi")).await;
    assert_eq!(response.status(), 503);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error[0]["error"]["status"], "UNAVAILABLE");
}

#[tokio::test]
async fn counts_tokens_both_ways() {
    let mock = start().await;
    let (status, r) = post(&mock, "gemini-2.5-flash", "countTokens", &hello("one two three")).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r, json!({ "totalTokens": 6, "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": 6 }] }));

    let wrapped = json!({ "generateContentRequest": {
        "model": "models/gemini-2.5-flash",
        "contents": [user("one two three")],
        "systemInstruction": { "parts": [{ "text": "Be brief." }] },
        "tools": weather_tools()
    } });
    let (status, r) = post(&mock, "gemini-2.5-flash", "countTokens", &wrapped).await;
    assert_eq!((status, r["totalTokens"].clone()), (200, json!(8)));

    // The Developer API takes the system instruction only inside the wrapper.
    let mut bare = hello("hi");
    bare["systemInstruction"] = json!({ "parts": [{ "text": "x" }] });
    let (status, r) = post(&mock, "gemini-2.5-flash", "countTokens", &bare).await;
    assert_eq!(status, 400);
    assert_eq!(
        r["error"]["message"],
        "Invalid JSON payload received. Unknown name \"systemInstruction\": Cannot find field."
    );
}

#[tokio::test]
async fn embeds_one_and_many() {
    let mock = start().await;
    let one = json!({ "content": { "parts": [{ "text": "hello world" }] }, "taskType": "RETRIEVAL_QUERY" });
    let (status, r) = post(&mock, "gemini-embedding-001", "embedContent", &one).await;
    assert_eq!(status, 200, "{r}");
    let values = r["embedding"]["values"].as_array().unwrap();
    assert_eq!(values.len(), EMBEDDING_DIMENSIONS);
    let norm: f64 = values.iter().map(|v| v.as_f64().unwrap().powi(2)).sum();
    assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    assert!(r.get("usageMetadata").is_none());

    let item = |text: &str, dims: Value| json!({ "model": "models/gemini-embedding-001", "content": { "parts": [{ "text": text }] }, "outputDimensionality": dims });
    let batch = json!({ "requests": [item("hello world", Value::Null), item("other", json!(16))] });
    let (status, b) = post(&mock, "gemini-embedding-001", "batchEmbedContents", &batch).await;
    assert_eq!(status, 200, "{b}");
    let embeddings = b["embeddings"].as_array().unwrap();
    assert_eq!(embeddings.len(), 2);
    assert_eq!(embeddings[0]["values"], r["embedding"]["values"], "deterministic, in order");
    assert_eq!(embeddings[1]["values"].as_array().unwrap().len(), 16);

    let mut wrong = batch.clone();
    wrong["requests"][1]["model"] = json!("models/text-embedding-004");
    let (status, e) = post(&mock, "gemini-embedding-001", "batchEmbedContents", &wrong).await;
    assert_eq!(status, 400);
    assert!(e["error"]["message"].as_str().unwrap().starts_with("* BatchEmbedContentsRequest.requests[1].model: "));
}

#[tokio::test]
async fn a_bad_key_gets_googles_api_key_invalid() {
    let mock = start().await;
    let response = reqwest::Client::new()
        .post(url(&mock, "gemini-2.5-flash", "generateContent"))
        .header("x-goog-api-key", "wrong")
        .json(&hello("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": { "service": "generativelanguage.googleapis.com" }
            }]
        } })
    );
    let missing = reqwest::Client::new().post(url(&mock, "gemini-2.5-flash", "generateContent")).json(&hello("hi"));
    let missing = missing.send().await.unwrap();
    assert_eq!(missing.status(), 403);
    let bearer =
        reqwest::Client::new().post(url(&mock, "gemini-2.5-flash", "generateContent")).bearer_auth(MOCK_API_KEY);
    assert_eq!(bearer.json(&hello("hi")).send().await.unwrap().status(), 401);
    assert_eq!(mock.requests().len(), 3, "recorded even when refused");
}

#[tokio::test]
async fn rejects_json_schema_outside_geminis_subset() {
    let mock = start().await;
    let tools = json!([{ "functionDeclarations": [{
        "name": "lookup",
        "parameters": { "type": "object", "additionalProperties": false, "properties": { "q": { "type": "string" } } }
    }] }]);
    let (status, r) =
        post(&mock, "gemini-2.5-flash", "generateContent", &json!({ "contents": [user("hi")], "tools": tools })).await;
    assert_eq!(status, 400);
    assert_eq!(
        r["error"]["message"],
        "Invalid JSON payload received. Unknown name \"additionalProperties\" at \
         'tools[0].function_declarations[0].parameters': Cannot find field."
    );
    assert_eq!(r["error"]["details"][0]["@type"], "type.googleapis.com/google.rpc.BadRequest");
    assert_eq!(r["error"]["details"][0]["fieldViolations"][0]["field"], "tools[0].function_declarations[0].parameters");

    // Nested, several at once, and `type` lists.
    let tools = json!([{ "functionDeclarations": [{
        "name": "lookup",
        "parameters": { "$schema": "x", "type": "object", "properties": { "q": { "type": ["string", "null"], "const": "a" } } }
    }] }]);
    let (_, r) =
        post(&mock, "gemini-2.5-flash", "generateContent", &json!({ "contents": [user("hi")], "tools": tools })).await;
    let message = r["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Unknown name \"$schema\" at 'tools[0].function_declarations[0].parameters'"),
        "{message}"
    );
    assert!(
        message
            .contains("Unknown name \"const\" at 'tools[0].function_declarations[0].parameters.properties[0].value'")
    );
    assert!(message.contains("Unknown name \"type\" at 'tools[0].function_declarations[0].parameters.properties[0].value': Proto field is not repeating, cannot start list."));

    // parametersJsonSchema takes full JSON Schema.
    let tools = json!([{ "functionDeclarations": [{
        "name": "lookup",
        "parametersJsonSchema": { "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": false, "properties": { "q": { "const": "a" } } }
    }] }]);
    let (status, r) =
        post(&mock, "gemini-2.5-flash", "generateContent", &json!({ "contents": [user("hi")], "tools": tools })).await;
    assert_eq!(status, 200, "{r}");
}

#[tokio::test]
async fn validates_contents_roles_and_fields() {
    let mock = start().await;
    let check = |body: Value, message: &'static str| {
        let mock = &mock;
        async move {
            let (status, r) = post(mock, "gemini-2.5-flash", "generateContent", &body).await;
            assert_eq!(status, 400, "{body}");
            assert_eq!(r["error"]["message"], message, "{body}");
        }
    };
    check(json!({}), "* GenerateContentRequest.contents: contents is not specified\n").await;
    check(
        json!({ "contents": [{ "role": "user", "parts": [] }] }),
        "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n",
    )
    .await;
    check(
        json!({ "contents": [user("hi"), { "role": "model", "parts": [{ "text": "" }] }, user("again")] }),
        "* GenerateContentRequest.contents[1].parts[0].data: required oneof field 'data' must have one initialized field\n",
    )
    .await;
    check(
        json!({ "contents": [{ "role": "assistant", "parts": [{ "text": "x" }] }] }),
        "Please use a valid role: user, model.",
    )
    .await;
    check(
        json!({ "contents": [user("hi")], "max_tokens": 5 }),
        "Invalid JSON payload received. Unknown name \"max_tokens\": Cannot find field.",
    )
    .await;
    check(
        json!({ "contents": [user("hi")], "generationConfig": { "temperature": 2.5 } }),
        "Unable to submit request because it has a temperature value of 2.5 but the supported range is from 0 \
         (inclusive) to 2.0001 (exclusive). Update the value and try again.",
    )
    .await;
    check(
        json!({ "contents": [{ "role": "user", "parts": [{ "functionResponse": { "name": "f", "response": "sunny" } }] }] }),
        "Invalid value at 'contents[0].parts[0].function_response.response' (type.googleapis.com/google.protobuf.Struct), \"sunny\"",
    )
    .await;
    // snake_case names are accepted; a missing role means user.
    let body =
        json!({ "contents": [{ "parts": [{ "text": "hi" }] }], "generation_config": { "max_output_tokens": 2 } });
    let (status, r) = post(&mock, "gemini-2.5-flash", "generateContent", &body).await;
    assert_eq!((status, text_of(&r)), (200, "Hello! This".to_owned()));
}

#[tokio::test]
async fn blocks_prompts_without_candidates() {
    let mock = start().await;
    let (status, r) = post(&mock, "gemini-2.0-flash", "generateContent", &hello("please BLOCKME now")).await;
    assert_eq!(status, 200);
    assert!(r.get("candidates").is_none());
    assert_eq!(r["promptFeedback"]["blockReason"], "SAFETY");
    assert_eq!(r["usageMetadata"]["promptTokenCount"], 6);
    assert_eq!(r["usageMetadata"]["totalTokenCount"], 6);

    let response = reqwest::Client::new()
        .post(format!("{}?alt=sse", url(&mock, "gemini-2.0-flash", "streamGenerateContent")))
        .header("x-goog-api-key", MOCK_API_KEY)
        .json(&hello("BLOCKME"))
        .send()
        .await
        .unwrap();
    let chunks = sse_chunks(&response.text().await.unwrap());
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0]["promptFeedback"]["blockReason"], "SAFETY");
}

#[tokio::test]
async fn faults_by_model_name() {
    let mock = start().await;
    for (model, code, status) in [
        ("gemini-fault-500", 500, "INTERNAL"),
        ("gemini-fault-503", 503, "UNAVAILABLE"),
        ("gemini-fault-429", 429, "RESOURCE_EXHAUSTED"),
        ("gemini-fault-400", 400, "INVALID_ARGUMENT"),
    ] {
        let response = post_raw(&mock, model, "generateContent", &hello("hi")).await;
        assert_eq!(response.status(), code);
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap();
        assert_eq!((body["error"]["code"].clone(), body["error"]["status"].clone()), (json!(code), json!(status)));
        if code == 429 {
            assert_eq!(retry_after.as_deref(), Some("7"));
            assert_eq!(body["error"]["details"][2]["retryDelay"], "7s");
        }
    }
    let response = post_raw(&mock, "gemini-fault-malformed", "generateContent", &hello("hi")).await;
    assert_eq!(response.status(), 200);
    assert!(serde_json::from_str::<Value>(&response.text().await.unwrap()).is_err());

    let sse = |model: &'static str| {
        let request = reqwest::Client::new()
            .post(format!("{}?alt=sse", url(&mock, model, "streamGenerateContent")))
            .header("x-goog-api-key", MOCK_API_KEY)
            .json(&hello("hi"));
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let cut = sse_chunks(&sse("gemini-fault-cut").await);
    assert_eq!(cut.len(), 2);
    assert!(cut.iter().all(|c| c["candidates"][0].get("finishReason").is_none()));
    let error = sse_chunks(&sse("gemini-fault-midstream-error").await);
    assert_eq!(error.len(), 3);
    assert_eq!(error[2]["error"]["status"], "UNAVAILABLE");
    assert!(sse("gemini-fault-malformed").await.ends_with("data: {not json\r\n\r\n"));
    let quiet = sse_chunks(&sse("gemini-fault-no-usage").await);
    assert!(quiet.iter().all(|c| c.get("usageMetadata").is_none()));

    let array = post_raw(&mock, "gemini-fault-cut", "streamGenerateContent", &hello("hi")).await.text().await.unwrap();
    assert!(array.starts_with('[') && !array.ends_with(']'), "{array:?}");

    let body = hello("hi");
    let hang = tokio::time::timeout(
        Duration::from_millis(200),
        post_raw(&mock, "gemini-fault-hang", "generateContent", &body),
    );
    assert!(hang.await.is_err());
}

#[tokio::test]
async fn lists_models_in_pages() {
    let mock = start().await;
    let list = |query: &str| {
        let request = reqwest::Client::new()
            .get(format!("{}/v1beta/models{query}", mock.gemini_base_url()))
            .header("x-goog-api-key", MOCK_API_KEY);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let all = list("").await;
    let models = all["models"].as_array().unwrap();
    assert_eq!(models[0]["name"], "models/gemini-2.5-flash");
    assert!(models[0]["supportedGenerationMethods"].as_array().unwrap().contains(&json!("generateContent")));
    assert!(all.get("nextPageToken").is_none());

    let first = list("?pageSize=2").await;
    assert_eq!(first["models"].as_array().unwrap().len(), 2);
    let token = first["nextPageToken"].as_str().unwrap();
    let second = list(&format!("?pageSize=2&pageToken={token}")).await;
    assert_eq!(second["models"][0], models[2]);

    let one = reqwest::Client::new()
        .get(format!("{}/v1beta/models/gemini-2.5-pro?key={MOCK_API_KEY}", mock.gemini_base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(one.json::<Value>().await.unwrap()["name"], "models/gemini-2.5-pro");
}

#[tokio::test]
async fn configure_points_google_at_the_mock() {
    let mock = start().await;
    let mut config = Config::for_tests();
    mock.configure(&mut config);
    let google = config.provider("google").unwrap();
    assert_eq!(google.base_url, format!("http://{}", mock.addr()));
    assert_eq!(google.api_key.as_ref().unwrap().0, MOCK_API_KEY);
}
