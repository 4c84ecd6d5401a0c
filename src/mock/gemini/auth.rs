//! The API key check (`x-goog-api-key`, else `?key=`) and the query-string reader it uses.

use axum::http::{HeaderMap, Uri, header};
use serde_json::json;

use super::API_KEY_HEADER;
use super::error::{ApiError, error_info};
use crate::mock::MockState;

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| percent_decode(key) == name)
        .map(|(_, value)| percent_decode(value))
}

/// Checks the API key: `x-goog-api-key`, else `?key=`.
pub(super) fn authenticate(state: &MockState, uri: &Uri, headers: &HeaderMap) -> Result<(), ApiError> {
    let from_header = headers.get(API_KEY_HEADER).map(|v| v.to_str().unwrap_or("\u{0}").to_owned());
    let key = from_header.or_else(|| query_param(uri, "key")).filter(|key| !key.is_empty());
    match key {
        Some(key) if state.accepts(&key) => Ok(()),
        Some(_) => Err(ApiError::invalid("API key not valid. Please pass a valid API key.")
            .with_details(vec![error_info("API_KEY_INVALID", json!({}))])),
        None if headers.contains_key(header::AUTHORIZATION) => Err(ApiError::new(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other \
             valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        )
        .with_details(vec![error_info(
            "ACCESS_TOKEN_TYPE_UNSUPPORTED",
            json!({ "method": "google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent" }),
        )])),
        None => Err(ApiError::new(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or \
             other form of API consumer identity to call this API.",
        )),
    }
}
