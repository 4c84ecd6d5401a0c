//! The in-memory key table every request authenticates against.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};

use super::rate_limit::RateWindow;
use super::spend::SpendView;
use super::{KeyHash, KeyRecord, KeyType, Spend};

/// One live key: its configuration and its spend counters.
#[derive(Debug)]
pub struct CachedKey {
    /// Replaced wholesale (a new `CachedKey`) when the key is patched.
    pub record: KeyRecord,
    /// Shared between the old and new `CachedKey` across a patch, so spend settled by a
    /// request that started before the patch is not lost.
    pub spend: Arc<Mutex<Spend>>,
    /// The last minute's requests and tokens, shared across a patch like `spend`, so a changed
    /// rate limit applies to the traffic already seen.
    pub rate: Arc<Mutex<RateWindow>>,
}

impl CachedKey {
    /// Settled spend as seen at `now` (past periods read 0); holds of requests in flight are not
    /// included.
    pub fn spend_view(&self, now: DateTime<Utc>) -> SpendView {
        self.spend.lock().expect("spend lock poisoned").view(now)
    }

    /// Remaining budget in nano-USD under the key's limit, `None` when unlimited.
    pub fn limit_remaining(&self, now: DateTime<Utc>) -> Option<i64> {
        let limit = self.record.limit_nano?;
        let used = self.spend_view(now).for_reset(self.record.limit_reset);
        Some((limit - used).max(0))
    }
}

/// Keys by hash. Deleted keys are absent; disabled and expired keys stay so that they can be
/// listed and re-enabled.
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: RwLock<HashMap<KeyHash, Arc<CachedKey>>>,
}

impl KeyCache {
    /// The key with this hash unless deleted; disabled and expired keys are returned too, for the
    /// caller to refuse.
    pub fn get(&self, hash: &KeyHash) -> Option<Arc<CachedKey>> {
        self.keys.read().expect("key cache poisoned").get(hash).cloned()
    }

    /// Adds a key with the spend already recorded for it.
    pub fn insert(&self, record: KeyRecord, spend: Spend) -> Arc<CachedKey> {
        let key = Arc::new(CachedKey { record, spend: Arc::new(Mutex::new(spend)), rate: Arc::default() });
        self.keys.write().expect("key cache poisoned").insert(key.record.hash, key.clone());
        key
    }

    /// Swaps in a new configuration for an existing key, keeping its spend and rate window.
    pub fn replace_record(&self, record: KeyRecord) -> Option<Arc<CachedKey>> {
        let mut keys = self.keys.write().expect("key cache poisoned");
        let old = keys.get(&record.hash)?;
        let (spend, rate) = (old.spend.clone(), old.rate.clone());
        let key = Arc::new(CachedKey { record, spend, rate });
        keys.insert(key.record.hash, key.clone());
        Some(key)
    }

    /// Drops a deleted key, so its next request fails; requests already holding its `Arc` finish.
    pub fn remove(&self, hash: &KeyHash) -> Option<Arc<CachedKey>> {
        self.keys.write().expect("key cache poisoned").remove(hash)
    }

    /// All keys, newest first.
    pub fn snapshot(&self) -> Vec<Arc<CachedKey>> {
        let mut all: Vec<_> = self.keys.read().expect("key cache poisoned").values().cloned().collect();
        all.sort_by(|a, b| b.record.created_at.cmp(&a.record.created_at).then(a.record.hash.0.cmp(&b.record.hash.0)));
        all
    }

    /// Whether an enabled management key exists, so that start-up need not create a bootstrap one.
    pub fn has_management_key(&self) -> bool {
        self.keys
            .read()
            .expect("key cache poisoned")
            .values()
            .any(|k| k.record.key_type == KeyType::Management && !k.record.disabled)
    }
}
