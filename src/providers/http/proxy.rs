//! Outbound proxies, as curl reads them from the environment: `HTTPS_PROXY` for `https://`
//! upstreams (a `CONNECT` tunnel, TLS end to end), `HTTP_PROXY` for plain ones (the request
//! goes to the proxy in absolute form), `ALL_PROXY` for both, `NO_PROXY` for hosts that are
//! reached directly. Only `http://` proxies are supported; credentials in the proxy URL
//! (`http://user:pass@proxy:3128`) are sent as `Proxy-Authorization: Basic`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{HeaderValue, Uri};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::{Service, ServiceExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which upstreams go through which proxy; nothing when no proxy is configured, so the
/// request path then checks nothing.
#[derive(Clone, Debug, Default)]
pub struct Proxies(Option<Arc<Matcher>>);

/// The variables `Proxies::from_env` reads for proxy URLs (`NO_PROXY` only narrows them).
const PROXY_VARS: [&str; 6] = ["ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"];

impl Proxies {
    /// No proxy: every upstream is reached directly.
    pub fn none() -> Self {
        Self(None)
    }

    /// The proxies the environment names (`ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`,
    /// upper or lower case). A proxy URL that is not `http://` is refused when a connection
    /// would use it, with a warning here.
    pub fn from_env() -> Self {
        let set = PROXY_VARS.iter().filter_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()));
        let mut any = false;
        for value in set {
            any = true;
            if !value.trim_start().to_ascii_lowercase().starts_with("http://") && value.contains("://") {
                tracing::warn!("only http:// proxies are supported; upstream connections through this one will fail");
            }
        }
        if any { Self(Some(Arc::new(Matcher::from_env()))) } else { Self(None) }
    }

    /// Explicit proxies, for tests and embedders: `http` for plain upstreams, `https` for TLS
    /// ones (empty: none), `no` in `NO_PROXY` syntax.
    pub fn new(http: &str, https: &str, no: &str) -> Self {
        Self(Some(Arc::new(Matcher::builder().http(http).https(https).no(no).build())))
    }

    fn intercept(&self, dst: &Uri) -> Option<Intercept> {
        self.0.as_ref()?.intercept(dst)
    }

    /// Credentials for a proxy that a plain-HTTP request to `dst` is sent to in absolute form
    /// (a tunnel carries them in its `CONNECT` instead).
    pub(super) fn plain_http_auth(&self, dst: &Uri) -> Option<HeaderValue> {
        if dst.scheme_str() != Some("http") {
            return None;
        }
        self.intercept(dst)?.basic_auth().cloned()
    }
}

/// Opens upstream connections, directly or through the proxy that `Proxies` picks. TLS, when
/// the upstream is `https://`, is layered on top by `hyper_rustls`, so a tunnel carries it end
/// to end.
#[derive(Clone)]
pub(super) struct Connector {
    tcp: HttpConnector,
    proxies: Proxies,
}

impl Connector {
    pub(super) fn new(tcp: HttpConnector, proxies: Proxies) -> Self {
        Self { tcp, proxies }
    }
}

impl Service<Uri> for Connector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let tcp = self.tcp.clone();
        let Some(proxy) = self.proxies.intercept(&dst) else {
            return Box::pin(async move { Ok(Conn { io: tcp.oneshot(dst).await?, proxied: false }) });
        };
        if proxy.uri().scheme_str() != Some("http") {
            return Box::pin(async { Err("only http:// proxies are supported".into()) });
        }
        if dst.scheme_str() == Some("https") {
            let mut tunnel = Tunnel::new(proxy.uri().clone(), tcp);
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            Box::pin(async move { Ok(Conn { io: tunnel.oneshot(dst).await?, proxied: false }) })
        } else {
            let proxy = proxy.uri().clone();
            Box::pin(async move { Ok(Conn { io: tcp.oneshot(proxy).await?, proxied: true }) })
        }
    }
}

/// A TCP connection to the upstream, or to the proxy that a plain-HTTP request is sent to (so
/// hyper writes the request target in absolute form).
pub(super) struct Conn {
    io: TokioIo<TcpStream>,
    proxied: bool,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl Read for Conn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
