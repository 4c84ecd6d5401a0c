//! Integration tests: the real gateway over real HTTP, against the real mock upstream.

#[path = "api/anthropic.rs"]
mod anthropic;
#[path = "api/bad_input.rs"]
mod bad_input;
#[path = "api/budgets.rs"]
mod budgets;
#[path = "api/chat.rs"]
mod chat;
#[path = "api/common.rs"]
mod common;
#[path = "api/gemini.rs"]
mod gemini;
#[path = "api/generation.rs"]
mod generation;
#[path = "api/keys.rs"]
mod keys;
#[path = "api/matrix.rs"]
mod matrix;
#[path = "api/outbound_proxy.rs"]
mod outbound_proxy;
#[path = "api/providers_config.rs"]
mod providers_config;
#[path = "api/proxy.rs"]
mod proxy;
#[path = "api/rate_limits.rs"]
mod rate_limits;
#[path = "api/resilience.rs"]
mod resilience;
#[path = "api/streaming.rs"]
mod streaming;
