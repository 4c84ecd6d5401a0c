//! Admission of a request: recording it, the `x-api-key` and `anthropic-version` checks, the
//! first-byte delay and the JSON body.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Map, Value};

use super::error::{error, invalid};
use super::{API_KEY_HEADER, VERSION_HEADER};
use crate::mock::MockState;

/// Checks `x-api-key` and `anthropic-version`; the error response when they are wrong.
pub(super) fn auth_error(state: &MockState, headers: &HeaderMap, request_id: &str) -> Option<Response> {
    let unauthorized = |message| error(StatusCode::UNAUTHORIZED, "authentication_error", message, request_id);
    match headers.get(API_KEY_HEADER).map(|v| v.to_str().unwrap_or_default()) {
        None => Some(unauthorized("x-api-key header is required")),
        Some(key) if !state.accepts(key) => Some(unauthorized("invalid x-api-key")),
        Some(_) if !headers.contains_key(VERSION_HEADER) => {
            Some(invalid("anthropic-version header is required", request_id))
        }
        Some(_) => None,
    }
}

/// Records the request, authenticates it, waits the first-byte delay and parses the body.
pub(super) async fn admit(
    state: &MockState,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    request_id: &str,
) -> Result<Map<String, Value>, Response> {
    state.record(method, uri, headers, body);
    if let Some(response) = auth_error(state, headers, request_id) {
        return Err(response);
    }
    state.first_byte_delay().await;
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(request)) => Ok(request),
        Ok(_) => Err(invalid("body: Input should be a valid dictionary", request_id)),
        Err(e) => Err(invalid(&format!("There was an error parsing the body of your request: {e}"), request_id)),
    }
}
