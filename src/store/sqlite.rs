//! SQLite backend (WAL), the embedded default.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::StoreError;
use crate::keys::spend::SpendView;
use crate::keys::{KeyHash, KeyRecord, KeyType, LimitReset, RateLimit};
use crate::usage::{GenerationRecord, Usage};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Most rows in one INSERT statement (SQLite caps bound parameters at 32766; 20 columns a row).
const MAX_ROWS_PER_STATEMENT: usize = 256;

/// Columns of one `generations` row, in the order `insert_generations` binds them.
const GENERATION_COLUMNS: &str = "id, key_hash, api, model, provider, native_model, created_at, first_byte_ms, \
    latency_ms, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, \
    usage_estimated, cost_nano, status, streamed, cancelled, finish_reason";

/// Rows in the next statement of a batch with `left` rows to go: the largest power of two that
/// fits (at most `MAX_ROWS_PER_STATEMENT`), so every batch size is served by a handful of
/// statements that sqlx prepares once and caches. (SQL built for each batch size was formatted
/// bind by bind and prepared again: about 5,000 instructions a row.)
fn statement_rows(left: usize) -> usize {
    let power = 1 << left.max(1).ilog2();
    power.min(MAX_ROWS_PER_STATEMENT)
}

/// `INSERT OR IGNORE INTO generations … VALUES (?, …), …` for `rows` rows (a power of two).
fn insert_generations_sql(rows: usize) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        let one_row = format!("({})", vec!["?"; GENERATION_COLUMNS.split(',').count()].join(", "));
        (0..=MAX_ROWS_PER_STATEMENT.ilog2())
            .map(|power| {
                let values = vec![one_row.as_str(); 1 << power].join(", ");
                format!("INSERT OR IGNORE INTO generations ({GENERATION_COLUMNS}) VALUES {values}")
            })
            .collect()
    });
    &all[rows.ilog2() as usize]
}

/// The SQLite (WAL) backend. Clones share its pools.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The ledger's own connection (a pool of one). Batches taken from the shared pool went to
    /// its connections in turn, and each found its page cache stale after the others' commits,
    /// so every commit read pages back (`pread`) and woke another worker thread.
    ledger: SqlitePool,
    /// Set by tests to simulate a failing database for ledger writes.
    fail_writes: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_ms(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms}")))
}

fn json_list(list: &Option<Vec<String>>) -> Option<String> {
    list.as_ref().map(|l| serde_json::to_string(l).expect("string list serialises"))
}

/// The `rate_limit_rpm` and `rate_limit_tpm` columns of a key.
fn rate_columns(limit: Option<RateLimit>) -> (Option<i64>, Option<i64>) {
    let tpm = limit.and_then(|l| l.tokens_per_minute).map(|t| i64::try_from(t).unwrap_or(i64::MAX));
    (limit.map(|l| i64::from(l.requests_per_minute)), tpm)
}

fn parse_list(raw: Option<String>) -> Result<Option<Vec<String>>, StoreError> {
    raw.map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("list column: {e}")))).transpose()
}

impl SqliteStore {
    /// Opens the database (creating it if missing) and migrates it. Ledger writes get their own
    /// one-connection pool, except in memory, where the database exists per connection.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5));
        // In-memory databases exist per connection: keep exactly one.
        let max = if url.contains(":memory:") || url.contains("mode=memory") { 1 } else { 4 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            // A ping before each use doubles the round trips to the SQLite worker thread; a
            // broken connection fails its query instead, and the ledger retries that.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        let ledger = if max == 1 {
            pool.clone()
        } else {
            SqlitePoolOptions::new().max_connections(1).test_before_acquire(false).connect_with(options).await?
        };
        Ok(Self { pool, ledger, fail_writes: Default::default() })
    }

    /// Inserts into `api_keys`; a hash already there, even deleted, breaks its primary key.
    pub async fn insert_key(&self, k: &KeyRecord) -> Result<(), StoreError> {
        let (rpm, tpm) = rate_columns(k.rate_limit);
        sqlx::query(
            "INSERT INTO api_keys (hash, name, label, key_type, disabled, limit_nano, limit_reset,
                allowed_providers, allowed_models, creator_user_id, created_at, updated_at, expires_at,
                rate_limit_rpm, rate_limit_tpm)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(k.hash.to_hex())
        .bind(&k.name)
        .bind(&k.label)
        .bind(k.key_type.as_str())
        .bind(k.disabled)
        .bind(k.limit_nano)
        .bind(k.limit_reset.map(LimitReset::as_str))
        .bind(json_list(&k.allowed_providers))
        .bind(json_list(&k.allowed_models))
        .bind(&k.creator_user_id)
        .bind(ms(k.created_at))
        .bind(k.updated_at.map(ms))
        .bind(k.expires_at.map(ms))
        .bind(rpm)
        .bind(tpm)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Rewrites a live key's settings (not its hash, label, type or creation time); `false` if no
    /// live key matched.
    pub async fn update_key(&self, k: &KeyRecord) -> Result<bool, StoreError> {
        let (rpm, tpm) = rate_columns(k.rate_limit);
        let done = sqlx::query(
            "UPDATE api_keys SET name = ?, disabled = ?, limit_nano = ?, limit_reset = ?,
                allowed_providers = ?, allowed_models = ?, creator_user_id = ?, updated_at = ?, expires_at = ?,
                rate_limit_rpm = ?, rate_limit_tpm = ?
             WHERE hash = ? AND deleted_at IS NULL",
        )
        .bind(&k.name)
        .bind(k.disabled)
        .bind(k.limit_nano)
        .bind(k.limit_reset.map(LimitReset::as_str))
        .bind(json_list(&k.allowed_providers))
        .bind(json_list(&k.allowed_models))
        .bind(&k.creator_user_id)
        .bind(k.updated_at.map(ms))
        .bind(k.expires_at.map(ms))
        .bind(rpm)
        .bind(tpm)
        .bind(k.hash.to_hex())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Soft delete: stamps `deleted_at` and keeps the row; `false` if no live key matched.
    pub async fn delete_key(&self, hash: &KeyHash, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE api_keys SET deleted_at = ? WHERE hash = ? AND deleted_at IS NULL")
            .bind(ms(at))
            .bind(hash.to_hex())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every key without `deleted_at`; a row that does not parse is `StoreError::Corrupt`.
    pub async fn load_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT hash, name, label, key_type, disabled, limit_nano, limit_reset, allowed_providers,
                allowed_models, creator_user_id, created_at, updated_at, expires_at, rate_limit_rpm, rate_limit_tpm
             FROM api_keys WHERE deleted_at IS NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let hash: String = row.try_get("hash")?;
                let key_type: String = row.try_get("key_type")?;
                let limit_reset: Option<String> = row.try_get("limit_reset")?;
                Ok(KeyRecord {
                    hash: KeyHash::parse_hex(&hash).ok_or_else(|| StoreError::Corrupt(format!("hash {hash}")))?,
                    name: row.try_get("name")?,
                    label: row.try_get("label")?,
                    key_type: KeyType::parse(&key_type)
                        .ok_or_else(|| StoreError::Corrupt(format!("key_type {key_type}")))?,
                    disabled: row.try_get("disabled")?,
                    limit_nano: row.try_get("limit_nano")?,
                    limit_reset: limit_reset
                        .map(|s| LimitReset::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("limit_reset {s}"))))
                        .transpose()?,
                    allowed_providers: parse_list(row.try_get("allowed_providers")?)?,
                    allowed_models: parse_list(row.try_get("allowed_models")?)?,
                    rate_limit: RateLimit::from_columns(row.try_get("rate_limit_rpm")?, row.try_get("rate_limit_tpm")?)
                        .map_err(StoreError::Corrupt)?,
                    creator_user_id: row.try_get("creator_user_id")?,
                    created_at: from_ms(row.try_get("created_at")?)?,
                    updated_at: row.try_get::<Option<i64>, _>("updated_at")?.map(from_ms).transpose()?,
                    expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(from_ms).transpose()?,
                })
            })
            .collect()
    }

    /// Sums `cost_nano` per key over the whole ledger (a full scan, run at start), and over the
    /// day, week and month that contain `now`.
    pub async fn spend_sums(&self, now: DateTime<Utc>) -> Result<HashMap<KeyHash, SpendView>, StoreError> {
        let day = ms(LimitReset::Daily.period_start(now));
        let week = ms(LimitReset::Weekly.period_start(now));
        let month = ms(LimitReset::Monthly.period_start(now));
        let rows = sqlx::query(
            "SELECT key_hash,
                    SUM(cost_nano) AS total,
                    SUM(CASE WHEN created_at >= ? THEN cost_nano ELSE 0 END) AS daily,
                    SUM(CASE WHEN created_at >= ? THEN cost_nano ELSE 0 END) AS weekly,
                    SUM(CASE WHEN created_at >= ? THEN cost_nano ELSE 0 END) AS monthly
             FROM generations GROUP BY key_hash",
        )
        .bind(day)
        .bind(week)
        .bind(month)
        .fetch_all(&self.pool)
        .await?;
        let mut sums = HashMap::with_capacity(rows.len());
        for row in rows {
            let hash: String = row.try_get("key_hash")?;
            let Some(hash) = KeyHash::parse_hex(&hash) else { continue };
            sums.insert(
                hash,
                SpendView {
                    total: row.try_get("total")?,
                    daily: row.try_get("daily")?,
                    weekly: row.try_get("weekly")?,
                    monthly: row.try_get("monthly")?,
                },
            );
        }
        Ok(sums)
    }

    /// Makes `insert_generations` fail with `StoreError::Injected` (tests of a database outage).
    pub fn inject_write_failures(&self, on: bool) {
        self.fail_writes.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// One transaction on the ledger's own connection, in power-of-two statements; ids already
    /// stored are skipped.
    pub async fn insert_generations(&self, rows: &[GenerationRecord]) -> Result<(), StoreError> {
        if self.fail_writes.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(StoreError::Injected);
        }
        let mut tx = self.ledger.begin().await?;
        let mut rest = rows;
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(statement_rows(rest.len()));
            let mut query = sqlx::query(insert_generations_sql(chunk.len()));
            for r in chunk {
                query = query
                    .bind(&r.id)
                    .bind(r.key_hash.to_hex())
                    .bind(&r.api)
                    .bind(&r.model)
                    .bind(&r.provider)
                    .bind(&r.native_model)
                    .bind(ms(r.created_at))
                    .bind(r.first_byte_ms)
                    .bind(r.latency_ms)
                    .bind(r.usage.prompt_tokens as i64)
                    .bind(r.usage.completion_tokens as i64)
                    .bind(r.usage.cached_tokens as i64)
                    .bind(r.usage.cache_write_tokens as i64)
                    .bind(r.usage.reasoning_tokens as i64)
                    .bind(r.usage_estimated)
                    .bind(r.cost_nano)
                    .bind(i64::from(r.status))
                    .bind(r.streamed)
                    .bind(r.cancelled)
                    .bind(&r.finish_reason);
            }
            query.execute(&mut *tx).await?;
            rest = tail;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The row with this id, or `None`; rows still queued in the ledger are not there yet.
    pub async fn get_generation(&self, id: &str) -> Result<Option<GenerationRecord>, StoreError> {
        let Some(row) =
            sqlx::query("SELECT * FROM generations WHERE id = ?").bind(id).fetch_optional(&self.pool).await?
        else {
            return Ok(None);
        };
        let hash: String = row.try_get("key_hash")?;
        let count = |col: &str| -> Result<u64, StoreError> { Ok(row.try_get::<i64, _>(col)?.max(0) as u64) };
        Ok(Some(GenerationRecord {
            id: row.try_get("id")?,
            key_hash: KeyHash::parse_hex(&hash).ok_or_else(|| StoreError::Corrupt(format!("hash {hash}")))?,
            api: row.try_get("api")?,
            model: row.try_get("model")?,
            provider: row.try_get("provider")?,
            native_model: row.try_get("native_model")?,
            created_at: from_ms(row.try_get("created_at")?)?,
            first_byte_ms: row.try_get("first_byte_ms")?,
            latency_ms: row.try_get("latency_ms")?,
            usage: Usage {
                prompt_tokens: count("prompt_tokens")?,
                completion_tokens: count("completion_tokens")?,
                cached_tokens: count("cached_tokens")?,
                cache_write_tokens: count("cache_write_tokens")?,
                reasoning_tokens: count("reasoning_tokens")?,
            },
            usage_estimated: row.try_get("usage_estimated")?,
            cost_nano: row.try_get("cost_nano")?,
            status: u16::try_from(row.try_get::<i64, _>("status")?).unwrap_or(0),
            streamed: row.try_get("streamed")?,
            cancelled: row.try_get("cancelled")?,
            finish_reason: row.try_get("finish_reason")?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_cut_into_power_of_two_statements() {
        let cuts = |mut left: usize| {
            let mut out = Vec::new();
            while left > 0 {
                let rows = statement_rows(left);
                out.push(rows);
                left -= rows;
            }
            out
        };
        assert_eq!(cuts(1), [1]);
        assert_eq!(cuts(13), [8, 4, 1]);
        assert_eq!(cuts(600), [256, 256, 64, 16, 8]);
    }

    #[test]
    fn each_statement_has_a_placeholder_per_column_and_row() {
        let columns = GENERATION_COLUMNS.split(',').count();
        assert_eq!(columns, 20);
        for rows in [1, 2, 64, MAX_ROWS_PER_STATEMENT] {
            let sql = insert_generations_sql(rows);
            assert_eq!(sql.matches('?').count(), rows * columns, "{rows} rows");
            assert_eq!(sql.matches('(').count(), rows + 1, "the column list and one group a row");
        }
    }
}
