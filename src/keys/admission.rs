//! Admission: may this key send this request? Allow-lists, unpriced models, the spend limit and
//! the rate limit, and, for keys with a spend limit, a reservation of the request's worst-case
//! cost.
//!
//! The check and the reservation happen under the key's one lock, so concurrent requests see
//! each other's reservations: a request is admitted while settled spend plus what requests in
//! flight have reserved is below the limit. Each request's actual cost is at most its
//! estimate, so the limit can be overshot by at most the estimate of the last request admitted.
//! The rate limit is checked last, once everything else has passed (under the spend lock when
//! there is one), so a request refused for any other reason takes no rate slot and a request
//! refused for its rate holds no budget. No I/O: everything is in the cached key.

use std::sync::Arc;

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

/// Budget held for one request in flight. Settling it books the actual cost; dropping it
/// unsettled (the request failed before an answer, or a handler returned early) gives the hold
/// back.
#[derive(Debug)]
pub struct Reservation {
    key: Arc<CachedKey>,
    nano: i64,
}

impl Reservation {
    /// The key the budget is held on; the ledger row names its hash.
    pub fn key(&self) -> &Arc<CachedKey> {
        &self.key
    }

    /// Replaces the hold with the actual cost, dated `at` (the request's arrival).
    pub fn settle(&mut self, cost_nano: i64, at: DateTime<Utc>) {
        let mut spend = self.key.spend.lock().expect("spend lock poisoned");
        spend.release(std::mem::take(&mut self.nano));
        if cost_nano != 0 {
            spend.add(cost_nano, at);
        }
    }

    /// Counts the tokens the request used against the key's tokens-per-minute limit, dated
    /// `now` (when it settled: a long stream's tokens count from its end). Nothing to do for
    /// keys without one.
    pub fn count_tokens(&self, tokens: u64, now: DateTime<Utc>) {
        if self.key.record.rate_limit.is_some_and(|limit| limit.tokens_per_minute.is_some()) {
            self.key.rate.lock().expect("rate lock poisoned").add_tokens(tokens, now.timestamp_millis());
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.nano != 0 {
            self.key.spend.lock().expect("spend lock poisoned").release(self.nano);
        }
    }
}

/// Takes a request slot under the key's rate limit, if it has one.
fn take_rate_slot(key: &CachedKey, now: DateTime<Utc>) -> Result<(), ApiError> {
    let Some(limit) = &key.record.rate_limit else { return Ok(()) };
    let now_ms = now.timestamp_millis();
    let admitted = key.rate.lock().expect("rate lock poisoned").admit(limit, now_ms);
    admitted.map_err(|refusal| refusal.into_error(now_ms))
}

/// Whether the key's allow-lists cover `route`.
fn allowed(record: &KeyRecord, route: &Route) -> Result<(), ApiError> {
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
    Ok(())
}

/// Whether the key may use `route` at all (allow-lists, and a price when it has a spend
/// limit), without reserving anything: fallback candidates are filtered with it, so a fallback
/// never reaches a provider or model the key may not use.
pub fn permitted(key: &CachedKey, route: &Route, allow_unpriced: bool) -> Result<(), ApiError> {
    allowed(&key.record, route)?;
    if key.record.limit_nano.is_some() && route.pricing.is_none() && !allow_unpriced {
        return Err(ApiError::forbidden(format!(
            "model '{}' has no price in the catalog, and this API key has a spend limit",
            route.model
        )));
    }
    Ok(())
}

/// Checks allow-lists, budget and rate limit, takes a rate slot on keys with a rate limit, and
/// reserves `estimate_nano` (the request's worst-case cost) on keys with a spend limit. The
/// error says which rule refused.
pub fn admit(
    key: &Arc<CachedKey>,
    route: &Route,
    now: DateTime<Utc>,
    allow_unpriced: bool,
    estimate_nano: i64,
) -> Result<Reservation, ApiError> {
    let record: &KeyRecord = &key.record;
    allowed(record, route)?;
    let unreserved = || Ok(Reservation { key: key.clone(), nano: 0 });
    let Some(limit) = record.limit_nano else {
        take_rate_slot(key, now)?;
        return unreserved();
    };
    if route.pricing.is_none() && !allow_unpriced {
        return Err(ApiError::forbidden(format!(
            "model '{}' has no price in the catalog, and this API key has a spend limit",
            route.model
        )));
    }
    let mut spend = key.spend.lock().expect("spend lock poisoned");
    let used = spend.view(now).for_reset(record.limit_reset);
    if used >= limit {
        let period = match record.limit_reset {
            Some(reset) => format!("{} limit", reset.as_str()),
            None => "limit".to_owned(),
        };
        return Err(ApiError::new(
            ErrorKind::PaymentRequired,
            format!("this API key has reached its {period} of ${}", nano_to_usd(limit)),
        ));
    }
    if used + spend.reserved() >= limit {
        return Err(ApiError::new(
            ErrorKind::PaymentRequired,
            "requests in flight have reserved the rest of this API key's limit; retry when they finish",
        )
        .with_retry_after(Some(1)));
    }
    take_rate_slot(key, now)?;
    spend.hold(estimate_nano);
    drop(spend);
    Ok(Reservation { key: key.clone(), nano: estimate_nano })
}
