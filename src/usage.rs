//! What a request used and cost: token counts (`Usage`), prices (`pricing`), and the ledger
//! (`ledger`) that writes one `GenerationRecord` per request in batches.

pub mod ledger;
pub mod pricing;

use chrono::{DateTime, Utc};
use rand::Rng;

use crate::keys::KeyHash;

pub use ledger::Ledger;
pub use pricing::Pricing;

/// Token counts in OpenAI's convention: `prompt_tokens` includes cached and cache-write
/// tokens, `completion_tokens` includes reasoning tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt tokens read from the provider's cache; part of `prompt_tokens`, not added to it.
    pub cached_tokens: u64,
    /// Prompt tokens written to the cache; also part of `prompt_tokens`.
    pub cache_write_tokens: u64,
    /// Part of `completion_tokens`, not added to it.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Prompt plus completion (cached and reasoning tokens are already inside them); saturates
    /// rather than overflowing.
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// One request in the ledger. Holds counts and money, never prompt or completion text.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRecord {
    /// `gen-<unix>-<32 hex>`, also the response `id` and `X-Generation-Id`.
    pub id: String,
    /// The key that sent it; key spend is summed from these rows.
    pub key_hash: KeyHash,
    /// Which surface served it: `chat.completions` or `embeddings`.
    pub api: String,
    /// The public model id (`openai/gpt-5.4`).
    pub model: String,
    pub provider: String,
    /// The id the upstream was sent (`gpt-5.4`).
    pub native_model: String,
    /// When the request arrived; its cost counts in the spend period of this instant.
    pub created_at: DateTime<Utc>,
    /// Time from arrival to the upstream's first byte, when there was one.
    pub first_byte_ms: Option<i64>,
    /// Time from arrival to the end of the response.
    pub latency_ms: i64,
    pub usage: Usage,
    /// True when the upstream never reported usage and the counts are our estimate.
    pub usage_estimated: bool,
    /// In nano-USD; 0 for an unpriced model.
    pub cost_nano: i64,
    /// HTTP status the client got (499 when the client went away first).
    pub status: u16,
    pub streamed: bool,
    /// The client disconnected before the response ended.
    pub cancelled: bool,
    /// In OpenAI's vocabulary; `None` when the answer never said why it ended.
    pub finish_reason: Option<String>,
}

/// A new generation id: `gen-<unix seconds>-<32 hex>`, the hex being the microsecond within that
/// second (5 digits) and then 108 random bits.
///
/// The ids are the ledger's primary key, so ids that sort in time order make every insert land
/// on the last page of that index; with all 32 digits random each row dirtied a page somewhere in
/// the middle, and SQLite wrote (and later checkpointed) about one 4 KB page per request. The
/// microsecond tells a client nothing the seconds before it did not; the random part keeps ids
/// unguessable.
pub fn new_generation_id(now: DateTime<Utc>) -> String {
    use std::fmt::Write as _;
    const RANDOM_BITS: u32 = 108;
    let random: u128 = rand::rng().random();
    let micros = now.timestamp_subsec_micros().min(999_999);
    // The microsecond in the top 20 bits, the random bits below: 32 hex digits in all, written
    // through `hex` (formatting them with `{:x}` cost a thousand instructions a request).
    let tail = (u128::from(micros) << RANDOM_BITS) | (random >> (128 - RANDOM_BITS));
    let mut hex_digits = [0u8; 32];
    hex::encode_to_slice(tail.to_be_bytes(), &mut hex_digits).expect("16 bytes are 32 hex digits");
    let mut id = String::with_capacity(48);
    write!(id, "gen-{}-", now.timestamp()).expect("writing to a String");
    id.push_str(std::str::from_utf8(&hex_digits).expect("hex is ASCII"));
    id
}

/// Rough token count for text we saw but the upstream did not count (about 4 bytes a token).
pub fn estimate_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn generation_ids_have_the_documented_shape() {
        let now = Utc.timestamp_opt(1_775_226_820, 123_456_789).unwrap();
        let id = new_generation_id(now);
        let (secs, hex) = id.strip_prefix("gen-").unwrap().split_once('-').unwrap();
        assert_eq!(secs, "1775226820");
        assert_eq!(hex.len(), 32);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{id}");
        assert_eq!(&hex[..5], format!("{:05x}", 123_456), "the microsecond leads the hex");
    }

    #[test]
    fn generation_ids_sort_in_time_order_and_never_repeat() {
        let start = Utc.timestamp_opt(1_775_226_820, 0).unwrap();
        let ids: Vec<String> =
            (0..2_000).map(|i| new_generation_id(start + chrono::Duration::microseconds(i * 997))).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids, "ids a microsecond or more apart sort by time, across the second boundary too");
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        let same_instant: std::collections::HashSet<_> = (0..1_000).map(|_| new_generation_id(start)).collect();
        assert_eq!(same_instant.len(), 1_000, "the random part tells ids of one microsecond apart");
    }
}
