//! The ledger writer: one task that takes generation records from a bounded channel and commits
//! them in batches, so the request path never waits on the database.
//!
//! A failed commit keeps its batch and retries with backoff; nothing is dropped to make room.
//! On shutdown the channel is closed and drained, and the last batch is committed before
//! `LedgerTask::finish` returns.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::GenerationRecord;
use crate::store::Store;

/// Records waiting to be written before senders start to wait.
const CHANNEL_CAPACITY: usize = 16_384;
/// Most rows per transaction.
const MAX_BATCH: usize = 512;
/// Commit attempts for one batch during shutdown before giving up on it (and saying so).
const SHUTDOWN_ATTEMPTS: u32 = 5;

/// The sending side, cloned into every request.
#[derive(Debug, Clone)]
pub struct Ledger {
    tx: mpsc::Sender<GenerationRecord>,
}

/// The writer task; `finish` flushes and waits for it.
#[derive(Debug)]
pub struct LedgerTask {
    stop: Arc<Notify>,
    join: JoinHandle<()>,
}

impl Ledger {
    /// Starts the writer task over `store`.
    pub fn start(store: Store) -> (Ledger, LedgerTask) {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let stop = Arc::new(Notify::new());
        let join = tokio::spawn(write_loop(store, rx, stop.clone()));
        (Ledger { tx }, LedgerTask { stop, join })
    }

    /// Queues a record without waiting. When the channel is full, a task waits for room
    /// instead of dropping the record. Safe to call from `Drop`.
    pub fn record(&self, record: GenerationRecord) {
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

async fn write_loop(store: Store, mut rx: mpsc::Receiver<GenerationRecord>, stop: Arc<Notify>) {
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
        commit(&store, &batch, stopping).await;
        batch.clear();
    }
}

async fn commit(store: &Store, batch: &[GenerationRecord], stopping: bool) {
    let mut delay = Duration::from_millis(50);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match store.insert_generations(batch).await {
            Ok(()) => return,
            Err(err) if stopping && attempt >= SHUTDOWN_ATTEMPTS => {
                tracing::error!(%err, rows = batch.len(), "ledger batch could not be committed at shutdown");
                return;
            }
            Err(err) => {
                tracing::warn!(%err, rows = batch.len(), attempt, "ledger commit failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
