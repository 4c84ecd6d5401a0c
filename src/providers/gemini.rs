//! Google Gemini (Developer API): `{base}/v1beta/models/{model}:{action}`, `x-goog-api-key`.

use crate::error::ApiError;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// Adds the provider key, in a header rather than `?key=` so it never appears in a URL (and so
/// never in an error message or a log line that carries one).
pub fn authorize(headers: &mut HeaderMap, credential: Option<&HeaderValue>) {
    if let Some(credential) = credential {
        headers.insert(API_KEY, credential.clone());
    }
}

/// Gemini's key header.
const API_KEY: HeaderName = HeaderName::from_static("x-goog-api-key");

/// A model id that is safe to put in a URL path segment.
pub fn checked_model(model: &str) -> Result<&str, ApiError> {
    let ok = !model.is_empty()
        && model.len() <= 128
        && model.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        && !model.starts_with('.');
    if ok { Ok(model) } else { Err(ApiError::bad_request(format!("'{model}' is not a valid Gemini model id"))) }
}

/// Path of a model action: `generateContent`, `countTokens`, `embedContent`, …
pub fn action_path(model: &str, action: &str) -> Result<String, ApiError> {
    Ok(format!("/v1beta/models/{}:{action}", checked_model(model)?))
}

/// Path of a chat call; streams always use SSE (`alt=sse`).
pub fn chat_path(model: &str, stream: bool) -> Result<String, ApiError> {
    if stream {
        Ok(format!("{}?alt=sse", action_path(model, "streamGenerateContent")?))
    } else {
        action_path(model, "generateContent")
    }
}

/// Gemini reports a bad API key as 400 `API_KEY_INVALID`; that is the gateway's credential
/// problem, not the client's request, so it is treated like a 401.
pub fn normalize_status(status: StatusCode, body: &[u8]) -> StatusCode {
    let needle = b"API_KEY_INVALID";
    if status == StatusCode::BAD_REQUEST && body.windows(needle.len()).any(|w| w == needle) {
        StatusCode::UNAUTHORIZED
    } else {
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_refuse_anything_that_could_leave_the_segment() {
        assert_eq!(
            chat_path("gemini-2.5-flash", true).unwrap(),
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(chat_path("gemini-2.5-flash", false).unwrap(), "/v1beta/models/gemini-2.5-flash:generateContent");
        for bad in ["../x", "a/b", "a?b", "a#b", "a b", "", "..", "a:b"] {
            assert!(checked_model(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bad_gemini_key_is_a_credential_failure() {
        let body = br#"{"error":{"code":400,"status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}"#;
        assert_eq!(normalize_status(StatusCode::BAD_REQUEST, body), StatusCode::UNAUTHORIZED);
        assert_eq!(normalize_status(StatusCode::BAD_REQUEST, b"{}"), StatusCode::BAD_REQUEST);
    }
}
