//! The ledger writer: one task that takes generation records from a bounded channel and commits
//! them in batches, so the request path never waits on the database.
//!
//! A failed commit keeps its batch and retries with backoff; nothing is dropped to make room,
//! and a retried batch cannot be counted twice (ids are unique; inserts ignore repeats). While
//! the database is failing, `LedgerHealth` says so and how many records wait: past
//! `Ledger::backlog_limit`, keys with a spend limit are refused (fail closed) until it
//! recovers, because their spend could no longer be made durable. On shutdown the channel is
//! closed and drained, and the last batch is committed before `LedgerTask::finish` returns.
//!
//! Flush window: a record is committed within a few milliseconds of its request's end while
//! the database is healthy: after the first record of a batch arrives, the writer sleeps
//! `LINGER` and then takes what came meanwhile (up to 512), so a busy gateway pays for one
//! transaction per batch instead of one per request (at one request at a time, a commit per
//! request cost more CPU than the request itself: the SQLite worker thread and its wake-ups).
//! It sleeps rather than waits on the channel: a waiting receiver is woken by every record
//! sent, a sleeping one by none, so a batch costs the writer two wake-ups however many
//! requests it holds.
//! A `kill -9` can lose at most the records queued but not yet committed at that instant; a
//! batch is one transaction, so a record is never half written.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::GenerationRecord;
use crate::store::Store;

/// Records waiting to be written before senders start to wait.
const CHANNEL_CAPACITY: usize = 16_384;
/// Most rows per transaction.
const MAX_BATCH: usize = 512;
/// How long the writer waits for more records after the first of a batch.
const LINGER: Duration = Duration::from_millis(5);
/// Commit attempts for one batch during shutdown before giving up on it (and saying so).
const SHUTDOWN_ATTEMPTS: u32 = 5;

/// Records waiting by default before limited keys are refused.
pub const DEFAULT_BACKLOG_LIMIT: usize = 10_000;

/// How the ledger is doing, for admission and `/healthz`.
#[derive(Debug, Default)]
pub struct LedgerHealth {
    /// Records queued or being committed.
    pending: AtomicUsize,
    /// The last commit failed (and is being retried).
    failing: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl LedgerHealth {
    /// Records queued or being committed; held against the backlog limit while `failing`.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Whether the last commit failed (its batch is being retried).
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// The latest commit failure; kept after recovery, so it means something only while `failing`.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().expect("ledger health poisoned").clone()
    }
}

/// The sending side, cloned into every request.
#[derive(Debug, Clone)]
pub struct Ledger {
    tx: mpsc::Sender<GenerationRecord>,
    health: Arc<LedgerHealth>,
    backlog_limit: usize,
}

/// The writer task; `finish` flushes and waits for it.
#[derive(Debug)]
pub struct LedgerTask {
    stop: Arc<Notify>,
    join: JoinHandle<()>,
}

impl Ledger {
    /// Starts the writer task over `store`.
    pub fn start(store: Store, backlog_limit: usize) -> (Ledger, LedgerTask) {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let stop = Arc::new(Notify::new());
        let health = Arc::new(LedgerHealth::default());
        let join = tokio::spawn(write_loop(store, rx, stop.clone(), health.clone()));
        (Ledger { tx, health, backlog_limit }, LedgerTask { stop, join })
    }

    /// The writer's state, for `/healthz` and admission.
    pub fn health(&self) -> &LedgerHealth {
        &self.health
    }

    /// Too many records wait for a failing database: spend can no longer be made durable.
    pub fn backlogged(&self) -> bool {
        self.health.failing() && self.health.pending() >= self.backlog_limit
    }

    /// Queues a record without waiting. When the channel is full, a task waits for room
    /// instead of dropping the record. Safe to call from `Drop`.
    pub fn record(&self, record: GenerationRecord) {
        self.health.pending.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(record) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(record)) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    if tx.send(record).await.is_err() {
                        tracing::error!("ledger closed; a generation record was lost");
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed(record)) => {
                tracing::error!(id = %record.id, "ledger closed; generation record lost");
            }
        }
    }
}

impl LedgerTask {
    /// Closes the channel, commits everything queued, and waits for the writer to end.
    pub async fn finish(self) {
        self.stop.notify_one();
        if let Err(err) = self.join.await {
            tracing::error!(%err, "ledger writer panicked");
        }
    }
}

async fn write_loop(
    store: Store,
    mut rx: mpsc::Receiver<GenerationRecord>,
    stop: Arc<Notify>,
    health: Arc<LedgerHealth>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut stopping = false;
    loop {
        let received = if stopping {
            rx.recv_many(&mut batch, MAX_BATCH).await
        } else {
            tokio::select! {
                n = rx.recv_many(&mut batch, MAX_BATCH) => n,
                () = stop.notified() => {
                    stopping = true;
                    rx.close();
                    continue;
                }
            }
        };
        if received == 0 {
            break; // closed and drained
        }
        if !stopping {
            linger(&mut rx, &mut batch).await;
        }
        commit(&store, &batch, stopping, &health).await;
        health.pending.fetch_sub(batch.len(), Ordering::Relaxed);
        batch.clear();
    }
}

/// Unless `batch` is already full (a backlog), waits `LINGER` and adds what arrived meanwhile,
/// up to `MAX_BATCH`; what is left stays queued for the next batch.
async fn linger(rx: &mut mpsc::Receiver<GenerationRecord>, batch: &mut Vec<GenerationRecord>) {
    if batch.len() >= MAX_BATCH {
        return;
    }
    tokio::time::sleep(LINGER).await;
    let room = MAX_BATCH - batch.len();
    // Records are there or not: take them without waiting (`None`: nothing came).
    let _ = rx.recv_many(batch, room).now_or_never();
}

async fn commit(store: &Store, batch: &[GenerationRecord], stopping: bool, health: &LedgerHealth) {
    let mut delay = Duration::from_millis(50);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match store.insert_generations(batch).await {
            Ok(()) => {
                if health.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(rows = batch.len(), "ledger commits again");
                }
                return;
            }
            Err(err) if stopping && attempt >= SHUTDOWN_ATTEMPTS => {
                tracing::error!(%err, rows = batch.len(), "ledger batch could not be committed at shutdown");
                return;
            }
            Err(err) => {
                health.failing.store(true, Ordering::Relaxed);
                *health.last_error.lock().expect("ledger health poisoned") = Some(err.to_string());
                tracing::warn!(%err, rows = batch.len(), attempt, "ledger commit failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests;
