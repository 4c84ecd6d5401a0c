//! Authentication: find the presented key (Bearer, `X-Api-Key`, `x-goog-api-key` or `?key=`),
//! hash it, look it up in the in-memory cache, and check its type, state and expiry.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::keys::{CachedKey, KeyHash, KeyType};
use crate::state::AppState;

/// A request authenticated with an API (`lr_live_`) key.
#[derive(Debug, Clone)]
pub struct ApiCaller(pub Arc<CachedKey>);

/// A request authenticated with a management (`lr_mgmt_`) key.
#[derive(Debug, Clone)]
pub struct ManagementCaller(pub Arc<CachedKey>);

/// A request authenticated with either kind of key.
#[derive(Debug, Clone)]
pub struct AnyCaller(pub Arc<CachedKey>);

/// The key the client presented, in the order ARouter documents.
fn presented_key(parts: &Parts) -> Option<&str> {
    let header =
        |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    if let Some(auth) = header(header::AUTHORIZATION.as_str()) {
        let (scheme, token) = auth.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim());
    }
    header("x-api-key")
        .or_else(|| header("x-goog-api-key"))
        .or_else(|| parts.uri.query()?.split('&').find_map(|pair| pair.strip_prefix("key=")).filter(|k| !k.is_empty()))
}

fn authenticate(state: &AppState, parts: &Parts) -> Result<Arc<CachedKey>, ApiError> {
    let presented =
        presented_key(parts).ok_or_else(|| ApiError::unauthenticated("missing or invalid Authorization header"))?;
    if KeyType::of_plaintext(presented).is_none() {
        return Err(ApiError::unauthenticated("invalid api key"));
    }
    let key = state.keys.get(&KeyHash::of(presented)).ok_or_else(|| ApiError::unauthenticated("invalid api key"))?;
    if key.record.disabled {
        return Err(ApiError::unauthenticated("api key is disabled"));
    }
    if key.record.is_expired(state.clock.now()) {
        return Err(ApiError::unauthenticated("api key has expired"));
    }
    Ok(key)
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = authenticate(state, parts)?;
        match key.record.key_type {
            KeyType::Regular => Ok(Self(key)),
            KeyType::Management => {
                Err(ApiError::forbidden("management keys cannot call inference endpoints; use an lr_live_ API key"))
            }
        }
    }
}

impl FromRequestParts<AppState> for ManagementCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = authenticate(state, parts)?;
        match key.record.key_type {
            KeyType::Management => Ok(Self(key)),
            KeyType::Regular => Err(ApiError::forbidden("Only management keys can perform this operation")),
        }
    }
}

impl FromRequestParts<AppState> for AnyCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(state, parts).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(builder: axum::http::request::Builder) -> Parts {
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn finds_keys_in_every_documented_place() {
        let p = parts(Request::get("/").header("authorization", "Bearer lr_live_a"));
        assert_eq!(presented_key(&p), Some("lr_live_a"));
        let p = parts(Request::get("/").header("authorization", "bearer  lr_live_b "));
        assert_eq!(presented_key(&p), Some("lr_live_b"));
        let p = parts(Request::get("/").header("X-Api-Key", "lr_live_c"));
        assert_eq!(presented_key(&p), Some("lr_live_c"));
        let p = parts(Request::get("/").header("x-goog-api-key", "lr_live_d"));
        assert_eq!(presented_key(&p), Some("lr_live_d"));
        let p = parts(Request::get("/v1beta/models?alt=sse&key=lr_live_e"));
        assert_eq!(presented_key(&p), Some("lr_live_e"));
        let p = parts(Request::get("/").header("authorization", "Basic abc"));
        assert_eq!(presented_key(&p), None);
        let p = parts(Request::get("/?key="));
        assert_eq!(presented_key(&p), None);
    }
}
