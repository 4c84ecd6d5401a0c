//! Configuration in two phases: the command line and environment (`ServeArgs`, clap) plus an
//! optional TOML file (`RawConfig`) are resolved into one validated `Config`.
//!
//! Environment and flags win over the file. Secrets are held in `Secret`, whose `Debug` prints
//! nothing, so a config dump can never leak a provider key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use crate::catalog::{Catalog, RawModel};
use crate::providers::ProviderKind;

mod providers;

pub use providers::{RawKey, RawKind, RawProvider, UpstreamKey};

/// Command line of the `arouter` binary.
#[derive(Debug, Parser)]
#[command(name = "arouter", version, about = "Self-hosted LLM gateway compatible with the ARouter / OpenRouter API")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What the `arouter` binary was asked to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(Box<ServeArgs>),
    /// Run only the mock upstreams (fake OpenAI API) for testing your own app offline.
    Mock(MockArgs),
}

/// Flags of `arouter serve`; each has an environment variable.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "AROUTER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Database URL; SQLite file created if missing.
    #[arg(long, env = "AROUTER_DATABASE_URL", default_value = "sqlite://arouter.db")]
    pub database_url: String,
    /// Bootstrap management key (`lr_mgmt_…`), kept in memory only.
    #[arg(long, env = "AROUTER_MANAGEMENT_KEY", hide_env_values = true)]
    pub management_key: Option<String>,
    /// TOML file with providers, models, prices and timeouts.
    #[arg(long, env = "AROUTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Serve against the built-in mock upstreams instead of the real providers (offline demo).
    #[arg(long, env = "AROUTER_MOCK_UPSTREAMS")]
    pub mock_upstreams: bool,
    /// Seconds that in-flight requests and streams get to finish after SIGTERM/Ctrl-C before
    /// they are cut (overrides `[timeouts] drain_secs`; default 30).
    #[arg(long, env = "AROUTER_DRAIN_TIMEOUT_SECS")]
    pub drain_timeout_secs: Option<u64>,
    /// Microseconds the runtime's workers keep polling for work after each request instead of
    /// sleeping (0, the default: off; at most 100000). Lowers latency at low concurrency on
    /// virtual machines, whose halted vCPUs are slow to wake, at the cost of CPU while traffic
    /// flows. See README "Busy polling".
    #[arg(long, env = "AROUTER_BUSY_POLL_US")]
    pub busy_poll_us: Option<u64>,
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<String>,
    #[arg(long, env = "OPENAI_BASE_URL")]
    pub openai_base_url: Option<String>,
    #[arg(long, env = "ANTHROPIC_API_KEY", hide_env_values = true)]
    pub anthropic_api_key: Option<String>,
    #[arg(long, env = "ANTHROPIC_BASE_URL")]
    pub anthropic_base_url: Option<String>,
    #[arg(long, env = "GEMINI_API_KEY", hide_env_values = true)]
    pub gemini_api_key: Option<String>,
    #[arg(long, env = "GEMINI_BASE_URL")]
    pub gemini_base_url: Option<String>,
}

/// Flags of `arouter mock`.
#[derive(Debug, Clone, Args)]
pub struct MockArgs {
    #[arg(long, env = "AROUTER_MOCK_LISTEN", default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// Delay between streamed chunks, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub chunk_delay_ms: u64,
    /// Extra words appended to every answer (`word0 word1 …`), to make long streams: a streamed
    /// answer has about one chunk per word.
    #[arg(long, default_value_t = 0)]
    pub extra_words: usize,
}

/// The config file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[providers.<slug>]`: the built-ins and any OpenAI-compatible (or other) provider.
    #[serde(default)]
    pub providers: indexmap::IndexMap<String, RawProvider>,
    /// `[[models]]`: new models, or overrides of built-in ones by id (`Catalog::merge`).
    #[serde(default)]
    pub models: Vec<RawModel>,
    /// Let keys with a spend limit use models that have no price (they cost 0).
    pub allow_unpriced_models: Option<bool>,
    #[serde(default)]
    pub timeouts: RawTimeouts,
    #[serde(default)]
    pub routing: RawRouting,
}

/// `[routing]`: retries, the retry budget and the circuit breaker.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    /// Retries of one provider within one request.
    pub max_retries: Option<u32>,
    /// First backoff ceiling in milliseconds; it doubles with each retry.
    pub backoff_base_ms: Option<u64>,
    /// Largest backoff ceiling, in milliseconds.
    pub backoff_max_ms: Option<u64>,
    /// Longest upstream `Retry-After` the gateway waits out before trying elsewhere.
    pub max_retry_after_secs: Option<u64>,
    /// Retries earned per request (0.2 = at most 20 % extra load on a failing provider).
    pub retry_budget_ratio: Option<f64>,
    /// Retries a provider may spend before requests earned them.
    pub retry_budget_reserve: Option<u32>,
    /// Consecutive failures that open a provider's circuit.
    pub breaker_failures: Option<u32>,
    /// How long an open circuit refuses traffic before it lets one probe through.
    pub breaker_cooldown_secs: Option<u64>,
}

/// `[timeouts]`, in seconds; an absent one keeps its `Timeouts::default` value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    /// Longest wait to connect to an upstream.
    pub connect_secs: Option<u64>,
    /// Longest wait for an upstream's response headers (or first byte of a stream).
    pub first_byte_secs: Option<u64>,
    /// Longest silence inside a stream before it is cut.
    pub idle_secs: Option<u64>,
    /// Longest a request may take in all, retries and streaming included.
    pub total_secs: Option<u64>,
    /// How long a shutdown waits for in-flight requests and streams before cutting them.
    pub drain_secs: Option<u64>,
}

/// A secret string whose `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// One upstream provider, resolved.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The slug used in model ids and allow-lists (`openai`).
    pub id: String,
    /// The wire format it speaks, which decides the dialect and how credentials are sent.
    pub kind: ProviderKind,
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// The single key (`OPENAI_API_KEY`, `api_key_env`), weight 1 among `keys`. With neither
    /// (and not `keyless`) the provider answers 503 "not configured".
    pub api_key: Option<Secret>,
    /// More keys (`keys = [{ env, weight }]`), load-balanced by weight with `api_key`.
    pub keys: Vec<UpstreamKey>,
    /// Called without credentials: a configured provider that names no key (local Ollama).
    pub keyless: bool,
    /// How long a key the upstream rejected (401/403) stays out of rotation.
    pub key_cooldown: Duration,
    /// Extra headers sent upstream; never credentials or framing (refused at start).
    pub headers: axum::http::HeaderMap,
}

impl ProviderConfig {
    /// A provider with no key, no extra headers and the default cool-down.
    pub fn new(id: &str, kind: ProviderKind, base_url: &str) -> Self {
        Self {
            id: id.into(),
            kind,
            base_url: base_url.into(),
            api_key: None,
            keys: Vec::new(),
            keyless: false,
            key_cooldown: providers::DEFAULT_KEY_COOLDOWN,
            headers: axum::http::HeaderMap::new(),
        }
    }

    /// Whether requests can be sent: it has a key, or needs none.
    pub fn is_configured(&self) -> bool {
        self.keyless || self.api_key.is_some() || !self.keys.is_empty()
    }

    /// Every key in rotation: `api_key` (weight 1) and `keys`.
    pub fn all_keys(&self) -> Vec<UpstreamKey> {
        let single = self.api_key.iter().map(|secret| UpstreamKey {
            name: format!("{} api key", self.id),
            secret: secret.clone(),
            weight: 1,
        });
        single.chain(self.keys.iter().cloned()).collect()
    }
}

/// Upstream timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Longest wait to connect to an upstream.
    pub connect: Duration,
    /// Longest wait for an upstream's response headers (long: reasoning models think first).
    pub first_byte: Duration,
    /// Upstream silence after which a stream gets a keep-alive (15 s, as DESIGN §3 says).
    pub keep_alive: Duration,
    /// Upstream silence inside a stream after which it is cut with an error event (Envoy's
    /// `stream_idle_timeout` default, 5 min).
    pub idle: Duration,
    /// A request's whole life: attempts, backoff and, for streams, the stream itself.
    pub total: Duration,
    /// On shutdown, how long in-flight requests and streams may run before they are cut (and
    /// charged for what they produced), so one endless stream cannot pin the process.
    pub drain: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        // Long reasoning models can think for minutes before their first byte.
        Self {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(600),
            keep_alive: Duration::from_secs(15),
            idle: Duration::from_secs(300),
            total: Duration::from_secs(1800),
            drain: Duration::from_secs(30),
        }
    }
}

/// Validated configuration the gateway runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// The bootstrap management key from flags or environment; held in memory, never stored.
    pub management_key: Option<Secret>,
    /// Point the built-in providers at in-process mock upstreams (offline demo).
    pub mock_upstreams: bool,
    /// Every provider, built-ins without a key included; `ProviderConfig::is_configured` says
    /// which can be called.
    pub providers: Vec<ProviderConfig>,
    pub catalog: Catalog,
    /// Let keys with a spend limit use models that have no price (they cost 0).
    pub allow_unpriced_models: bool,
    pub timeouts: Timeouts,
    /// Retries and the retry budget.
    pub retry: crate::routing::retry::RetryPolicy,
    /// When a provider's circuit opens and for how long.
    pub breaker: crate::routing::breaker::BreakerPolicy,
    /// How client-supplied image URLs are fetched for providers that only take bytes (Gemini):
    /// https only, public addresses only, size and time capped.
    pub fetch: crate::fetch::FetchPolicy,
    /// Ledger records that may wait for a failing database before keys with a spend limit are
    /// refused (fail closed).
    pub ledger_backlog_limit: usize,
    /// How long workers keep polling after a request instead of sleeping (`None`: they sleep
    /// at once, the default).
    pub busy_poll: Option<Duration>,
    /// Outbound proxies for upstream calls, from `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` /
    /// `NO_PROXY` (none in `for_tests`, so a test never depends on the environment's).
    pub proxies: crate::providers::Proxies,
}

/// A configuration problem, reported before the gateway starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// Names the line but does not quote it: the line might hold a secret written inline.
    #[error("config file {path}, line {line}: {message}")]
    Parse { path: PathBuf, line: usize, message: String },
    /// A value that parses but is out of range or inconsistent; the message names the setting.
    #[error("config: {0}")]
    Invalid(String),
    /// A `[[models]]` entry that is not a valid catalog entry.
    #[error("config: {0}")]
    Catalog(#[from] crate::catalog::CatalogError),
}

impl Config {
    /// A config for tests and embedding: SQLite in memory, no providers configured.
    pub fn for_tests() -> Self {
        Self {
            listen: ([127, 0, 0, 1], 0).into(),
            database_url: "sqlite::memory:".into(),
            management_key: None,
            mock_upstreams: false,
            providers: providers::builtin(),
            catalog: Catalog::builtin(),
            allow_unpriced_models: false,
            timeouts: Timeouts::default(),
            retry: Default::default(),
            breaker: Default::default(),
            fetch: crate::fetch::FetchPolicy::default(),
            ledger_backlog_limit: crate::usage::ledger::DEFAULT_BACKLOG_LIMIT,
            busy_poll: None,
            proxies: crate::providers::Proxies::none(),
        }
    }

    /// The provider with this slug.
    pub fn provider(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// The provider with this slug, to adjust after resolving (tests, and `mock_upstreams`
    /// pointing the built-ins at the mock).
    pub fn provider_mut(&mut self, id: &str) -> Option<&mut ProviderConfig> {
        self.providers.iter_mut().find(|p| p.id == id)
    }
}

impl RawConfig {
    /// Reads and parses the file; a parse error names the path and line, never the line's text.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        Self::parse(&text).map_err(|(line, message)| ConfigError::Parse { path: path.into(), line, message })
    }

    /// Parses config text; an error is its 1-based line and message.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        toml::from_str(text).map_err(|err: toml::de::Error| {
            let line = err.span().map_or(0, |span| text[..span.start].matches('\n').count() + 1);
            (line, err.message().to_owned())
        })
    }

    /// Combines the file with flags and environment into a validated `Config`.
    pub fn resolve(self, args: &ServeArgs) -> Result<Config, ConfigError> {
        self.resolve_with_env(args, &|var| std::env::var(var).ok())
    }

    /// `resolve` with environment variables read through `env` (tests pass a map).
    pub fn resolve_with_env(
        self,
        args: &ServeArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let flags = [
            ("openai", &args.openai_base_url, &args.openai_api_key),
            ("anthropic", &args.anthropic_base_url, &args.anthropic_api_key),
            ("google", &args.gemini_base_url, &args.gemini_api_key),
        ]
        .map(|(id, base_url, api_key)| providers::BuiltinFlags {
            id,
            base_url: base_url.as_deref(),
            api_key: api_key.as_deref(),
        });
        let resolved = providers::resolve(self.providers, &flags, env)?;

        let management_key = match &args.management_key {
            Some(key) if !key.starts_with(crate::keys::secret::MGMT_PREFIX) || key.len() < 24 => {
                return Err(ConfigError::Invalid(
                    "AROUTER_MANAGEMENT_KEY must start with 'lr_mgmt_' and be at least 24 characters".into(),
                ));
            }
            other => other.clone().map(Secret),
        };

        let mut catalog = Catalog::builtin();
        catalog.merge(resolved.models)?;
        catalog.merge(self.models)?;
        if self.timeouts.idle_secs == Some(0) || self.timeouts.total_secs == Some(0) {
            return Err(ConfigError::Invalid("timeouts must be at least 1 second".into()));
        }
        let busy_poll = match args.busy_poll_us {
            None | Some(0) => None,
            Some(us) if Duration::from_micros(us) > crate::server::listen::busy_poll::MAX_WINDOW => {
                return Err(ConfigError::Invalid(format!(
                    "AROUTER_BUSY_POLL_US is at most {} (microseconds)",
                    crate::server::listen::busy_poll::MAX_WINDOW.as_micros()
                )));
            }
            Some(us) => Some(Duration::from_micros(us)),
        };
        let defaults = Timeouts::default();
        Ok(Config {
            listen: args.listen,
            database_url: args.database_url.clone(),
            management_key,
            mock_upstreams: args.mock_upstreams,
            providers: resolved.providers,
            catalog,
            allow_unpriced_models: self.allow_unpriced_models.unwrap_or(false),
            timeouts: Timeouts {
                connect: self.timeouts.connect_secs.map_or(defaults.connect, Duration::from_secs),
                first_byte: self.timeouts.first_byte_secs.map_or(defaults.first_byte, Duration::from_secs),
                keep_alive: defaults.keep_alive,
                idle: self.timeouts.idle_secs.map_or(defaults.idle, Duration::from_secs),
                total: self.timeouts.total_secs.map_or(defaults.total, Duration::from_secs),
                drain: args.drain_timeout_secs.or(self.timeouts.drain_secs).map_or(defaults.drain, Duration::from_secs),
            },
            retry: self.routing.retry_policy()?,
            breaker: self.routing.breaker_policy()?,
            fetch: crate::fetch::FetchPolicy::default(),
            ledger_backlog_limit: crate::usage::ledger::DEFAULT_BACKLOG_LIMIT,
            busy_poll,
            proxies: crate::providers::Proxies::from_env(),
        })
    }
}

impl RawRouting {
    fn retry_policy(&self) -> Result<crate::routing::retry::RetryPolicy, ConfigError> {
        let d = crate::routing::retry::RetryPolicy::default();
        let ratio = self.retry_budget_ratio.unwrap_or(d.budget_ratio);
        if !(0.0..=1.0).contains(&ratio) {
            return Err(ConfigError::Invalid("routing.retry_budget_ratio must be between 0 and 1".into()));
        }
        let base = self.backoff_base_ms.map_or(d.base, Duration::from_millis);
        let max = self.backoff_max_ms.map_or(d.max, Duration::from_millis);
        if base > max {
            return Err(ConfigError::Invalid("routing.backoff_base_ms must not exceed backoff_max_ms".into()));
        }
        Ok(crate::routing::retry::RetryPolicy {
            max_retries: self.max_retries.unwrap_or(d.max_retries),
            base,
            max,
            max_retry_after: self.max_retry_after_secs.map_or(d.max_retry_after, Duration::from_secs),
            budget_ratio: ratio,
            budget_reserve: self.retry_budget_reserve.map_or(d.budget_reserve, f64::from),
        })
    }

    fn breaker_policy(&self) -> Result<crate::routing::breaker::BreakerPolicy, ConfigError> {
        let d = crate::routing::breaker::BreakerPolicy::default();
        let threshold = self.breaker_failures.unwrap_or(d.threshold);
        if threshold == 0 {
            return Err(ConfigError::Invalid("routing.breaker_failures must be at least 1".into()));
        }
        Ok(crate::routing::breaker::BreakerPolicy {
            threshold,
            cool_down: self.breaker_cooldown_secs.map_or(d.cool_down, Duration::from_secs),
        })
    }
}

fn validate_base_url(provider: &str, url: &str) -> Result<String, ConfigError> {
    let trimmed = url.trim_end_matches('/');
    match url::Url::parse(trimmed) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(trimmed.to_owned()),
        _ => Err(ConfigError::Invalid(format!("base URL of provider '{provider}' must be an http(s) URL"))),
    }
}

impl ServeArgs {
    /// Reads the config file named by `--config`/`AROUTER_CONFIG`, if any, and resolves.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let raw = match &self.config {
            Some(path) => RawConfig::from_file(path)?,
            None => RawConfig::default(),
        };
        raw.resolve(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ServeArgs {
        ServeArgs::parse_from_env_free(&["serve"])
    }

    impl ServeArgs {
        fn parse_from_env_free(argv: &[&str]) -> Self {
            #[derive(Parser)]
            struct Wrapper {
                #[command(flatten)]
                args: ServeArgs,
            }
            Wrapper::parse_from(argv).args
        }
    }

    #[test]
    fn busy_polling_is_off_unless_asked_for_and_bounded() {
        let resolve = |argv: &[&str]| RawConfig::default().resolve(&ServeArgs::parse_from_env_free(argv));
        assert_eq!(resolve(&["serve"]).unwrap().busy_poll, None);
        assert_eq!(resolve(&["serve", "--busy-poll-us", "0"]).unwrap().busy_poll, None);
        assert_eq!(resolve(&["serve", "--busy-poll-us", "500"]).unwrap().busy_poll, Some(Duration::from_micros(500)));
        let err = resolve(&["serve", "--busy-poll-us", "100001"]).unwrap_err().to_string();
        assert!(err.contains("AROUTER_BUSY_POLL_US is at most 100000"), "{err}");
    }

    #[test]
    fn the_example_config_file_is_valid() {
        let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/arouter.example.toml"));
        let config = RawConfig::from_file(path).unwrap().resolve(&args()).unwrap();
        let tune = config.catalog.get("openai/my-fine-tune").unwrap();
        assert_eq!(tune.native, "ft:gpt-4.1-mini:acme::abc123");
        assert_eq!(tune.pricing.unwrap().prompt, 800_000_000);
        assert_eq!(config.timeouts.first_byte, Duration::from_secs(600));
        assert_eq!(config.timeouts.drain, Duration::from_secs(30));
        let flag = ServeArgs::parse_from_env_free(&["serve", "--drain-timeout-secs", "3"]);
        assert_eq!(RawConfig::from_file(path).unwrap().resolve(&flag).unwrap().timeouts.drain, Duration::from_secs(3));
        let deepseek = config.catalog.get("deepseek/deepseek-v3.2").unwrap();
        assert_eq!((deepseek.native.as_str(), deepseek.pricing.unwrap().prompt), ("deepseek-chat", 280_000_000));
        let ollama = config.provider("ollama").unwrap();
        assert!(ollama.keyless && ollama.is_configured());
        assert_eq!(config.provider("openai").unwrap().key_cooldown, Duration::from_secs(60));
    }

    #[test]
    fn bad_values_are_reported_before_start() {
        let bad_key = ServeArgs { management_key: Some("lr_live_x".into()), ..args() };
        assert!(RawConfig::default().resolve(&bad_key).unwrap_err().to_string().contains("AROUTER_MANAGEMENT_KEY"));
        let bad_url = ServeArgs { openai_base_url: Some("ftp://x".into()), ..args() };
        assert!(RawConfig::default().resolve(&bad_url).unwrap_err().to_string().contains("openai"));
        let unknown: Result<RawConfig, _> = toml::from_str("listen_port = 3");
        assert!(unknown.is_err());
    }
}
