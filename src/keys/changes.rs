//! Parsing and validating the body of `POST /api/v1/keys` and `PATCH /api/v1/keys/{hash}`.
//!
//! Absent fields are left alone, `null` clears, and each problem is a 400 naming its field.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::spend::usd_to_nano;
use super::{KeyRecord, LimitReset, RateLimit};
use crate::error::ApiError;

/// Fields a client may send. `include_byok_in_limit` and `workspace_id` are OpenRouter's; they
/// are accepted so its SDKs work, and have no effect here.
const FIELDS: &[&str] = &[
    "name",
    "disabled",
    "limit",
    "limit_reset",
    "allowed_providers",
    "allowed_models",
    "rate_limit",
    "expires_at",
    "creator_user_id",
    "include_byok_in_limit",
    "workspace_id",
];

/// Largest limit accepted, in USD.
const MAX_LIMIT_USD: f64 = 1.0e9;

/// Requested changes; `Some(None)` means "set to null".
#[derive(Debug, Default)]
pub struct KeyChanges {
    pub name: Option<String>,
    pub disabled: Option<bool>,
    /// The spend cap in nano-USD, converted from the client's `limit` in USD.
    pub limit_nano: Option<Option<i64>>,
    pub limit_reset: Option<Option<LimitReset>>,
    pub allowed_providers: Option<Option<Vec<String>>>,
    pub allowed_models: Option<Option<Vec<String>>>,
    pub rate_limit: Option<Option<RateLimit>>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub creator_user_id: Option<Option<String>>,
}

fn bad(message: String) -> ApiError {
    ApiError::bad_request(message)
}

fn string_list(name: &str, value: &Value) -> Result<Vec<String>, ApiError> {
    let expected = || bad(format!("'{name}' must be an array of non-empty strings or null"));
    let items = value.as_array().ok_or_else(expected)?;
    items
        .iter()
        .map(|v| v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).ok_or_else(expected))
        .collect()
}

fn nullable<T>(value: &Value, parse: impl FnOnce(&Value) -> Result<T, ApiError>) -> Result<Option<T>, ApiError> {
    if value.is_null() { Ok(None) } else { parse(value).map(Some) }
}

/// Parses an ISO 8601 timestamp that must be in UTC (`Z` or `+00:00`) and in the future.
fn expiry(value: &Value, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let text = value.as_str().ok_or_else(|| bad("'expires_at' must be an ISO 8601 UTC timestamp or null".into()))?;
    let parsed = DateTime::parse_from_rfc3339(text).map_err(|_| {
        bad(format!("'expires_at' must be an ISO 8601 timestamp such as 2026-12-31T23:59:59Z, got '{text}'"))
    })?;
    if parsed.offset().local_minus_utc() != 0 {
        return Err(bad(format!("'expires_at' must be in UTC (ending in Z), got '{text}'")));
    }
    let at = parsed.with_timezone(&Utc);
    if at <= now {
        return Err(bad(format!("'expires_at' must be in the future, got '{text}'")));
    }
    Ok(at)
}

impl KeyChanges {
    /// Parses a request body; `known_providers` are the slugs `allowed_providers` may name.
    pub fn parse(body: &[u8], known_providers: &[&str], now: DateTime<Utc>) -> Result<Self, ApiError> {
        let object: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(Value::Object(object)) => object,
            Ok(_) => return Err(bad("request body must be a JSON object".into())),
            Err(err) => return Err(bad(format!("request body is not valid JSON: {err}"))),
        };
        let mut changes = Self::default();
        for (field, value) in &object {
            match field.as_str() {
                "name" => {
                    let name = value.as_str().map(str::trim).filter(|s| !s.is_empty() && s.len() <= 256);
                    changes.name = Some(
                        name.ok_or_else(|| bad("'name' must be a non-empty string of at most 256 characters".into()))?
                            .to_owned(),
                    );
                }
                "disabled" => {
                    changes.disabled = Some(value.as_bool().ok_or_else(|| bad("'disabled' must be a boolean".into()))?);
                }
                "limit" => {
                    changes.limit_nano = Some(nullable(value, |v| {
                        let usd = v.as_f64().filter(|n| (0.0..=MAX_LIMIT_USD).contains(n));
                        usd.and_then(usd_to_nano)
                            .ok_or_else(|| bad("'limit' must be a non-negative number of USD or null".into()))
                    })?);
                }
                "limit_reset" => {
                    changes.limit_reset = Some(nullable(value, |v| {
                        v.as_str().and_then(LimitReset::parse).ok_or_else(|| {
                            bad(format!("'limit_reset' must be 'daily', 'weekly', 'monthly' or null, got {v}"))
                        })
                    })?);
                }
                "allowed_providers" => {
                    changes.allowed_providers = Some(nullable(value, |v| {
                        let list = string_list(field, v)?;
                        if let Some(unknown) = list.iter().find(|p| !known_providers.contains(&p.as_str())) {
                            return Err(bad(format!(
                                "'allowed_providers' names unknown provider '{unknown}'; known providers: {}",
                                known_providers.join(", ")
                            )));
                        }
                        Ok(list)
                    })?);
                }
                "allowed_models" => changes.allowed_models = Some(nullable(value, |v| string_list(field, v))?),
                "rate_limit" => changes.rate_limit = Some(nullable(value, RateLimit::parse)?),
                "expires_at" => changes.expires_at = Some(nullable(value, |v| expiry(v, now))?),
                "creator_user_id" => {
                    changes.creator_user_id = Some(nullable(value, |v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| bad("'creator_user_id' must be a string or null".into()))
                    })?);
                }
                "include_byok_in_limit" | "workspace_id" => {}
                other => {
                    return Err(bad(format!("unknown field '{other}'; accepted fields: {}", FIELDS.join(", "))));
                }
            }
        }
        Ok(changes)
    }

    /// Applies the changes to a record.
    pub fn apply(self, record: &mut KeyRecord) {
        if let Some(v) = self.name {
            record.name = v
        }
        if let Some(v) = self.disabled {
            record.disabled = v
        }
        if let Some(v) = self.limit_nano {
            record.limit_nano = v
        }
        if let Some(v) = self.limit_reset {
            record.limit_reset = v
        }
        if let Some(v) = self.allowed_providers {
            record.allowed_providers = v
        }
        if let Some(v) = self.allowed_models {
            record.allowed_models = v
        }
        if let Some(v) = self.rate_limit {
            record.rate_limit = v
        }
        if let Some(v) = self.expires_at {
            record.expires_at = v
        }
        if let Some(v) = self.creator_user_id {
            record.creator_user_id = v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROVIDERS: &[&str] = &["openai", "anthropic", "google"];

    fn now() -> DateTime<Utc> {
        "2026-11-29T12:00:00Z".parse().unwrap()
    }

    fn err(body: &str) -> String {
        KeyChanges::parse(body.as_bytes(), PROVIDERS, now()).unwrap_err().message.into_owned()
    }

    #[test]
    fn parses_the_documented_create_body() {
        let c = KeyChanges::parse(
            br#"{"name":"backend-service","allowed_providers":["openai","anthropic"],"limit":150,"limit_reset":"monthly","expires_at":"2027-12-31T23:59:59Z"}"#,
            PROVIDERS,
            now(),
        )
        .unwrap();
        assert_eq!(c.name.as_deref(), Some("backend-service"));
        assert_eq!(c.limit_nano, Some(Some(150_000_000_000)));
        assert_eq!(c.limit_reset, Some(Some(LimitReset::Monthly)));
        assert_eq!(c.expires_at, Some(Some("2027-12-31T23:59:59Z".parse().unwrap())));
        let cleared =
            KeyChanges::parse(br#"{"limit":null,"limit_reset":null,"expires_at":null}"#, PROVIDERS, now()).unwrap();
        assert_eq!((cleared.limit_nano, cleared.limit_reset, cleared.expires_at), (Some(None), Some(None), Some(None)));
    }

    #[test]
    fn validation_errors_name_the_field() {
        assert!(err(r#"{"limit_reset":"yearly"}"#).contains("'limit_reset'"));
        assert!(err(r#"{"limit":-1}"#).contains("'limit'"));
        assert!(err(r#"{"limit":"150"}"#).contains("'limit'"));
        assert!(err(r#"{"expires_at":"2027-12-31T23:59:59+02:00"}"#).contains("UTC"));
        assert!(err(r#"{"expires_at":"2020-01-01T00:00:00Z"}"#).contains("future"));
        assert!(err(r#"{"expires_at":"tomorrow"}"#).contains("'expires_at'"));
        assert!(err(r#"{"allowed_providers":["openai","nosuch"]}"#).contains("unknown provider 'nosuch'"));
        assert!(err(r#"{"allowed_models":"gpt"}"#).contains("'allowed_models'"));
        assert!(err(r#"{"name":""}"#).contains("'name'"));
        assert!(err(r#"{"disabled":"yes"}"#).contains("'disabled'"));
        assert!(err(r#"{"limt":5}"#).contains("unknown field 'limt'"));
        assert!(err("[1]").contains("JSON object"));
        assert!(err("{").contains("not valid JSON"));
    }
}
