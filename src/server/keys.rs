//! The management API (`/api/v1/keys…`, management key) and the current-key endpoint
//! (`/api/v1/key`, `/v1/key`, any key). Every write goes to the database first, then the cache,
//! so a change takes effect on the next request.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{AnyCaller, ManagementCaller};
use super::body;
use super::key_json::{current_key_object, key_object};
use crate::error::ApiError;
use crate::keys::changes::KeyChanges;
use crate::keys::secret::{self, KeyHash};
use crate::keys::{CachedKey, KeyRecord, KeyType, Spend};
use crate::state::AppState;

/// Keys per page of `GET /api/v1/keys`.
const PAGE_SIZE: usize = 100;

fn known_providers(state: &AppState) -> Vec<&str> {
    state.config.providers.iter().map(|p| p.id.as_str()).collect()
}

/// A key the management API may show and change (not the configured bootstrap key).
fn manageable(state: &AppState, key: &CachedKey) -> bool {
    state.configured_key != Some(key.record.hash)
}

fn find(state: &AppState, hash: &str) -> Result<std::sync::Arc<CachedKey>, ApiError> {
    KeyHash::parse_hex(hash)
        .and_then(|h| state.keys.get(&h))
        .filter(|key| manageable(state, key))
        .ok_or_else(|| ApiError::not_found(format!("no API key with hash '{hash}'")))
}

pub async fn create_key(
    State(state): State<AppState>,
    _caller: ManagementCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let now = state.clock.now();
    let bytes = body::read(&headers, body).await?;
    let changes = KeyChanges::parse(&bytes, &known_providers(&state), now)?;
    if changes.name.is_none() {
        return Err(ApiError::bad_request("'name' is required"));
    }
    let secret = secret::generate(KeyType::Regular);
    let mut record = KeyRecord {
        hash: secret.hash,
        name: String::new(),
        label: secret.label,
        key_type: KeyType::Regular,
        disabled: false,
        limit_nano: None,
        limit_reset: None,
        allowed_providers: None,
        allowed_models: None,
        rate_limit: None,
        created_at: now,
        updated_at: None,
        expires_at: None,
        creator_user_id: None,
    };
    changes.apply(&mut record);
    state.store.insert_key(&record).await?;
    let key = state.keys.insert(record, Spend::default());
    Ok((StatusCode::CREATED, Json(json!({ "data": key_object(&key, now), "key": secret.plaintext }))))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    offset: Option<String>,
    include_disabled: Option<String>,
}

pub async fn list_keys(
    State(state): State<AppState>,
    _caller: ManagementCaller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let offset = match query.offset.as_deref() {
        None | Some("") => 0,
        Some(s) => s.parse::<usize>().map_err(|_| ApiError::bad_request("'offset' must be a non-negative integer"))?,
    };
    let include_disabled = match query.include_disabled.as_deref() {
        None | Some("" | "false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::bad_request("'include_disabled' must be 'true' or 'false'")),
    };
    let now = state.clock.now();
    let data: Vec<Value> = state
        .keys
        .snapshot()
        .iter()
        .filter(|k| manageable(&state, k) && (include_disabled || !k.record.disabled))
        .skip(offset)
        .take(PAGE_SIZE)
        .map(|k| key_object(k, now))
        .collect();
    Ok(Json(json!({ "data": data })))
}

pub async fn get_key(
    State(state): State<AppState>,
    _caller: ManagementCaller,
    Path(hash): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = find(&state, &hash)?;
    Ok(Json(json!({ "data": key_object(&key, state.clock.now()) })))
}

pub async fn update_key(
    State(state): State<AppState>,
    _caller: ManagementCaller,
    Path(hash): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let existing = find(&state, &hash)?;
    let bytes = body::read(&headers, body).await?;
    let changes = KeyChanges::parse(&bytes, &known_providers(&state), now)?;
    let mut record = existing.record.clone();
    changes.apply(&mut record);
    record.updated_at = Some(now);
    if !state.store.update_key(&record).await? {
        return Err(ApiError::not_found(format!("no API key with hash '{hash}'")));
    }
    let key = state
        .keys
        .replace_record(record)
        .ok_or_else(|| ApiError::not_found(format!("no API key with hash '{hash}'")))?;
    Ok(Json(json!({ "data": key_object(&key, now) })))
}

pub async fn delete_key(
    State(state): State<AppState>,
    _caller: ManagementCaller,
    Path(hash): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = find(&state, &hash)?;
    state.store.delete_key(&key.record.hash, state.clock.now()).await?;
    state.keys.remove(&key.record.hash);
    Ok(Json(json!({ "deleted": true, "data": { "deleted": true } })))
}

pub async fn current_key(State(state): State<AppState>, AnyCaller(key): AnyCaller) -> Json<Value> {
    Json(json!({ "data": current_key_object(&key, state.clock.now()) }))
}
