//! The HTTP client every upstream call goes through: hyper's pooled client (HTTP/1.1, and
//! HTTP/2 where TLS negotiates it) over rustls with the webpki roots, with `HTTP_PROXY`,
//! `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` honoured.
//!
//! It is hyper-util's client without reqwest's layers on top: the gateway sets every header
//! itself, never follows a redirect and retries by its own rules (`routing::retry`), and
//! reqwest's redirect, retry and URL layers cost about 30,000 instructions per request (15 % of
//! a same-format request under callgrind), most of it parsing the URL twice more.

mod proxy;

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::header::{ACCEPT, HeaderValue, PROXY_AUTHORIZATION, USER_AGENT};
use axum::http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tower::Service;

pub use proxy::Proxies;

type BoxError = Box<dyn StdError + Send + Sync>;

/// How long an idle pooled connection to an upstream is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);
/// Idle time before TCP keep-alive probes, and the time between them.
const TCP_KEEPALIVE: Duration = Duration::from_secs(15);
/// How long sent data may stay unacknowledged before the connection is given up.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// The shared, pooled client. Cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: Client<TimedConnect<hyper_rustls::HttpsConnector<proxy::Connector>>, Full<Bytes>>,
    proxies: Proxies,
    user_agent: HeaderValue,
}

impl HttpClient {
    /// A client whose connections open (TCP, proxy tunnel and TLS) within `connect_timeout`,
    /// with `TCP_NODELAY` (a request is written in one go; Nagle would only delay its last
    /// segment), going through `proxies`.
    pub fn new(connect_timeout: Duration, proxies: Proxies) -> Self {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        // A peer that vanished (no FIN: a dropped NAT entry, a dead host) is noticed on pooled
        // connections and under long streams, with the values reqwest used.
        tcp.set_keepalive(Some(TCP_KEEPALIVE));
        tcp.set_keepalive_interval(Some(TCP_KEEPALIVE));
        tcp.set_keepalive_retries(Some(3));
        #[cfg(target_os = "linux")]
        tcp.set_tcp_user_timeout(Some(TCP_USER_TIMEOUT));
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(proxy::Connector::new(tcp, proxies.clone()));
        let connector = TimedConnect { inner: tls, timeout: connect_timeout };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        let user_agent = HeaderValue::from_static(concat!("arouter/", env!("CARGO_PKG_VERSION")));
        Self { client, proxies, user_agent }
    }

    /// Sends one request. `user-agent` and `accept` are filled in when `headers` has none; a
    /// plain-HTTP request through a proxy that wants credentials gets `proxy-authorization`.
    pub async fn send(
        &self,
        method: Method,
        uri: Uri,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, TransportError> {
        headers.entry(USER_AGENT).or_insert_with(|| self.user_agent.clone());
        headers.entry(ACCEPT).or_insert(HeaderValue::from_static("*/*"));
        if let Some(auth) = self.proxies.plain_http_auth(&uri) {
            headers.entry(PROXY_AUTHORIZATION).or_insert(auth);
        }
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        match self.client.request(request).await {
            Ok(response) => Ok(UpstreamResponse(response)),
            Err(err) => Err(TransportError::new(err)),
        }
    }
}

/// The `Host` header value for a plain `http://` URL: `host`, with `:port` unless it is 80,
/// as hyper-util writes it. Made once per endpoint and set on its requests: hyper-util would
/// otherwise format it for every request (2,300 instructions, 1.6 % of a request). Only for
/// plain HTTP, where the connection is always HTTP/1; over TLS, ALPN may pick HTTP/2, which
/// carries the host as `:authority` and must not get a `Host` header as well (hyper-util adds
/// one only once it knows the connection is HTTP/1).
pub fn plain_http_host(uri: &Uri) -> Option<HeaderValue> {
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let host = uri.host()?;
    let value = match uri.port_u16() {
        Some(port) if port != 80 => HeaderValue::from_str(&format!("{host}:{port}")),
        _ => HeaderValue::from_str(host),
    };
    value.ok()
}

/// A connector whose whole connect (TCP, the proxy's `CONNECT`, the TLS handshake) must finish
/// within `timeout`; running late is an `io::ErrorKind::TimedOut` cause, so
/// `TransportError::is_timeout` sees it.
#[derive(Clone, Debug)]
struct TimedConnect<C> {
    inner: C,
    timeout: Duration,
}

impl<C> Service<Uri> for TimedConnect<C>
where
    C: Service<Uri> + Send,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let connecting = self.inner.call(dst);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(connected) => connected.map_err(Into::into),
                Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out").into()),
            }
        })
    }
}

/// An upstream's answer whose headers have arrived; the body is read on demand. Dropping it
/// closes the upstream request (the connection is not reused if the body was not finished).
#[derive(Debug)]
pub struct UpstreamResponse(Response<Incoming>);

impl UpstreamResponse {
    /// The upstream's status as it answered (Gemini's are normalised later, from the body).
    pub fn status(&self) -> StatusCode {
        self.0.status()
    }

    /// The upstream's response headers, as they came: callers pick what they use (`Retry-After`,
    /// the content type) and what the native and raw-proxy surfaces pass back (an allow-list).
    pub fn headers(&self) -> &HeaderMap {
        self.0.headers()
    }

    /// The next piece of the body (`None` at its end); trailers are skipped.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, TransportError> {
        while let Some(frame) = self.0.body_mut().frame().await {
            if let Ok(data) = frame.map_err(TransportError::new)?.into_data() {
                return Ok(Some(data));
            }
        }
        Ok(None)
    }

    /// The whole body (one piece of it is returned without a copy).
    pub async fn bytes(self) -> Result<Bytes, TransportError> {
        Ok(self.0.into_body().collect().await.map_err(TransportError::new)?.to_bytes())
    }

    /// The body as a stream of its pieces, as they arrive.
    pub fn bytes_stream(self) -> impl Stream<Item = Result<Bytes, TransportError>> + Send + 'static {
        self.0.into_body().into_data_stream().map_err(TransportError::new)
    }
}

/// The upstream could not be reached, or the connection broke. It carries no URL: upstream
/// hosts never reach a client or a log line.
pub struct TransportError(Box<dyn StdError + Send + Sync>);

impl TransportError {
    fn new(err: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self(err.into())
    }

    /// The connection (or the proxy tunnel) was not made in time.
    pub fn is_timeout(&self) -> bool {
        let mut source: Option<&(dyn StdError + 'static)> = Some(&*self.0);
        while let Some(err) = source {
            if err.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut) {
                return true;
            }
            source = err.source();
        }
        false
    }
}

/// The error and its causes, joined: hyper's own message ("client error (Connect)") says little.
impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransportError({self})")
    }
}

impl StdError for TransportError {}

#[cfg(test)]
mod tests;
