use chrono::{TimeZone, Utc};

use super::*;
use crate::keys::KeyHash;
use crate::usage::Usage;

fn record(i: usize) -> GenerationRecord {
    let created_at = Utc.timestamp_opt(1_775_226_820, 0).unwrap();
    GenerationRecord {
        id: format!("gen-1775226820-{i:032x}"),
        key_hash: KeyHash::of("lr_live_ledger_test"),
        api: "chat.completions".into(),
        model: "openai/gpt-5.4-mini".into(),
        provider: "openai".into(),
        native_model: "gpt-5.4-mini".into(),
        created_at,
        first_byte_ms: Some(3),
        latency_ms: 5,
        usage: Usage { prompt_tokens: i as u64, completion_tokens: 2, ..Usage::default() },
        usage_estimated: false,
        cost_nano: i as i64 * 10,
        status: 200,
        streamed: false,
        cancelled: false,
        finish_reason: Some("stop".into()),
    }
}

async fn store(dir: &tempfile::TempDir) -> Store {
    Store::connect(&format!("sqlite://{}", dir.path().join("ledger.db").display())).await.unwrap()
}

/// A burst bigger than two batches, sent faster than the writer's linger: every record is
/// committed (the ones past a batch's room wait for the next batch, none are dropped), and
/// `pending` comes back to zero once they are.
#[tokio::test]
async fn a_burst_larger_than_a_batch_is_committed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let (ledger, task) = Ledger::start(store.clone(), DEFAULT_BACKLOG_LIMIT);
    let total = MAX_BATCH * 2 + 37;
    for i in 0..total {
        ledger.record(record(i));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ledger.health().pending() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "{} records still pending", ledger.health().pending());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for i in [0, MAX_BATCH - 1, MAX_BATCH, 2 * MAX_BATCH, total - 1] {
        let row = store.get_generation(&record(i).id).await.unwrap();
        assert_eq!(row, Some(record(i)), "record {i}");
    }
    task.finish().await;
}

/// A record queued just before shutdown is still committed: `finish` drains the channel.
#[tokio::test]
async fn finish_commits_what_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let (ledger, task) = Ledger::start(store.clone(), DEFAULT_BACKLOG_LIMIT);
    for i in 0..3 {
        ledger.record(record(i));
    }
    task.finish().await;
    for i in 0..3 {
        assert_eq!(store.get_generation(&record(i).id).await.unwrap(), Some(record(i)));
    }
    assert_eq!(ledger.health().pending(), 0);
}

/// A record that arrives while the writer lingers joins that batch: it is committed within
/// the linger (plus the commit), not left for a later record to flush.
#[tokio::test]
async fn a_record_sent_during_the_linger_is_committed_with_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let (ledger, task) = Ledger::start(store.clone(), DEFAULT_BACKLOG_LIMIT);
    ledger.record(record(1));
    tokio::time::sleep(LINGER / 2).await;
    ledger.record(record(2));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ledger.health().pending() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "records still pending");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(store.get_generation(&record(2).id).await.unwrap(), Some(record(2)));
    task.finish().await;
}
