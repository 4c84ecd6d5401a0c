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
mod messages;
mod meter;
mod models;
mod providers;
mod proxy;
mod translate;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};

use crate::error::ApiError;
use crate::state::AppState;

pub use auth::{ApiCaller, ManagementCaller};

/// Largest request body accepted (ARouter documents 10 MB → 413).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Every route the gateway serves.
pub fn router(state: AppState) -> Router {
    // Inference, under `/v1` (ARouter) and `/api/v1` (OpenRouter's base): OpenAI-compatible
    // chat and embeddings, the Anthropic-native messages surface, and Gemini's model methods.
    // The Gemini surface proper lives under `/v1beta`.
    let inference = Router::new()
        .route("/chat/completions", post(chat::chat_completions))
        .route("/embeddings", post(embeddings::embeddings))
        .route("/messages", post(messages::messages))
        .route("/messages/count_tokens", post(messages::count_tokens))
        // Gemini's `models/{model}:{method}` under `/v1` (newer google-genai SDKs); POST only,
        // so it never clashes with OpenAI's `GET /v1/models`.
        .route("/models/{*rest}", post(gemini::model_post).get(models::get_model))
        .route("/models", get(models::list_models))
        .route("/key", get(keys::current_key))
        .route("/generation", get(generation::get_generation));
    let management = Router::new()
        .route("/keys", post(keys::create_key).get(keys::list_keys))
        .route("/keys/{hash}", get(keys::get_key).patch(keys::update_key).delete(keys::delete_key))
        .route("/providers", get(providers::list_providers));
    Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .nest("/v1", inference.clone())
        .nest(
            "/v1beta",
            Router::new()
                .route("/models", get(gemini::list_models))
                .route("/models/{*rest}", post(gemini::model_post).get(gemini::get_model)),
        )
        .nest("/api/v1", inference.merge(management))
        // The raw provider proxy; matchit prefers every static route above.
        .route("/{provider}/{*rest}", any(proxy::proxy))
        .fallback(not_found)
        .layer(middleware::from_fn(log_errors))
        .with_state(state)
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

/// Logs errors once, here, from the `ApiError` the response carries (never the request body,
/// never a key).
async fn log_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if let Some(err) = response.extensions().get::<Arc<ApiError>>() {
        if err.status().is_server_error() {
            tracing::warn!(%method, %path, status = err.status().as_u16(), message = %err.message, "request failed");
        } else {
            tracing::debug!(%method, %path, status = err.status().as_u16(), message = %err.message, "request refused");
        }
    }
    response
}
