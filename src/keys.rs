//! API and management keys: generation and hashing (`secret`), per-period spend counters
//! (`spend`), per-minute rate limits (`rate_limit`), and the in-memory cache every request
//! authenticates against (`cache`).
//!
//! Only a key's SHA-256 is ever stored; lookups are by that hash, so no secret comparison runs
//! in a loop. The cache is loaded at start and updated by every write the gateway makes, so
//! a PATCH or DELETE takes effect on the very next request without a database round trip.

pub mod admission;
pub mod cache;
pub mod changes;
pub mod rate_limit;
pub mod secret;
pub mod spend;

use chrono::{DateTime, Utc};

pub use cache::{CachedKey, KeyCache};
pub use rate_limit::RateLimit;
pub use secret::{KeyHash, KeyType};
pub use spend::{LimitReset, Spend};

/// A key's configuration as stored: everything but its spend.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// SHA-256 of the plaintext: the primary key and the API's `hash` (the plaintext is never
    /// stored).
    pub hash: KeyHash,
    pub name: String,
    /// Masked form of the plaintext (`lr_live_abc...f09`), safe to show anywhere.
    pub label: String,
    pub key_type: KeyType,
    /// Refused (401) while set, but kept, listed, and re-enabled by a PATCH.
    pub disabled: bool,
    /// Spend cap in nano-USD; `None` is unlimited.
    pub limit_nano: Option<i64>,
    /// Period the cap applies to; `None` is a lifetime cap.
    pub limit_reset: Option<LimitReset>,
    /// Provider slugs this key may reach; `None` is all.
    pub allowed_providers: Option<Vec<String>>,
    /// Model ids this key may use; `None` is all.
    pub allowed_models: Option<Vec<String>>,
    /// Requests (and optionally tokens) per minute; `None` is no rate limit.
    pub rate_limit: Option<RateLimit>,
    pub created_at: DateTime<Utc>,
    /// `None` until the first PATCH.
    pub updated_at: Option<DateTime<Utc>>,
    /// From this instant the key is refused (401); it stays listed.
    pub expires_at: Option<DateTime<Utc>>,
    /// OpenRouter's field, stored and returned as the client set it; the gateway gives it no
    /// meaning.
    pub creator_user_id: Option<String>,
}

impl KeyRecord {
    /// Whether the key has passed its `expires_at`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}
