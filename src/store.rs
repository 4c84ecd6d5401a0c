//! Persistence: keys and the generation ledger, behind one `Store` so handlers never see which
//! database is underneath. SQLite (WAL) is the embedded default; Postgres joins as another
//! variant with the same methods.
//!
//! Nothing here is called on the request path except through the ledger writer, which batches.

mod sqlite;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::keys::spend::SpendView;
use crate::keys::{KeyHash, KeyRecord};
use crate::usage::GenerationRecord;

pub use sqlite::SqliteStore;

/// A storage failure. Reported to clients as a bare 500; the detail goes to the log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Only `sqlite:` URLs are supported so far; the URL is shown without its password.
    #[error("unsupported database url (expected sqlite://…): {0}")]
    UnsupportedUrl(String),
    /// A stored value that does not read back (a bad hash, timestamp, list or enum name).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// `inject_write_failures` is on (tests only).
    #[error("write failure injected for testing")]
    Injected,
}

/// The database behind the gateway. A closed set of backends, dispatched by `match`.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
}

impl Store {
    /// Opens (creating if missing) the database at `url` and applies migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(SqliteStore::connect(url).await?))
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// Stores a new key; fails if its hash is already stored (deleted keys included).
    pub async fn insert_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => s.insert_key(key).await,
        }
    }

    /// Writes a key's new configuration; `false` if no live key has that hash.
    pub async fn update_key(&self, key: &KeyRecord) -> Result<bool, StoreError> {
        match self {
            Self::Sqlite(s) => s.update_key(key).await,
        }
    }

    /// Marks a key deleted; `false` if no live key has that hash.
    pub async fn delete_key(&self, hash: &KeyHash, at: DateTime<Utc>) -> Result<bool, StoreError> {
        match self {
            Self::Sqlite(s) => s.delete_key(hash, at).await,
        }
    }

    /// Every key that is not deleted.
    pub async fn load_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        match self {
            Self::Sqlite(s) => s.load_keys().await,
        }
    }

    /// Spend per key, lifetime and for the day, week and month containing `now`.
    pub async fn spend_sums(&self, now: DateTime<Utc>) -> Result<HashMap<KeyHash, SpendView>, StoreError> {
        match self {
            Self::Sqlite(s) => s.spend_sums(now).await,
        }
    }

    /// Appends ledger rows in one transaction. Re-inserting an id is a no-op, so a retried
    /// batch never double-counts.
    pub async fn insert_generations(&self, rows: &[GenerationRecord]) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => s.insert_generations(rows).await,
        }
    }

    /// Makes ledger writes fail (or succeed again), to test how the gateway rides out a
    /// database outage.
    pub fn inject_write_failures(&self, on: bool) {
        match self {
            Self::Sqlite(s) => s.inject_write_failures(on),
        }
    }

    /// The ledger row with this id; `None` when there is none, or none yet (the ledger writes in
    /// batches).
    pub async fn get_generation(&self, id: &str) -> Result<Option<GenerationRecord>, StoreError> {
        match self {
            Self::Sqlite(s) => s.get_generation(id).await,
        }
    }
}

/// A database URL with any password removed, for error messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…{}", &url[..scheme], &url[at..]),
        _ => url.to_owned(),
    }
}
