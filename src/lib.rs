//! arouter: a self-hosted LLM gateway, wire-compatible with the ARouter / OpenRouter API.
//!
//! # Layout
//! * `config`: command line, environment and TOML file, resolved into one validated `Config`.
//! * `server`: the HTTP edge (routes, auth, body limits, handlers); `router(state)` builds it.
//! * `llm`: the neutral chat model every cross-format request translates through.
//! * `dialect`: wire formats and their rewriting/translation; pure, no I/O.
//! * `sse`: incremental server-sent-events decoding and framing.
//! * `providers`: outbound calls to upstreams over one pooled HTTP client.
//! * `fetch`: SSRF-safe fetching of client-supplied image URLs (for upstreams that need bytes).
//! * `routing`: model id → provider, native id, price; request plans (fallback lists, provider
//!   preferences); retries, retry budgets and circuit breakers around the upstream call.
//! * `catalog`: the model catalog (built in, extendable from config).
//! * `keys`: key hashing, the in-memory key cache, spend per period, admission.
//! * `usage`: token counts, prices, and the batched ledger writer.
//! * `store`: the database (SQLite by default) behind one `Store`.
//! * `mock`: fake upstream APIs for tests, benchmarks and the offline quickstart.
//! * `clock`: wall-clock time behind a seam, so tests can move it.

pub mod catalog;
pub mod clock;
pub mod config;
pub mod dialect;
pub mod error;
pub mod fetch;
pub mod keys;
pub mod llm;
pub mod mock;
pub mod providers;
pub mod routing;
pub mod server;
pub mod sse;
pub mod state;
pub mod store;
pub mod usage;

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::{Config, Secret};
use crate::keys::secret::{self, KeyHash, KeyType};
use crate::keys::{KeyCache, KeyRecord, Spend};
use crate::providers::Providers;
use crate::state::{AppState, Inner};
use crate::store::{Store, StoreError};
use crate::usage::Ledger;
use crate::usage::ledger::LedgerTask;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened, migrated or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start the mock upstreams: {0}")]
    Mock(std::io::Error),
    /// The listener failed: reading its address, or while serving.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// A gateway ready to serve: state loaded, ledger writer running.
#[derive(Debug)]
pub struct App {
    pub state: AppState,
    /// The management key created at first start, when one was created (shown once).
    pub bootstrap_key: Option<String>,
    /// Address of the in-process mock upstreams, when `mock_upstreams` is on.
    pub mock_addr: Option<SocketAddr>,
    ledger_task: LedgerTask,
}

impl App {
    /// Opens the database, loads keys and their spend, ensures a management key exists, and
    /// starts the ledger writer (and the mock upstreams when configured).
    pub async fn build(mut config: Config, clock: Clock) -> Result<Self, StartError> {
        let mut mock_addr = None;
        if config.mock_upstreams {
            let mock = mock::MockUpstream::start(mock::MockOptions::default()).await.map_err(StartError::Mock)?;
            mock.configure(&mut config);
            mock_addr = Some(mock.addr());
            mock.detach();
        }
        let store = Store::connect(&config.database_url).await?;
        let now = clock.now();
        let keys = KeyCache::default();
        let sums = store.spend_sums(now).await?;
        for record in store.load_keys().await? {
            let spend = sums.get(&record.hash).map(|s| Spend::from_sums(now, *s)).unwrap_or_default();
            keys.insert(record, spend);
        }
        let bootstrap_key = bootstrap_management_key(&config, &store, &keys, &clock).await?;
        let (ledger, ledger_task) = Ledger::start(store.clone(), config.ledger_backlog_limit);
        let providers = Providers::new(&config);
        let resilience =
            routing::Resilience::new(config.retry, config.breaker, config.providers.iter().map(|p| p.id.as_str()));
        let configured_key = config.management_key.as_ref().map(|Secret(key)| KeyHash::of(key));
        let fetcher = fetch::Fetcher::new(config.fetch.clone());
        let state = AppState::new(Inner {
            config,
            keys,
            store,
            providers,
            resilience,
            ledger,
            clock,
            cut_streams: tokio::sync::watch::Sender::new(false),
            configured_key,
            fetcher,
        });
        Ok(Self { state, bootstrap_key, mock_addr, ledger_task })
    }

    /// Serves until `shutdown` resolves, stops accepting, lets in-flight requests and streams
    /// finish for up to the drain timeout (`[timeouts] drain_secs`), cuts the rest, then
    /// flushes the ledger (cut streams included: their meters record on drop).
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let drain = self.state.config.timeouts.drain;
        let busy_poll = self.state.config.busy_poll;
        let state = self.state.clone();
        let cut = move || {
            state.cut_streams.send_replace(true);
        };
        // On a runtime worker, not the thread that called `run` (`main`'s `block_on`): there,
        // handing each accepted connection to a worker and reaping it when it closed cost two
        // wake-ups across threads per connection.
        let accepting = tokio::spawn(server::listen::serve(
            listener,
            server::router(self.state.clone()),
            shutdown,
            drain,
            busy_poll,
            cut,
        ));
        if let Err(err) = accepting.await
            && err.is_panic()
        {
            std::panic::resume_unwind(err.into_panic());
        }
        drop(self.state);
        self.ledger_task.finish().await;
        Ok(())
    }
}

/// Builds and runs the gateway on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let app = App::build(config, Clock::System).await?;
    if let Some(key) = &app.bootstrap_key {
        println!(
            "\nCreated the first management key. It is shown only once; store it now:\n\n    {key}\n\n\
             Use it as `Authorization: Bearer {key}` on /api/v1/keys to create API keys.\n"
        );
    }
    let addr = listener.local_addr()?;
    tracing::info!(%addr, mock_upstreams = app.mock_addr.is_some(), "arouter listening");
    // On stdout as well, after the key, so scripts can find an ephemeral port.
    println!("arouter listening on http://{addr}");
    app.run(listener, shutdown).await
}

/// Makes sure a management key exists: the one from `AROUTER_MANAGEMENT_KEY` (kept in memory
/// only), or else one created and stored now, returned so it can be shown once.
async fn bootstrap_management_key(
    config: &Config,
    store: &Store,
    keys: &KeyCache,
    clock: &Clock,
) -> Result<Option<String>, StoreError> {
    let now = clock.now();
    let record = |hash, label, name: &str| KeyRecord {
        hash,
        name: name.to_owned(),
        label,
        key_type: KeyType::Management,
        disabled: false,
        limit_nano: None,
        limit_reset: None,
        allowed_providers: None,
        allowed_models: None,
        rate_limit: None,
        created_at: now,
        updated_at: None,
        expires_at: None,
        creator_user_id: None,
    };
    if let Some(Secret(key)) = &config.management_key {
        keys.insert(record(KeyHash::of(key), secret::label_of(key), "AROUTER_MANAGEMENT_KEY"), Spend::default());
        return Ok(None);
    }
    if keys.has_management_key() {
        return Ok(None);
    }
    let new = secret::generate(KeyType::Management);
    let bootstrap = record(new.hash, new.label, "bootstrap");
    store.insert_key(&bootstrap).await?;
    keys.insert(bootstrap, Spend::default());
    tracing::info!("created the bootstrap management key (printed once on stdout)");
    Ok(Some(new.plaintext))
}
