//! `GET /api/v1/providers` (any key): the configured upstream providers, in ARouter's shape
//! (`id` is the display name used in `provider.order/only/ignore`, `slug` the lowercase id used
//! in model ids and `allowed_providers`) plus what OpenRouter's SDK requires
//! (`name`, `slug`, `privacy_policy_url`).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::auth::AnyCaller;
use crate::state::AppState;

/// A provider's display name (`openai` → `OpenAI`), as ARouter and OpenRouter spell it.
pub fn display_name(slug: &str) -> String {
    match slug {
        "openai" => "OpenAI".to_owned(),
        "anthropic" => "Anthropic".to_owned(),
        "google" => "Google".to_owned(),
        other => {
            let mut chars = other.chars();
            chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
        }
    }
}

pub async fn list_providers(State(state): State<AppState>, _caller: AnyCaller) -> Json<Value> {
    let models = state.config.catalog.models();
    let data: Vec<Value> = state
        .config
        .providers
        .iter()
        .map(|p| {
            let name = display_name(&p.id);
            json!({
                "id": name,
                "slug": p.id,
                "name": name,
                "model_count": models.iter().filter(|m| m.provider == p.id).count(),
                "is_byok_supported": false,
                "configured": p.is_configured(),
                "privacy_policy_url": Value::Null,
            })
        })
        .collect();
    Json(json!({ "data": data }))
}

#[cfg(test)]
mod tests {
    use super::display_name;

    #[test]
    fn display_names() {
        assert_eq!(display_name("openai"), "OpenAI");
        assert_eq!(display_name("anthropic"), "Anthropic");
        assert_eq!(display_name("google"), "Google");
        assert_eq!(display_name("deepseek"), "Deepseek");
        assert_eq!(display_name(""), "");
    }
}
