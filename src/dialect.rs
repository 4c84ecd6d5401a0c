//! Wire formats, one module per format, pure (no I/O). Each models its format once and is used
//! by both the inbound surface and the outbound provider of that format.
//!
//! * `raw`: a JSON object whose member values stay the client's (or upstream's) exact bytes,
//!   for same-format forwarding with a few members rewritten.
//! * `openai`: Chat Completions and embeddings.
//! * `check`: the checks a forwarded-as-is body gets, so the upstream never sees what it would refuse.
//!
//! Each format that joins the translation hub has `decode` (native → `llm`) and `encode`
//! (`llm` → native) modules, for requests, responses and streams.

pub mod anthropic;
pub mod check;
pub mod embeddings;
pub mod gemini;
pub mod hub;
pub mod openai;
pub mod raw;
pub mod scan;

use crate::usage::{Pricing, Usage};

/// The upstream answered 2xx with something that is not the expected body.
#[derive(Debug, thiserror::Error)]
#[error("invalid response from upstream: {0}")]
pub struct InvalidResponse(pub String);

impl From<InvalidResponse> for crate::error::ApiError {
    /// A 502 for the client; what was wrong with the body goes only to the debug log.
    fn from(invalid: InvalidResponse) -> Self {
        tracing::debug!(%invalid, "upstream body rejected");
        Self::new(crate::error::ErrorKind::UpstreamFailed, "upstream request failed: invalid response from upstream")
    }
}

/// What to put in place of the upstream's identity fields.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// The gateway's generation id.
    pub id: &'a str,
    /// The public model id.
    pub model: &'a str,
    /// `None` when the model has no known price: it costs 0.
    pub pricing: Option<&'a Pricing>,
    /// Bytes of prompt, for an estimate if the upstream reports no usage.
    pub prompt_bytes: usize,
}

impl Identity<'_> {
    /// What `usage` costs at this model's price, in nano-USD; 0 when unpriced.
    pub fn cost(&self, usage: &Usage) -> i64 {
        self.pricing.map_or(0, |p| p.cost(usage))
    }
}

/// What an encoded request is for: the upstream's native model id and, when the catalog knows
/// it, the model's output-token ceiling (Anthropic requires `max_tokens`; this is its default).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub model: &'a str,
    pub max_output_tokens: Option<u64>,
}
