use std::time::Duration;

use serde_json::value::RawValue;

use super::*;
use crate::config::Config;

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).unwrap()
}

fn plan(primary: Option<&str>, models: Option<&str>, provider: Option<&str>) -> Result<Vec<String>, ApiError> {
    plan_with(primary, models, provider, None, |_| None)
}

fn plan_with(
    primary: Option<&str>,
    models: Option<&str>,
    provider: Option<&str>,
    route: Option<&str>,
    latency: impl Fn(&str) -> Option<Duration>,
) -> Result<Vec<String>, ApiError> {
    let config = Config::for_tests();
    let (models, provider, route) = (models.map(raw), provider.map(raw), route.map(raw));
    let fields = RoutingFields { models: models.as_deref(), route: route.as_deref(), provider: provider.as_deref() };
    let plan = Plan::build(primary, fields, |id| super::super::resolve(&config, &config.catalog, id), latency)?;
    Ok(plan.candidates.into_iter().map(|c| c.model).collect())
}

#[test]
fn model_then_models_in_order_without_duplicates() {
    let got = plan(
        Some("anthropic/claude-sonnet-4.6"),
        Some(r#"["anthropic/claude-sonnet-4.6","openai/gpt-5.4","google/gemini-2.5-flash"]"#),
        None,
    )
    .unwrap();
    assert_eq!(got, ["anthropic/claude-sonnet-4.6", "openai/gpt-5.4", "google/gemini-2.5-flash"]);
    assert_eq!(plan(None, Some(r#"["openai/gpt-5.4"]"#), None).unwrap(), ["openai/gpt-5.4"]);
}

#[test]
fn route_fallback_is_accepted_and_other_routes_are_not() {
    assert!(plan_with(Some("openai/gpt-5.4"), None, None, Some(r#""fallback""#), |_| None).is_ok());
    let err = plan_with(Some("openai/gpt-5.4"), None, None, Some(r#""sideways""#), |_| None).unwrap_err();
    assert!(err.message.contains("'route'"), "{}", err.message);
}

#[test]
fn bad_fields_are_400s_that_name_them() {
    let cases = [
        (None, None, None, "'model' is required"),
        (Some("openai/gpt-5.4"), Some(r#""openai/gpt-5.4""#), None, "'models' must be"),
        (Some("openai/gpt-5.4"), Some(r#"[1]"#), None, "'models' must be"),
        (Some("openai/gpt-5.4"), Some(r#"[""]"#), None, "empty model ids"),
        (Some("openai/gpt-5.4"), Some(r#"["nosuch/x"]"#), None, "unknown provider 'nosuch'"),
        (Some("openai/gpt-5.4"), None, Some(r#"{"order":"openai"}"#), "'provider' must be"),
        (Some("openai/gpt-5.4"), None, Some(r#"{"sort":"vibes"}"#), "'provider.sort'"),
        (Some("openai/gpt-5.4"), None, Some(r#"{"only":["anthropic"]}"#), "no candidate model is left"),
    ];
    for (primary, models, provider, fragment) in cases {
        let err = plan(primary, models, provider).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.message.contains(fragment), "{:?} lacks {fragment:?}", err.message);
    }
    let many = format!("[{}]", (0..11).map(|i| format!("\"openai/m{i}\"")).collect::<Vec<_>>().join(","));
    assert!(plan(Some("openai/gpt-5.4"), Some(&many), None).unwrap_err().message.contains("at most 10"));
}

#[test]
fn provider_only_ignore_order_and_allow_fallbacks() {
    let models = Some(r#"["anthropic/claude-sonnet-4.6","openai/gpt-5.4","google/gemini-2.5-flash"]"#);
    let only = plan(None, models, Some(r#"{"only":["openai","google"]}"#)).unwrap();
    assert_eq!(only, ["openai/gpt-5.4", "google/gemini-2.5-flash"]);
    let ignore = plan(None, models, Some(r#"{"ignore":["openai"]}"#)).unwrap();
    assert_eq!(ignore, ["anthropic/claude-sonnet-4.6", "google/gemini-2.5-flash"]);
    let order = plan(None, models, Some(r#"{"order":["google","openai"]}"#)).unwrap();
    assert_eq!(order, ["google/gemini-2.5-flash", "openai/gpt-5.4", "anthropic/claude-sonnet-4.6"]);
    let single = plan(None, models, Some(r#"{"allow_fallbacks":false}"#)).unwrap();
    assert_eq!(single, ["anthropic/claude-sonnet-4.6"]);
    // Unknown OpenRouter preferences (data_collection, quantizations…) are accepted.
    assert!(plan(None, models, Some(r#"{"data_collection":"deny","require_parameters":true}"#)).is_ok());
}

#[test]
fn floor_sorts_by_price_and_nitro_by_observed_latency() {
    let models = Some(r#"["anthropic/claude-sonnet-4.6","google/gemini-2.5-flash"]"#);
    let by_price = plan(Some("openai/gpt-5.4:floor"), models, None).unwrap();
    let config = Config::for_tests();
    let price = |id: &str| {
        let p = config.catalog.find(id).unwrap().pricing.unwrap();
        p.prompt + p.completion
    };
    let prices: Vec<i64> = by_price.iter().map(|m| price(m.trim_end_matches(":floor"))).collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{by_price:?} {prices:?}");
    let sorted = plan_with(Some("openai/gpt-5.4"), models, Some(r#"{"sort":{"by":"price"}}"#), None, |_| None).unwrap();
    assert_eq!(sorted.len(), 3);

    let latency = |p: &str| match p {
        "google" => Some(Duration::from_millis(50)),
        "openai" => Some(Duration::from_millis(300)),
        _ => None,
    };
    let nitro = plan_with(Some("openai/gpt-5.4:nitro"), models, None, None, latency).unwrap();
    assert_eq!(nitro, ["google/gemini-2.5-flash", "openai/gpt-5.4:nitro", "anthropic/claude-sonnet-4.6"]);
}
