//! The `arouter` binary: parse the command line, set up logging, run.

use arouter::config::{Cli, Command};
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's allocator: a request makes about 150 small allocations, which
/// cost glibc about 14 % of the gateway's instructions, and glibc keeps the memory a load freed
/// (the idle RSS after a benchmark stayed near 280 MB).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().with_env_filter(log_filter()).with_writer(std::io::stderr).init();
    let result = match Cli::parse().command {
        Command::Serve(args) => match args.load() {
            Ok(config) => run_gateway(config).await,
            Err(err) => Err(err.to_string()),
        },
        Command::Mock(args) => arouter::mock::run_standalone(args, shutdown_signal()).await.map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("arouter: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Crates below the gateway that log connection targets (upstream hosts), URLs (Gemini's
/// `?key=`) or raw headers (keys) at debug/trace. They are capped at `info` whatever `RUST_LOG`
/// says, so no level can put a secret or an upstream host in the log. (`axum::serve` logs peer
/// addresses; in `--mock-upstreams` mode that names the mock's connections.)
const CAPPED_CRATES: &[&str] =
    &["hyper", "hyper_util", "reqwest", "h2", "rustls", "tokio_rustls", "sqlx", "tower_http", "axum::serve"];

/// `RUST_LOG` (default `info`) with the `CAPPED_CRATES` directives appended; a directive for the
/// same target that comes later wins, so these always apply.
fn log_filter() -> EnvFilter {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    for krate in CAPPED_CRATES {
        filter = filter.add_directive(format!("{krate}=info").parse().expect("valid directive"));
    }
    filter
}

async fn run_gateway(config: arouter::config::Config) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    arouter::serve(listener, config, shutdown_signal()).await.map_err(|e| e.to_string())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
