//! `AppState`: everything a request handler needs, cloned cheaply into each request.

use std::ops::Deref;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::fetch::Fetcher;
use crate::keys::{KeyCache, KeyHash};
use crate::providers::Providers;
use crate::routing::Resilience;
use crate::store::Store;
use crate::usage::Ledger;

/// Shared state; an `Arc` inside.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of `AppState`, built once by `App::build`; handlers reach them through `Deref`.
#[derive(Debug)]
pub struct Inner {
    pub config: Config,
    /// Every live key, so authentication never touches the database.
    pub keys: KeyCache,
    pub store: Store,
    pub providers: Providers,
    /// Retry budgets, circuit breakers and counters per provider.
    pub resilience: Resilience,
    /// Where finished requests are recorded; written in batches by the ledger task.
    pub ledger: Ledger,
    /// "Now" for key expiry and spend periods; tests use a manual clock.
    pub clock: Clock,
    /// Fetches client image URLs for providers that need inline bytes, refusing private and
    /// local addresses.
    pub fetcher: Fetcher,
    /// Set when a shutdown's drain time is up: streams still running end with an error event in
    /// their client's format (and are charged for what they produced) before they are dropped.
    pub cut_streams: tokio::sync::watch::Sender<bool>,
    /// Hash of `AROUTER_MANAGEMENT_KEY`. That key is configuration, not data: it is never
    /// stored, and the management API neither lists nor changes it.
    pub configured_key: Option<KeyHash>,
}

impl AppState {
    /// Wraps the parts once; clones share them.
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
