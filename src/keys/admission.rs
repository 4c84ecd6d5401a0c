//! Admission: may this key send this request? Allow-lists, unpriced models and the spend limit.
//! Pure: reads only the cached key, so it costs no I/O.

use chrono::{DateTime, Utc};

use super::spend::nano_to_usd;
use super::{CachedKey, KeyRecord};
use crate::error::{ApiError, ErrorKind};
use crate::routing::Route;

/// Whether `entry` in `allowed_models` covers the route: exact id (with or without variant),
/// a bare OpenAI id, or a `provider/*` wildcard.
fn model_matches(entry: &str, route: &Route) -> bool {
    match entry.strip_suffix("/*") {
        Some(provider) => provider == route.provider,
        None if entry.contains('/') => entry == route.catalog_id || entry == route.model,
        None => route.provider == "openai" && (entry == route.native || format!("openai/{entry}") == route.catalog_id),
    }
}

/// Checks allow-lists and budget; the error says which rule refused.
pub fn admit(key: &CachedKey, route: &Route, now: DateTime<Utc>, allow_unpriced: bool) -> Result<(), ApiError> {
    let record: &KeyRecord = &key.record;
    if let Some(providers) = &record.allowed_providers {
        if !providers.contains(&route.provider) {
            return Err(ApiError::forbidden(format!("provider '{}' is not allowed for this API key", route.provider)));
        }
    }
    if let Some(models) = &record.allowed_models {
        if !models.iter().any(|m| model_matches(m, route)) {
            return Err(ApiError::forbidden(format!("model '{}' is not allowed for this API key", route.model)));
        }
    }
    let Some(limit) = record.limit_nano else { return Ok(()) };
    if route.pricing.is_none() && !allow_unpriced {
        return Err(ApiError::forbidden(format!(
            "model '{}' has no price in the catalog, and this API key has a spend limit",
            route.model
        )));
    }
    if key.limit_remaining(now).unwrap_or(i64::MAX) <= 0 {
        let period = match record.limit_reset {
            Some(reset) => format!("{} limit", reset.as_str()),
            None => "limit".to_owned(),
        };
        return Err(ApiError::new(
            ErrorKind::PaymentRequired,
            format!("this API key has reached its {period} of ${}", nano_to_usd(limit)),
        ));
    }
    Ok(())
}
