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

impl Proxies {
    /// No proxy: every upstream is reached directly.
    pub fn none() -> Self {
        Self(None)
    }

    /// The proxies the environment names (`ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`,
    /// upper or lower case). A proxy URL that is not `http://` is refused when a connection
    /// would use it, with a warning here.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// `from_env` with the variables read through `var`.
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let first = |names: [&str; 2]| names.iter().find_map(|name| var(name).filter(|v| !v.trim().is_empty()));
        let all = first(["ALL_PROXY", "all_proxy"]).unwrap_or_default();
        let https = first(["HTTPS_PROXY", "https_proxy"]).unwrap_or_default();
        // Under CGI a client's `Proxy:` request header arrives as `HTTP_PROXY` ("httpoxy"), so
        // there it is not trusted, as curl does.
        let cgi = var("REQUEST_METHOD").is_some();
        let http = if cgi { None } else { first(["HTTP_PROXY", "http_proxy"]) }.unwrap_or_default();
        let no = first(["NO_PROXY", "no_proxy"]).unwrap_or_default();
        if all.is_empty() && https.is_empty() && http.is_empty() {
            return Self(None);
        }
        for value in [&all, &https, &http] {
            if value.contains("://") && !value.trim_start().to_ascii_lowercase().starts_with("http://") {
                tracing::warn!("only http:// proxies are supported; upstream connections through this one will fail");
            }
        }
        Self(Some(Arc::new(Matcher::builder().all(all).http(http).https(https).no(no).build())))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Proxies {
        Proxies::from_vars(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    fn proxy_for(proxies: &Proxies, url: &str) -> Option<String> {
        proxies.intercept(&url.parse().unwrap()).map(|i| i.uri().to_string())
    }

    #[test]
    fn the_environment_is_read_as_curl_reads_it() {
        let none = from(&[("NO_PROXY", "x"), ("HTTPS_PROXY", " ")]);
        assert!(none.0.is_none(), "nothing to intercept: no matcher on the request path");

        let https_only = from(&[("https_proxy", "http://p:3128")]);
        assert_eq!(proxy_for(&https_only, "https://api.openai.com/v1").as_deref(), Some("http://p:3128/"));
        assert_eq!(proxy_for(&https_only, "http://127.0.0.1:11434/v1"), None);

        let both = from(&[
            ("ALL_PROXY", "http://all:1"),
            ("HTTP_PROXY", "http://plain:2"),
            ("NO_PROXY", "localhost,.internal"),
        ]);
        assert_eq!(proxy_for(&both, "https://api.anthropic.com").as_deref(), Some("http://all:1/"));
        assert_eq!(proxy_for(&both, "http://ollama.example:11434").as_deref(), Some("http://plain:2/"));
        assert_eq!(proxy_for(&both, "http://localhost:11434"), None);
        assert_eq!(proxy_for(&both, "https://llm.internal"), None);

        let upper_first = from(&[("HTTPS_PROXY", "http://upper:1"), ("https_proxy", "http://lower:2")]);
        assert_eq!(proxy_for(&upper_first, "https://a.example").as_deref(), Some("http://upper:1/"));
    }

    #[test]
    fn under_cgi_http_proxy_is_not_trusted() {
        let cgi = from(&[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:80")]);
        assert!(cgi.0.is_none());
        let cgi_https =
            from(&[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:80"), ("HTTPS_PROXY", "http://p:1")]);
        assert_eq!(proxy_for(&cgi_https, "http://a.example"), None);
        assert_eq!(proxy_for(&cgi_https, "https://a.example").as_deref(), Some("http://p:1/"));
    }
}
