//! The accept loop: one hyper connection per client with the header limits set, and a shutdown
//! that stops accepting at once, drains in-flight requests and streams for at most the drain
//! timeout, then cuts whatever is left.
//!
//! `axum::serve` waits for in-flight work without a bound (one stuck stream would pin the
//! process forever) and does not expose hyper's limits, hence this loop.
//!
//! Each connection's socket is wrapped in [`coalesce::CoalescingIo`], so the events of an
//! upstream burst reach the client in one write instead of one write each. With
//! `--busy-poll-us`, [`busy_poll::BusyPoll`] keeps the workers polling between requests.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

use busy_poll::BusyPoll;
use coalesce::CoalescingIo;

pub mod busy_poll;
mod coalesce;

/// Largest request header block accepted: past it, HTTP/1 answers 431 and closes the
/// connection, and HTTP/2 refuses the stream. Real clients send a few KB; 64 KB leaves room for
/// long cookies or tokens while keeping a hostile client from holding large buffers.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Time streams get, once told to end, to send their final error event before their
/// connections are dropped.
const CUT_GRACE: Duration = Duration::from_millis(250);

/// Serves `app` on `listener` until `shutdown` resolves; then closes the listener (new
/// connections are refused), lets open connections finish their requests for up to `drain`,
/// then calls `cut` (streams still running send their final error event) and, after
/// `CUT_GRACE`, drops the rest. Dropping a connection drops its response streams, whose meters
/// record what was produced, so a cut stream is still charged. With `busy_poll`, workers keep
/// polling for that long after each request instead of sleeping ([`busy_poll`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
    busy_poll: Option<Duration>,
    cut: impl FnOnce(),
) {
    let busy_poll = busy_poll.map(BusyPoll::new);
    // Dropped (the spinners stopped) when this function returns.
    let _spinners = busy_poll.as_ref().map(BusyPoll::spawn_spinners);
    let mut builder = Builder::new(TokioExecutor::new());
    // hyper's HTTP/1 read buffer bounds the request head (its default is about 400 KB); it
    // also caps headers at 100, answering 431 past either.
    builder.http1().max_buf_size(MAX_HEADER_BYTES);
    builder.http2().max_header_list_size(MAX_HEADER_BYTES as u32);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            () = &mut shutdown => break,
            // Reap finished connections so the set holds only live ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => tcp,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%err, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "could not set TCP_NODELAY");
        }
        let busy_poll = busy_poll.clone();
        let service = TowerToHyperService::new(app.clone().map_request(
            move |request: axum::http::Request<hyper::body::Incoming>| {
                if let Some(busy_poll) = &busy_poll {
                    busy_poll.request_arrived();
                }
                request
            },
        ));
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(CoalescingIo::new(tcp)), service).into_owned();
        let conn = graceful.watch(conn);
        connections.spawn(async move {
            if let Err(err) = conn.await {
                tracing::trace!(%err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    while connections.try_join_next().is_some() {}
    tracing::info!(connections = connections.len(), drain_secs = drain.as_secs(), "draining in-flight requests");
    let mut drained = std::pin::pin!(graceful.shutdown());
    if tokio::time::timeout(drain, &mut drained).await.is_err() {
        tracing::warn!("drain timeout reached: closing the remaining connections");
        cut();
        let _ = tokio::time::timeout(CUT_GRACE, &mut drained).await;
    }
    // Aborts what is left and waits until every connection (and its streams) is dropped.
    connections.shutdown().await;
}
