//! Where a request goes and what happens when that upstream fails.
//!
//! `resolve` turns a model id (`provider/model[:variant]`) into a `Route`: provider, native
//! model id, price. No prefix means `openai`; a model missing from the catalog but with a known
//! provider prefix is forwarded as-is and has no price. `plan` orders a request's candidates
//! (fallback list, provider preferences); `Resilience::execute` runs a plan against an upstream
//! executor with retries (`retry`), a circuit breaker per provider (`breaker`) and a retry
//! budget, classifying each failure (`failure`); `health` keeps per-provider state and counters.

pub mod breaker;
pub mod execute;
pub mod failure;
pub mod health;
pub mod plan;
pub mod retry;

pub use execute::{Resilience, Won};
pub use failure::{Failure, FailureClass};
pub use plan::{Plan, RoutingFields};

use std::borrow::Cow;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::ApiError;
use crate::usage::Pricing;

/// Variant suffixes OpenRouter documents; they select routing, not a different upstream model.
const VARIANTS: &[&str] = &["nitro", "floor", "free", "thinking", "extended", "exacto", "online"];

/// Where one request goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Provider slug (`openai`).
    pub provider: String,
    /// The public id as the client should see it in responses (`openai/gpt-5.4`).
    pub model: String,
    /// The catalog id without variant (`openai/gpt-5.4`), used for allow-lists and prices.
    pub catalog_id: String,
    /// What the upstream is sent (`gpt-5.4`).
    pub native: String,
    /// `None` when the catalog has no price: the request costs 0.
    pub pricing: Option<Pricing>,
}

impl Route {
    /// The variant suffix the client asked for (`floor` in `openai/gpt-5.4:floor`), if any.
    pub fn variant(&self) -> Option<&str> {
        let (_, variant) = self.model.rsplit_once(':')?;
        VARIANTS.contains(&variant).then_some(variant)
    }
}

/// Resolves a model id from a request.
pub fn resolve(config: &Config, catalog: &Catalog, requested: &str) -> Result<Route, ApiError> {
    let requested = requested.trim();
    if requested.is_empty() {
        return Err(ApiError::bad_request("'model' must not be empty"));
    }
    // `provider/model[:variant]`, written out once; the ids below are slices of it.
    let full: Cow<'_, str> =
        if requested.contains('/') { Cow::Borrowed(requested) } else { Cow::Owned(format!("openai/{requested}")) };
    let (provider, rest) = full.split_once('/').expect("has a provider prefix");
    if config.provider(provider).is_none() {
        return Err(ApiError::bad_request(format!(
            "unknown provider '{provider}' in model '{requested}'; known providers: {}",
            config.providers.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    if rest.is_empty() {
        return Err(ApiError::bad_request(format!("model '{requested}' names no model after the provider")));
    }
    let base = match rest.rsplit_once(':') {
        Some((base, variant)) if VARIANTS.contains(&variant) => base,
        _ => rest,
    };
    let without_variant = &full[..provider.len() + 1 + base.len()];
    let (catalog_id, native, pricing) = match catalog.find(without_variant) {
        Some(info) => (info.id.clone(), info.native.clone(), info.pricing),
        None => (without_variant.to_owned(), base.to_owned(), None),
    };
    let provider = provider.to_owned();
    Ok(Route { provider, model: full.into_owned(), catalog_id, native, pricing })
}

/// Resolves a model named on a native surface: a bare name belongs to that surface's provider
/// (`claude-sonnet-4.6` on `/v1/messages` is Anthropic's), a prefixed id is routed as usual.
pub fn resolve_native(config: &Config, catalog: &Catalog, provider: &str, requested: &str) -> Result<Route, ApiError> {
    if requested.contains('/') {
        resolve(config, catalog, requested)
    } else {
        resolve(config, catalog, &format!("{provider}/{}", requested.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(model: &str) -> Result<Route, ApiError> {
        let config = Config::for_tests();
        resolve(&config, &config.catalog, model)
    }

    #[test]
    fn bare_ids_go_to_openai() {
        let r = route("gpt-5.4").unwrap();
        assert_eq!((r.provider.as_str(), r.model.as_str(), r.native.as_str()), ("openai", "openai/gpt-5.4", "gpt-5.4"));
        assert!(r.pricing.is_some());
    }

    #[test]
    fn catalog_maps_native_ids_and_variants_are_stripped() {
        let r = route("anthropic/claude-sonnet-4.6:nitro").unwrap();
        assert_eq!(r.native, "claude-sonnet-4-6");
        assert_eq!(r.model, "anthropic/claude-sonnet-4.6:nitro");
        assert_eq!(r.catalog_id, "anthropic/claude-sonnet-4.6");
    }

    #[test]
    fn native_surfaces_default_to_their_provider_and_accept_native_ids() {
        let config = Config::for_tests();
        let r = resolve_native(&config, &config.catalog, "anthropic", "claude-sonnet-4.6").unwrap();
        assert_eq!((r.model.as_str(), r.native.as_str()), ("anthropic/claude-sonnet-4.6", "claude-sonnet-4-6"));
        let dashed = resolve_native(&config, &config.catalog, "anthropic", "claude-sonnet-4-6").unwrap();
        assert_eq!(dashed.catalog_id, "anthropic/claude-sonnet-4.6");
        assert_eq!(dashed.pricing, r.pricing);
        let other = resolve_native(&config, &config.catalog, "anthropic", "openai/gpt-5.4").unwrap();
        assert_eq!(other.provider, "openai");
    }

    #[test]
    fn unknown_models_pass_through_unpriced_and_unknown_providers_are_refused() {
        let r = route("openai/gpt-9-preview").unwrap();
        assert_eq!((r.native.as_str(), r.pricing), ("gpt-9-preview", None));
        let err = route("nosuch/model").unwrap_err();
        assert!(err.message.contains("unknown provider 'nosuch'"));
        assert!(route("openai/").is_err());
        assert!(route("  ").is_err());
    }
}
