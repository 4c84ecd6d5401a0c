//! Embeddings across formats: an OpenAI `/v1/embeddings` request sent to Gemini's
//! `batchEmbedContents`, and Gemini's answer returned as an OpenAI `list`.

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::InvalidResponse;
use crate::error::ApiError;

/// The `batchEmbedContents` body for `texts`, one request per text, in order.
pub fn gemini_batch_request(native_model: &str, texts: &[String], dimensions: Option<u64>) -> Vec<u8> {
    let requests: Vec<Value> = texts
        .iter()
        .map(|text| {
            let mut request =
                json!({ "model": format!("models/{native_model}"), "content": { "parts": [{ "text": text }] } });
            if let Some(dimensions) = dimensions {
                request["outputDimensionality"] = dimensions.into();
            }
            request
        })
        .collect();
    serde_json::to_vec(&json!({ "requests": requests })).expect("JSON value serialises")
}

#[derive(Deserialize)]
struct BatchResponse {
    embeddings: Vec<Embedding>,
}

#[derive(Deserialize)]
struct Embedding {
    values: Vec<f32>,
}

/// The OpenAI `list` for a Gemini batch answer; `base64` packs each vector as little-endian
/// float32 bytes, as the OpenAI SDK expects. Usage is the caller's (Gemini reports none).
pub fn openai_list_from_gemini(
    body: &[u8],
    id: &str,
    model: &str,
    base64: bool,
    usage: Value,
) -> Result<Vec<u8>, InvalidResponse> {
    let batch: BatchResponse = serde_json::from_slice(body).map_err(|e| InvalidResponse(e.to_string()))?;
    let data: Vec<Value> = batch
        .embeddings
        .into_iter()
        .enumerate()
        .map(|(index, embedding)| {
            let vector = if base64 {
                let bytes: Vec<u8> = embedding.values.iter().flat_map(|v| v.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(embedding.values)
            };
            json!({ "object": "embedding", "index": index, "embedding": vector })
        })
        .collect();
    let list = json!({ "id": id, "object": "list", "model": model, "data": data, "usage": usage });
    Ok(serde_json::to_vec(&list).expect("JSON value serialises"))
}

/// Token-id input has no meaning outside OpenAI's tokenizer.
pub fn token_input_refused(provider: &str) -> ApiError {
    ApiError::bad_request(format!(
        "'input' as token ids is only supported for OpenAI models; send text to provider '{provider}'"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_requests_keep_order_and_dimensions() {
        let body = gemini_batch_request("gemini-embedding-001", &["a".into(), "b".into()], Some(4));
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["requests"][1]["content"]["parts"][0]["text"], "b");
        assert_eq!(body["requests"][0]["model"], "models/gemini-embedding-001");
        assert_eq!(body["requests"][0]["outputDimensionality"], 4);
    }

    #[test]
    fn answers_become_openai_lists_in_float_or_base64() {
        let upstream = br#"{"embeddings":[{"values":[0.5,-1.0]},{"values":[0.25,0.0]}]}"#;
        let usage = json!({ "prompt_tokens": 2, "total_tokens": 2 });
        let floats: Value = serde_json::from_slice(
            &openai_list_from_gemini(upstream, "gen-1", "google/e", false, usage.clone()).unwrap(),
        )
        .unwrap();
        assert_eq!(floats["data"][1]["index"], 1);
        assert_eq!(floats["data"][0]["embedding"], json!([0.5, -1.0]));
        assert_eq!(floats["model"], "google/e");
        let packed: Value =
            serde_json::from_slice(&openai_list_from_gemini(upstream, "gen-1", "google/e", true, usage).unwrap())
                .unwrap();
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(packed["data"][0]["embedding"].as_str().unwrap()).unwrap();
        let values: Vec<f32> = bytes.chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        assert_eq!(values, vec![0.5, -1.0]);
        assert!(openai_list_from_gemini(b"{}", "g", "m", false, Value::Null).is_err());
    }
}
