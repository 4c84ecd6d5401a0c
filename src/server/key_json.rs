//! The key object as ARouter and OpenRouter clients read it. OpenRouter's SDKs validate
//! strictly, so every field they require is present (null or zero where we have no value).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::clock::format_time;
use crate::keys::spend::nano_to_usd;
use crate::keys::{CachedKey, KeyType, RateLimit};

fn usd(nano: Option<i64>) -> Value {
    nano.map_or(Value::Null, |n| nano_to_usd(n).into())
}

/// The key object of the management API (`GET/POST/PATCH /api/v1/keys…`).
pub fn key_object(key: &CachedKey, now: DateTime<Utc>) -> Value {
    let r = &key.record;
    let spend = key.spend_view(now);
    json!({
        "hash": r.hash.to_hex(),
        "name": r.name,
        "label": r.label,
        "key_type": r.key_type.as_str(),
        "disabled": r.disabled,
        "limit": usd(r.limit_nano),
        "limit_remaining": usd(key.limit_remaining(now)),
        "limit_reset": r.limit_reset.map(|l| l.as_str()),
        "include_byok_in_limit": false,
        "allowed_providers": r.allowed_providers,
        "allowed_models": r.allowed_models,
        "rate_limit": r.rate_limit.map(RateLimit::to_json),
        "usage": nano_to_usd(spend.total),
        "usage_daily": nano_to_usd(spend.daily),
        "usage_weekly": nano_to_usd(spend.weekly),
        "usage_monthly": nano_to_usd(spend.monthly),
        "byok_usage": 0.0,
        "byok_usage_daily": 0.0,
        "byok_usage_weekly": 0.0,
        "byok_usage_monthly": 0.0,
        "created_at": format_time(r.created_at),
        "updated_at": r.updated_at.map(format_time),
        "expires_at": r.expires_at.map(format_time),
        "last_used_at": Value::Null,
        "creator_user_id": r.creator_user_id,
        "external_user": Value::Null,
        "workspace_id": "default",
    })
}

/// The calling key's own record (`GET /api/v1/key`, `GET /v1/key`).
pub fn current_key_object(key: &CachedKey, now: DateTime<Utc>) -> Value {
    let mut object = key_object(key, now);
    let extra = json!({
        "is_free_tier": false,
        "is_management_key": key.record.key_type == KeyType::Management,
        "is_provisioning_key": key.record.key_type == KeyType::Management,
        "allowed_data_regions": [],
        "budgets": [],
        "effective_budget": Value::Null,
        "organization_id": Value::Null,
        "workspace_id": Value::Null,
        "free_model_daily_requests": { "limit": -1, "remaining": -1, "used": 0 },
        "rate_limit": current_rate_limit(key.record.rate_limit),
    });
    if let (Value::Object(object), Value::Object(extra)) = (&mut object, extra) {
        object.extend(extra);
    }
    object
}

/// `rate_limit` on the current-key endpoint: OpenRouter's deprecated `{requests, interval,
/// note}` (its SDKs require the three fields), with this key's limit in the shape the management
/// API uses alongside, so both kinds of client read it.
fn current_rate_limit(limit: Option<RateLimit>) -> Value {
    match limit {
        None => json!({
            "requests": -1,
            "interval": "10s",
            "note": "This field is deprecated and safe to ignore.",
            "requests_per_minute": Value::Null,
            "tokens_per_minute": Value::Null,
        }),
        Some(limit) => json!({
            "requests": limit.requests_per_minute,
            "interval": "1m",
            "note": "Deprecated OpenRouter shape; requests_per_minute and tokens_per_minute are this key's limits.",
            "requests_per_minute": limit.requests_per_minute,
            "tokens_per_minute": limit.tokens_per_minute,
        }),
    }
}
