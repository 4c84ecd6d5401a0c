//! A request's plan: the ordered candidates it may be sent to, built from `model`, OpenRouter's
//! `models` fallback list and `route`, the `provider` preferences (`order`, `only`, `ignore`,
//! `allow_fallbacks`, `sort`) and the `:floor` / `:nitro` variants.
//!
//! In arouter each model id names one provider (its prefix), so provider preferences act on
//! the candidate list: `only`/`ignore` filter it by provider, `order` moves the named providers
//! to the front in that order, `sort` orders it by price (`:floor`) or by observed latency
//! (`latency`, `throughput`, `:nitro`), and `allow_fallbacks: false` keeps only the first.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::Route;
use crate::error::ApiError;

/// Most entries of `models` accepted.
pub const MAX_MODELS: usize = 10;

/// OpenRouter's routing fields as the client sent them, unparsed (each surface finds them in
/// its own body).
#[derive(Debug, Default, Clone, Copy)]
pub struct RoutingFields<'a> {
    pub models: Option<&'a RawValue>,
    pub route: Option<&'a RawValue>,
    pub provider: Option<&'a RawValue>,
}

impl RoutingFields<'_> {
    /// Whether the client sent any routing field at all.
    pub fn any(&self) -> bool {
        self.models.is_some() || self.route.is_some() || self.provider.is_some()
    }
}

/// How candidates are ordered when the client asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Cheapest first (`sort: "price"`, `:floor`).
    Price,
    /// Fastest observed first (`sort: "latency"` / `"throughput"`, `:nitro`).
    Latency,
}

/// The ordered candidates for one request.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Tried in order; never empty (`build` refuses a plan with no candidate left).
    pub candidates: Vec<Route>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SortField {
    Name(String),
    Object { by: String },
}

#[derive(Deserialize, Default)]
struct ProviderPrefs {
    order: Option<Vec<String>>,
    only: Option<Vec<String>>,
    ignore: Option<Vec<String>>,
    allow_fallbacks: Option<bool>,
    sort: Option<SortField>,
}

fn parse<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>, name: &str, expected: &str) -> Result<Option<T>, ApiError> {
    match raw {
        None => Ok(None),
        Some(raw) => serde_json::from_str::<Option<T>>(raw.get())
            .map_err(|_| ApiError::bad_request(format!("'{name}' must be {expected}"))),
    }
}

impl Plan {
    /// Builds the plan. `primary` is the request's `model` (optional when `models` is given);
    /// `resolve` turns one id into a route the way the surface does (bare names belong to the
    /// surface's provider on native surfaces). `latency` gives a provider's observed latency
    /// for `Sort::Latency`.
    pub fn build(
        primary: Option<&str>,
        fields: RoutingFields<'_>,
        resolve: impl Fn(&str) -> Result<Route, ApiError>,
        latency: impl Fn(&str) -> Option<std::time::Duration>,
    ) -> Result<Self, ApiError> {
        let models: Vec<String> =
            parse(fields.models, "models", "an array of model ids (strings)")?.unwrap_or_default();
        if models.len() > MAX_MODELS {
            return Err(ApiError::bad_request(format!("'models' may list at most {MAX_MODELS} models")));
        }
        if let Some(route) = parse::<String>(fields.route, "route", "\"fallback\"")? {
            if route != "fallback" {
                return Err(ApiError::bad_request(format!("'route' must be \"fallback\", got \"{route}\"")));
            }
        }
        let prefs: ProviderPrefs = parse(
            fields.provider,
            "provider",
            "an object with order/only/ignore (arrays of provider slugs), allow_fallbacks (boolean) and sort",
        )?
        .unwrap_or_default();
        let mut sort = match prefs.sort {
            None => None,
            Some(SortField::Name(by) | SortField::Object { by }) => Some(match by.as_str() {
                "price" => Sort::Price,
                "latency" | "throughput" => Sort::Latency,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "'provider.sort' must be \"price\", \"throughput\" or \"latency\", got \"{other}\""
                    )));
                }
            }),
        };

        let mut ids: Vec<&str> = Vec::with_capacity(1 + models.len());
        ids.extend(primary.map(str::trim).filter(|m| !m.is_empty()));
        for model in &models {
            if model.trim().is_empty() {
                return Err(ApiError::bad_request("'models' must not contain empty model ids"));
            }
            if !ids.contains(&model.trim()) {
                ids.push(model.trim());
            }
        }
        if ids.is_empty() {
            return Err(ApiError::bad_request("'model' is required (or 'models', a list of model ids)"));
        }
        let mut candidates = ids.into_iter().map(resolve).collect::<Result<Vec<_>, _>>()?;
        if sort.is_none() {
            sort = match candidates[0].variant() {
                Some("floor") => Some(Sort::Price),
                Some("nitro") => Some(Sort::Latency),
                _ => None,
            };
        }

        if let Some(only) = &prefs.only {
            candidates.retain(|c| only.contains(&c.provider));
        }
        if let Some(ignore) = &prefs.ignore {
            candidates.retain(|c| !ignore.contains(&c.provider));
        }
        if candidates.is_empty() {
            return Err(ApiError::bad_request("no candidate model is left after 'provider.only' / 'provider.ignore'"));
        }
        match sort {
            Some(Sort::Price) => candidates.sort_by_key(|c| c.pricing.map_or(i64::MAX, |p| p.prompt + p.completion)),
            Some(Sort::Latency) => candidates.sort_by_key(|c| latency(&c.provider).unwrap_or(std::time::Duration::MAX)),
            None => {}
        }
        if let Some(order) = &prefs.order {
            candidates.sort_by_key(|c| order.iter().position(|p| *p == c.provider).unwrap_or(usize::MAX));
        }
        if prefs.allow_fallbacks == Some(false) {
            candidates.truncate(1);
        }
        Ok(Self { candidates })
    }

    /// A plan of one route (endpoints without fallback lists).
    pub fn single(route: Route) -> Self {
        Self { candidates: vec![route] }
    }

    /// The candidate tried first; a plan always has one.
    pub fn first(&self) -> &Route {
        &self.candidates[0]
    }
}

#[cfg(test)]
mod tests;
