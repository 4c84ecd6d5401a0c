//! What a request used and cost: token counts (`Usage`), prices (`pricing`), and the ledger
//! (`ledger`) that writes one `GenerationRecord` per request in batches.

pub mod ledger;
pub mod pricing;

use chrono::{DateTime, Utc};
use rand::RngCore;

use crate::keys::KeyHash;

pub use ledger::Ledger;
pub use pricing::Pricing;

/// Token counts in OpenAI's convention: `prompt_tokens` includes cached and cache-write
/// tokens, `completion_tokens` includes reasoning tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
}

impl Usage {
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// One request in the ledger. Holds counts and money, never prompt or completion text.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRecord {
    /// `gen-<unix>-<32 hex>`, also the response `id` and `X-Generation-Id`.
    pub id: String,
    pub key_hash: KeyHash,
    /// Which surface served it: `chat.completions` or `embeddings`.
    pub api: String,
    /// The public model id (`openai/gpt-5.4`).
    pub model: String,
    pub provider: String,
    /// The id the upstream was sent (`gpt-5.4`).
    pub native_model: String,
    pub created_at: DateTime<Utc>,
    /// Time from arrival to the upstream's first byte, when there was one.
    pub first_byte_ms: Option<i64>,
    /// Time from arrival to the end of the response.
    pub latency_ms: i64,
    pub usage: Usage,
    /// True when the upstream never reported usage and the counts are our estimate.
    pub usage_estimated: bool,
    pub cost_nano: i64,
    /// HTTP status the client got (499 when the client went away first).
    pub status: u16,
    pub streamed: bool,
    /// The client disconnected before the response ended.
    pub cancelled: bool,
    pub finish_reason: Option<String>,
}

/// A new generation id: `gen-<unix seconds>-<32 random hex>`.
pub fn new_generation_id(now: DateTime<Utc>) -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format!("gen-{}-{}", now.timestamp(), hex::encode(bytes))
}

/// Rough token count for text we saw but the upstream did not count (about 4 bytes a token).
pub fn estimate_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4)
}
