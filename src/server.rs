//! The HTTP edge: routes, authentication, body limits, error logging. Handlers extract, call
//! the core, and encode; they hold no business rules of their own.

mod auth;
mod body;
mod chat;
mod embeddings;
mod forward;
mod gemini;
mod generation;
mod key_json;
mod keys;
pub mod listen;
mod log_errors;
mod messages;
mod meter;
mod models;
mod providers;
mod proxy;
mod translate;

use axum::Router;
use axum::http::{Method, Uri};
use axum::response::IntoResponse;
use axum::routing::{any, get, post};

use crate::error::ApiError;
use crate::state::AppState;

pub use auth::{ApiCaller, ManagementCaller};

/// Largest request body accepted (ARouter documents 10 MB → 413).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Every route the gateway serves.
///
/// Routes are registered with their full paths rather than nested routers: a nested router
/// rebuilt each request's URI without its prefix and added a routing layer (about 2k
/// instructions per request on the hot path).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        // Inference, under `/v1` (ARouter) and `/api/v1` (OpenRouter's base).
        .merge(inference("/v1"))
        .merge(inference("/api/v1"))
        .merge(management("/api/v1"))
        // The Gemini surface proper.
        .route("/v1beta/models", get(gemini::list_models))
        .route("/v1beta/models/{*rest}", post(gemini::model_post).get(gemini::get_model))
        // The raw provider proxy; matchit prefers every static route above.
        .route("/{provider}/{*rest}", any(proxy::proxy))
        .fallback(not_found)
        .layer(log_errors::LogErrorsLayer)
        .with_state(state)
}

/// OpenAI-compatible chat and embeddings, the Anthropic-native messages surface, and Gemini's
/// model methods, under `prefix`.
fn inference(prefix: &str) -> Router<AppState> {
    Router::new()
        .route(&format!("{prefix}/chat/completions"), post(chat::chat_completions))
        .route(&format!("{prefix}/embeddings"), post(embeddings::embeddings))
        .route(&format!("{prefix}/messages"), post(messages::messages))
        .route(&format!("{prefix}/messages/count_tokens"), post(messages::count_tokens))
        // Gemini's `models/{model}:{method}` (newer google-genai SDKs); POST only, so it never
        // clashes with OpenAI's `GET /v1/models`.
        .route(&format!("{prefix}/models/{{*rest}}"), post(gemini::model_post).get(models::get_model))
        .route(&format!("{prefix}/models"), get(models::list_models))
        .route(&format!("{prefix}/key"), get(keys::current_key))
        .route(&format!("{prefix}/generation"), get(generation::get_generation))
}

/// Key management and the provider list, under `prefix`.
fn management(prefix: &str) -> Router<AppState> {
    Router::new()
        .route(&format!("{prefix}/keys"), post(keys::create_key).get(keys::list_keys))
        .route(&format!("{prefix}/keys/{{hash}}"), get(keys::get_key).patch(keys::update_key).delete(keys::delete_key))
        .route(&format!("{prefix}/providers"), get(providers::list_providers))
}

/// Liveness plus the ledger's state: `degraded` while the database rejects writes (requests are
/// still served; keys with a spend limit are refused once the backlog is full).
async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    let ledger = state.ledger.health();
    let failing = ledger.failing();
    axum::Json(serde_json::json!({
        "status": if failing { "degraded" } else { "ok" },
        "ledger": {
            "pending": ledger.pending(),
            "failing": failing,
            "backlogged": state.ledger.backlogged(),
            "last_error": if failing { ledger.last_error() } else { None },
        },
    }))
}

/// Prometheus text: per provider, the circuit state, attempts by outcome, retries, budget
/// exhaustion and circuit skips; fallbacks in all; the ledger backlog.
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    let mut out = String::with_capacity(4096);
    state.resilience.render_metrics(&mut out);
    let ledger = state.ledger.health();
    out.push_str("# HELP arouter_ledger_pending Ledger records waiting to be committed.\n");
    out.push_str("# TYPE arouter_ledger_pending gauge\n");
    out.push_str(&format!("arouter_ledger_pending {}\n", ledger.pending()));
    out.push_str("# HELP arouter_ledger_failing 1 while the database rejects ledger writes.\n");
    out.push_str("# TYPE arouter_ledger_failing gauge\n");
    out.push_str(&format!("arouter_ledger_failing {}\n", u8::from(ledger.failing())));
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}
