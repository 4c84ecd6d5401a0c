//! The client against real sockets on loopback: a one-shot HTTP server that records what it
//! was sent, standing in for an upstream or for a proxy.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::{HttpClient, Proxies, TransportError};

/// Accepts one connection, reads one request head (and a body of `content-length` bytes),
/// answers `reply` and reports the request it read.
async fn one_shot(reply: &'static str) -> (String, oneshot::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                    .map_or(0, |v| v.parse::<usize>().unwrap());
                if seen.len() >= end + 4 + length || n == 0 {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        socket.write_all(reply.as_bytes()).await.unwrap();
        let _ = tx.send(String::from_utf8_lossy(&seen).into_owned());
    });
    (addr, rx)
}

const OK: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"ok\":true}";

fn client(proxies: Proxies) -> HttpClient {
    HttpClient::new(Duration::from_secs(5), proxies)
}

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers
}

#[tokio::test]
async fn a_direct_request_carries_its_body_and_the_default_headers() {
    let (addr, seen) = one_shot(OK).await;
    let uri: Uri = format!("http://{addr}/v1/chat/completions").parse().unwrap();
    let response = client(Proxies::none())
        .send(Method::POST, uri, json_headers(), Bytes::from_static(b"{\"model\":\"m\"}"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), Bytes::from_static(b"{\"ok\":true}"));

    let seen = seen.await.unwrap().to_ascii_lowercase();
    assert!(seen.starts_with("post /v1/chat/completions http/1.1\r\n"), "{seen}");
    assert!(seen.contains(&format!("host: {addr}\r\n")), "{seen}");
    assert!(seen.contains(concat!("user-agent: arouter/", env!("CARGO_PKG_VERSION"), "\r\n")), "{seen}");
    assert!(seen.contains("accept: */*\r\n"), "{seen}");
    assert!(seen.contains("content-length: 13\r\n"), "{seen}");
    assert!(seen.ends_with("\r\n\r\n{\"model\":\"m\"}"), "{seen}");
}

#[tokio::test]
async fn headers_the_caller_set_are_not_replaced_by_defaults() {
    let (addr, seen) = one_shot(OK).await;
    let mut headers = json_headers();
    headers.insert("user-agent", HeaderValue::from_static("my-app/2"));
    headers.insert("accept", HeaderValue::from_static("text/event-stream"));
    let uri: Uri = format!("http://{addr}/x").parse().unwrap();
    client(Proxies::none()).send(Method::POST, uri, headers, Bytes::new()).await.unwrap();
    let seen = seen.await.unwrap().to_ascii_lowercase();
    assert!(seen.contains("user-agent: my-app/2\r\n") && !seen.contains("arouter/"), "{seen}");
    assert!(seen.contains("accept: text/event-stream\r\n") && !seen.contains("*/*"), "{seen}");
}

#[tokio::test]
async fn a_plain_http_upstream_is_reached_through_the_proxy_in_absolute_form() {
    let (proxy, seen) = one_shot(OK).await;
    let proxies = Proxies::new(&format!("http://user:pass@{proxy}"), "", "");
    // The upstream's name is never resolved: the proxy is the only address connected to.
    let uri: Uri = "http://upstream.invalid:8000/v1/chat/completions".parse().unwrap();
    let response = client(proxies).send(Method::POST, uri, json_headers(), Bytes::from_static(b"{}")).await.unwrap();
    assert_eq!(response.bytes().await.unwrap(), Bytes::from_static(b"{\"ok\":true}"));

    let seen = seen.await.unwrap();
    assert!(seen.starts_with("POST http://upstream.invalid:8000/v1/chat/completions HTTP/1.1\r\n"), "{seen}");
    // base64("user:pass")
    assert!(seen.to_ascii_lowercase().contains("proxy-authorization: basic dxnlcjpwyxnz\r\n"), "{seen}");
}

#[tokio::test]
async fn an_https_upstream_is_tunnelled_with_connect() {
    let (proxy, seen) = one_shot("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n").await;
    let proxies = Proxies::new("", &format!("http://user:pass@{proxy}"), "");
    let uri: Uri = "https://api.upstream.invalid/v1/messages".parse().unwrap();
    let err = client(proxies).send(Method::POST, uri, json_headers(), Bytes::from_static(b"{}")).await.unwrap_err();
    assert!(!err.is_timeout());

    let seen = seen.await.unwrap();
    assert!(seen.starts_with("CONNECT api.upstream.invalid:443 HTTP/1.1\r\n"), "{seen}");
    assert!(seen.to_ascii_lowercase().contains("proxy-authorization: basic dxnlcjpwyxnz\r\n"), "{seen}");
    assert!(!seen.contains("/v1/messages"), "nothing but the CONNECT reaches a proxy that refused it: {seen}");
}

#[tokio::test]
async fn no_proxy_hosts_are_reached_directly() {
    let (upstream, seen) = one_shot(OK).await;
    let proxies = Proxies::new("http://127.0.0.1:9", "http://127.0.0.1:9", "127.0.0.1,localhost");
    let uri: Uri = format!("http://{upstream}/v1/embeddings").parse().unwrap();
    let response = client(proxies).send(Method::POST, uri, json_headers(), Bytes::new()).await.unwrap();
    assert_eq!(response.status(), 200);
    let seen = seen.await.unwrap();
    assert!(seen.starts_with("POST /v1/embeddings HTTP/1.1\r\n"), "origin form, no proxy: {seen}");
    assert!(!seen.to_ascii_lowercase().contains("proxy-authorization"), "{seen}");
}

#[tokio::test]
async fn a_proxy_that_is_not_http_is_refused_with_a_clear_error() {
    let proxies = Proxies::new("socks5://127.0.0.1:9", "", "");
    let uri: Uri = "http://upstream.invalid/x".parse().unwrap();
    let err = client(proxies).send(Method::GET, uri, HeaderMap::new(), Bytes::new()).await.unwrap_err();
    assert!(err.to_string().contains("only http:// proxies are supported"), "{err}");
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error_that_names_no_address() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let uri: Uri = format!("http://{addr}/v1/chat/completions").parse().unwrap();
    let err = client(Proxies::none()).send(Method::POST, uri, HeaderMap::new(), Bytes::new()).await.unwrap_err();
    let text = err.to_string();
    assert!(!err.is_timeout(), "{text}");
    assert!(text.contains("onnect"), "says what failed: {text}");
    assert!(!text.contains("127.0.0.1") && !text.contains(&addr.port().to_string()), "no address: {text}");
}

#[tokio::test]
async fn a_connect_that_does_not_finish_in_time_is_a_timeout() {
    // A proxy that takes the connection and never answers the CONNECT: only the connect
    // timeout (which covers the tunnel and the TLS handshake, not just TCP) ends the wait.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = silent.local_addr().unwrap();
    let held = tokio::spawn(async move { silent.accept().await.map(|(socket, _)| socket) });
    let client = HttpClient::new(Duration::from_millis(200), Proxies::new("", &format!("http://{proxy}"), ""));
    let uri: Uri = "https://api.upstream.invalid/v1/messages".parse().unwrap();
    let started = std::time::Instant::now();
    let err = client.send(Method::POST, uri, HeaderMap::new(), Bytes::new()).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(held.await.unwrap().is_ok(), "the proxy was connected to");
}

#[test]
fn a_timed_out_cause_anywhere_in_the_chain_is_a_timeout() {
    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    let timed_out = TransportError::new(Outer(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")));
    assert!(timed_out.is_timeout());
    assert_eq!(timed_out.to_string(), "client error (Connect): connect timed out");
    let refused = TransportError::new(Outer(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)));
    assert!(!refused.is_timeout());
}

#[tokio::test]
async fn a_body_is_read_piece_by_piece_and_as_a_stream() {
    use futures_util::StreamExt;
    const CHUNKED: &str = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    let (addr, _seen) = one_shot(CHUNKED).await;
    let uri: Uri = format!("http://{addr}/s").parse().unwrap();
    let mut response = client(Proxies::none()).send(Method::GET, uri, HeaderMap::new(), Bytes::new()).await.unwrap();
    let mut body = Vec::new();
    while let Some(piece) = response.chunk().await.unwrap() {
        body.extend_from_slice(&piece);
    }
    assert_eq!(body, b"hello world");

    let (addr, _seen) = one_shot(CHUNKED).await;
    let uri: Uri = format!("http://{addr}/s").parse().unwrap();
    let response = client(Proxies::none()).send(Method::GET, uri, HeaderMap::new(), Bytes::new()).await.unwrap();
    let pieces: Vec<Bytes> = response.bytes_stream().map(Result::unwrap).collect().await;
    assert_eq!(pieces.concat(), b"hello world");
}

/// The `tr` (timer kind) column of `/proc/net/tcp` for the socket bound to `local`.
#[cfg(target_os = "linux")]
fn tcp_timer_kind(local: std::net::SocketAddr) -> Option<u32> {
    let std::net::IpAddr::V4(ip) = local.ip() else { return None };
    let wanted = format!("{:08X}:{:04X}", u32::from_le_bytes(ip.octets()), local.port());
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let line = table.lines().find(|l| l.split_whitespace().nth(1) == Some(wanted.as_str()))?;
    let timer = line.split_whitespace().nth(5)?; // "tr:tm->when"
    u32::from_str_radix(timer.split(':').next()?, 16).ok()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn pooled_connections_are_watched_by_tcp_keepalive() {
    // A server that answers one request and keeps the connection open, so it goes back to the
    // client's pool idle; the kernel then runs the keep-alive timer (`tr` 2) on it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (peer_tx, peer_rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, peer) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf).await.unwrap();
        socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await.unwrap();
        let _ = peer_tx.send(peer);
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(socket);
    });
    let http = client(Proxies::none());
    let uri: Uri = format!("http://{addr}/").parse().unwrap();
    let response = http.send(Method::GET, uri, HeaderMap::new(), Bytes::new()).await.unwrap();
    assert_eq!(response.bytes().await.unwrap(), Bytes::from_static(b"ok"));
    let client_end = peer_rx.await.unwrap();
    let mut kind = None;
    for _ in 0..50 {
        kind = tcp_timer_kind(client_end);
        if kind == Some(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(kind, Some(2), "keep-alive timer on the idle pooled connection {client_end}");
}

#[test]
fn plain_http_hosts_are_written_as_hyper_util_writes_them() {
    let host = |url: &str| super::plain_http_host(&url.parse::<Uri>().unwrap());
    assert_eq!(host("http://127.0.0.1:9090/v1/chat/completions").unwrap(), "127.0.0.1:9090");
    assert_eq!(host("http://llm.internal/v1/chat/completions").unwrap(), "llm.internal");
    assert_eq!(host("http://llm.internal:80/v1").unwrap(), "llm.internal", "the default port is left out");
    assert_eq!(host("http://[::1]:8000/v1").unwrap(), "[::1]:8000");
    assert_eq!(host("https://api.openai.com/v1/chat/completions"), None, "TLS may negotiate HTTP/2");
    assert_eq!(host("http://llm.internal:443/v1").unwrap(), "llm.internal:443");
}
