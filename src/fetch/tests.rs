//! The fetcher against real sockets on 127.0.0.1: a canary listener proves refused URLs open no
//! connection, and a local axum server plays the image host in test mode.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::{self, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::error::ErrorKind;

/// A 1×1 transparent PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// The size cap in test mode; every fixture body but the oversized ones stays under it.
const TEST_MAX: usize = 1024;

/// Test mode: plain http and local addresses allowed, a small cap, a short deadline.
fn test_policy() -> FetchPolicy {
    FetchPolicy {
        max_bytes: TEST_MAX,
        timeout: Duration::from_secs(5),
        allow_http: true,
        allow_private: true,
        ..FetchPolicy::default()
    }
}

/// A TCP listener that only counts the connections it accepts.
struct Canary {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl Canary {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        Self { port, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Waits until at least one connection arrived (the listener task may lag the kernel).
    async fn wait_for_connection(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.accepted() == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.accepted()
    }
}

fn png_response(content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], PNG).into_response()
}

fn redirect(status: StatusCode, location: &str) -> Response {
    (status, [(header::LOCATION, location.to_owned())]).into_response()
}

/// The image host: `http://127.0.0.1:<port>` serving the fixtures below.
async fn image_server() -> String {
    let app = Router::new()
        .route("/x.png", get(|| async { png_response("image/png") }))
        .route("/with-params", get(|| async { png_response("Image/PNG; charset=binary") }))
        .route("/untyped", get(|| async { Response::new(Body::from(PNG)) }))
        .route(
            "/octet.pdf",
            get(|| async { ([(header::CONTENT_TYPE, "application/octet-stream")], &b"%PDF-1.7\n..."[..]) }),
        )
        .route("/octet.txt", get(|| async { ([(header::CONTENT_TYPE, "application/octet-stream")], "hello") }))
        .route("/page.html", get(|| async { ([(header::CONTENT_TYPE, "text/html")], "<html>secret</html>") }))
        .route("/big.png", get(|| async { ([(header::CONTENT_TYPE, "image/png")], vec![0u8; TEST_MAX + 1]) }))
        .route(
            "/chunked.png",
            get(|| async {
                let chunks = stream::iter([PNG, &[0u8; 100][..]]).map(|c| Ok::<_, Infallible>(Bytes::from_static(c)));
                ([(header::CONTENT_TYPE, "image/png")], Body::from_stream(chunks))
            }),
        )
        .route(
            "/endless.png",
            get(|| async {
                let chunks = stream::repeat(Bytes::from_static(&[0u8; 256])).map(Ok::<_, Infallible>);
                ([(header::CONTENT_TYPE, "image/png")], Body::from_stream(chunks))
            }),
        )
        .route(
            "/redirect/{n}",
            // A chain of `n` redirects ending at the image.
            get(|Path(n): Path<u32>| async move {
                if n == 0 {
                    png_response("image/png")
                } else {
                    redirect(StatusCode::FOUND, &format!("/redirect/{}", n - 1))
                }
            }),
        )
        .route(
            "/redirect-to",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                redirect(StatusCode::TEMPORARY_REDIRECT, &q["to"])
            }),
        )
        .route("/no-location", get(|| async { StatusCode::FOUND }))
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "not here") }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                png_response("image/png")
            }),
        )
        .route(
            "/slow-body.png",
            get(|| async {
                let first = stream::once(async { Ok::<_, Infallible>(Bytes::from_static(&PNG[..8])) });
                ([(header::CONTENT_TYPE, "image/png")], Body::from_stream(first.chain(stream::pending())))
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

// --- Refusals without any connection ---------------------------------------------------------

#[tokio::test]
async fn default_policy_refuses_local_targets_without_connecting() {
    let canary = Canary::start().await;
    let p = canary.port;
    let fetcher = Fetcher::new(FetchPolicy::default());
    let cases = [
        (format!("https://127.0.0.1:{p}/x.png"), FetchError::ForbiddenAddress),
        (format!("http://127.0.0.1:{p}/x.png"), FetchError::NotHttps),
        (format!("https://169.254.169.254:{p}/latest/meta-data"), FetchError::ForbiddenAddress),
        (format!("https://[::1]:{p}/"), FetchError::ForbiddenAddress),
        (format!("https://[::ffff:127.0.0.1]:{p}/"), FetchError::ForbiddenAddress),
        (format!("https://localhost:{p}/"), FetchError::ForbiddenAddress),
        (format!("https://10.0.0.1:{p}/"), FetchError::ForbiddenAddress),
        (format!("https://user:pw@example.com:{p}/"), FetchError::BadUrl),
        // Other spellings of loopback and friends.
        (format!("https://127.1:{p}/"), FetchError::ForbiddenAddress),
        (format!("https://0x7f.0.0.1:{p}/"), FetchError::ForbiddenAddress),
        (format!("https://2130706433:{p}/"), FetchError::ForbiddenAddress),
        (format!("https://0.0.0.0:{p}/"), FetchError::ForbiddenAddress),
        (format!("https://[::]:{p}/"), FetchError::ForbiddenAddress),
        (format!("https://[::127.0.0.1]:{p}/"), FetchError::ForbiddenAddress),
        (format!("https://[64:ff9b::7f00:1]:{p}/"), FetchError::ForbiddenAddress),
        (format!("https://LocalHost.:{p}/"), FetchError::ForbiddenAddress),
        (format!("https://app.localhost:{p}/"), FetchError::ForbiddenAddress),
        (format!("https://metadata.google.internal:{p}/computeMetadata/v1/"), FetchError::ForbiddenAddress),
        (format!("https://user@example.com:{p}/"), FetchError::BadUrl),
        (format!("ftp://127.0.0.1:{p}/"), FetchError::NotHttps),
        ("file:///etc/passwd".to_owned(), FetchError::NotHttps),
        ("not a url".to_owned(), FetchError::BadUrl),
        ("/relative.png".to_owned(), FetchError::BadUrl),
    ];
    for (url, expected) in cases {
        assert_eq!(fetcher.fetch(&url).await.unwrap_err(), expected, "{url}");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(canary.accepted(), 0);

    // Positive control: the same canary does count a connection that is made.
    let test_mode = Fetcher::new(test_policy());
    assert_eq!(test_mode.fetch(&format!("http://127.0.0.1:{p}/x.png")).await.unwrap_err(), FetchError::Transport);
    assert!(canary.wait_for_connection().await >= 1);
}

#[tokio::test]
async fn resolver_refuses_names_that_resolve_to_local_addresses() {
    let canary = Canary::start().await;
    let p = canary.port;
    // Skip the URL-level checks (which refuse `localhost` by name) to reach the resolver itself.
    let policy = FetchPolicy { allow_http: true, ..FetchPolicy::default() };
    let fetcher = Fetcher::new(policy);
    for url in [format!("http://localhost:{p}/x.png"), format!("https://localhost:{p}/x.png")] {
        let err = fetcher.send(Url::parse(&url).unwrap()).await.unwrap_err();
        assert_eq!(err, FetchError::ForbiddenAddress, "{url}");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(canary.accepted(), 0);

    // Positive control: with the guard off, `localhost` does reach the canary.
    let test_mode = Fetcher::new(test_policy());
    assert_eq!(test_mode.fetch(&format!("http://localhost:{p}/")).await.unwrap_err(), FetchError::Transport);
    assert!(canary.wait_for_connection().await >= 1);
}

#[test]
fn every_redirect_target_is_checked_like_the_first_url() {
    let policy = FetchPolicy::default();
    let current = Url::parse("https://images.example.com/a/b.png").unwrap();
    let cases = [
        ("/c.png", Ok(())),
        ("https://cdn.example.net/c.png", Ok(())),
        ("http://cdn.example.net/c.png", Err(FetchError::NotHttps)),
        ("https://127.0.0.1/", Err(FetchError::ForbiddenAddress)),
        ("//169.254.169.254/latest/meta-data", Err(FetchError::ForbiddenAddress)),
        ("https://[fd00::1]/", Err(FetchError::ForbiddenAddress)),
        ("https://localhost/", Err(FetchError::ForbiddenAddress)),
        ("https://intranet/", Err(FetchError::ForbiddenAddress)),
        ("https://user:pw@cdn.example.net/", Err(FetchError::BadUrl)),
        ("file:///etc/passwd", Err(FetchError::NotHttps)),
    ];
    for (location, expected) in cases {
        let next = current.join(location).unwrap();
        assert_eq!(check_url(&next, &policy), expected, "{location}");
    }
}

#[tokio::test]
async fn redirects_are_rechecked_on_every_hop() {
    let canary = Canary::start().await;
    let p = canary.port;
    let base = image_server().await;
    let fetcher = Fetcher::new(test_policy());
    let cases = [
        (format!("http://user:pw@127.0.0.1:{p}/"), FetchError::BadUrl),
        (format!("ftp://127.0.0.1:{p}/"), FetchError::NotHttps),
        ("file:///etc/passwd".to_owned(), FetchError::NotHttps),
    ];
    for (to, expected) in cases {
        let url = Url::parse_with_params(&format!("{base}/redirect-to"), [("to", &to)]).unwrap();
        assert_eq!(fetcher.fetch(url.as_str()).await.unwrap_err(), expected, "{to}");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(canary.accepted(), 0);
}

// --- Test mode against a local server ---------------------------------------------------------

#[tokio::test]
async fn fetches_an_image_with_its_media_type() {
    let base = image_server().await;
    let fetcher = Fetcher::new(test_policy());
    let fetched = fetcher.fetch(&format!("{base}/x.png")).await.unwrap();
    assert_eq!(fetched.media_type, "image/png");
    assert_eq!(&fetched.data[..], PNG);

    let fetched = fetcher.fetch(&format!("{base}/with-params")).await.unwrap();
    assert_eq!(fetched.media_type, "image/png");

    let fetched = fetcher.fetch(&format!("{base}/chunked.png")).await.unwrap();
    assert_eq!(fetched.data.len(), PNG.len() + 100);
}

#[tokio::test]
async fn sniffs_the_type_when_the_server_does_not_say() {
    let base = image_server().await;
    let fetcher = Fetcher::new(test_policy());
    let fetched = fetcher.fetch(&format!("{base}/untyped")).await.unwrap();
    assert_eq!(fetched.media_type, "image/png");
    let fetched = fetcher.fetch(&format!("{base}/octet.pdf")).await.unwrap();
    assert_eq!(fetched.media_type, "application/pdf");
    let err = fetcher.fetch(&format!("{base}/octet.txt")).await.unwrap_err();
    assert_eq!(err, FetchError::NotAnImage("none".into()));
}

#[tokio::test]
async fn html_is_not_an_image_and_its_body_is_not_echoed() {
    let base = image_server().await;
    let err = Fetcher::new(test_policy()).fetch(&format!("{base}/page.html")).await.unwrap_err();
    assert_eq!(err, FetchError::NotAnImage("text/html".into()));
    assert!(!err.to_string().contains("secret"));
}

#[tokio::test]
async fn bodies_over_the_cap_are_too_large_with_and_without_content_length() {
    let base = image_server().await;
    let fetcher = Fetcher::new(test_policy());
    assert_eq!(fetcher.fetch(&format!("{base}/big.png")).await.unwrap_err(), FetchError::TooLarge);
    // Chunked and endless: only stopping at the cap ends it before the deadline.
    let started = Instant::now();
    assert_eq!(fetcher.fetch(&format!("{base}/endless.png")).await.unwrap_err(), FetchError::TooLarge);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_oversized_content_length_is_refused_before_reading_the_body() {
    // Headers promise 1 GB and then nothing comes: only an early refusal beats the deadline.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 1024];
        let _ = socket.read(&mut request).await.unwrap();
        let head = "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: 1000000000\r\n\r\n";
        socket.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let fetcher = Fetcher::new(FetchPolicy { timeout: Duration::from_secs(3), ..test_policy() });
    let started = Instant::now();
    assert_eq!(fetcher.fetch(&format!("http://{addr}/big.png")).await.unwrap_err(), FetchError::TooLarge);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn follows_redirects_up_to_the_limit() {
    let base = image_server().await;
    let fetcher = Fetcher::new(test_policy());
    let fetched = fetcher.fetch(&format!("{base}/redirect/3")).await.unwrap();
    assert_eq!(fetched.media_type, "image/png");
    let err = fetcher.fetch(&format!("{base}/redirect/4")).await.unwrap_err();
    assert_eq!(err, FetchError::TooManyRedirects);

    let none = Fetcher::new(FetchPolicy { max_redirects: 0, ..test_policy() });
    assert_eq!(none.fetch(&format!("{base}/redirect/1")).await.unwrap_err(), FetchError::TooManyRedirects);

    let to = format!("{base}/x.png");
    let absolute = Url::parse_with_params(&format!("{base}/redirect-to"), [("to", &to)]).unwrap();
    assert_eq!(fetcher.fetch(absolute.as_str()).await.unwrap().media_type, "image/png");
}

#[tokio::test]
async fn upstream_statuses_are_reported() {
    let base = image_server().await;
    let fetcher = Fetcher::new(test_policy());
    assert_eq!(fetcher.fetch(&format!("{base}/missing")).await.unwrap_err(), FetchError::Status(404));
    assert_eq!(fetcher.fetch(&format!("{base}/no-location")).await.unwrap_err(), FetchError::Status(302));
}

#[tokio::test]
async fn a_slow_server_hits_the_deadline_before_headers_and_during_the_body() {
    let base = image_server().await;
    let fetcher = Fetcher::new(FetchPolicy { timeout: Duration::from_millis(300), ..test_policy() });
    for path in ["/slow", "/slow-body.png"] {
        let started = Instant::now();
        assert_eq!(fetcher.fetch(&format!("{base}{path}")).await.unwrap_err(), FetchError::Timeout, "{path}");
        assert!(started.elapsed() < Duration::from_secs(2), "{path}");
    }
}

// --- Pure parts -------------------------------------------------------------------------------

#[test]
fn forbidden_addresses() {
    let forbidden = [
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "10.255.255.255",
        "100.64.0.1",
        "100.127.255.255",
        "127.0.0.1",
        "127.255.255.254",
        "169.254.169.254",
        "169.254.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.88.99.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "::192.168.0.1",
        "::ffff:0:127.0.0.1",
        "64:ff9b::127.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::1",
        "100::1",
        "2001::1",
        "2001:db8::1",
        "2002:7f00:1::1",
        "2002:a9fe:a9fe::",
        "3fff::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "ff02::1",
        "ff0e::1",
    ];
    let allowed = [
        "8.8.8.8",
        "1.1.1.1",
        "9.255.255.255",
        "11.0.0.1",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.1",
        "169.253.255.255",
        "169.255.0.1",
        "172.15.255.255",
        "172.32.0.1",
        "192.0.1.1",
        "192.167.255.255",
        "192.169.0.1",
        "198.17.255.255",
        "198.20.0.1",
        "223.255.255.255",
        "2001:4860:4860::8888",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "::8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "fbff::1",
        "fe7f::1",
    ];
    for ip in forbidden {
        assert!(is_forbidden(ip.parse::<IpAddr>().unwrap()), "{ip} should be forbidden");
    }
    for ip in allowed {
        assert!(!is_forbidden(ip.parse::<IpAddr>().unwrap()), "{ip} should be allowed");
    }
}

#[test]
fn forbidden_names() {
    for host in [
        "localhost",
        "localhost.",
        "LOCALHOST",
        "a.b.localhost",
        "metadata.google.internal",
        "metadata",
        "printer.local",
        "router.home.arpa",
        "svc.cluster.internal",
        "redis",
    ] {
        assert!(is_forbidden_name(host), "{host} should be refused");
    }
    for host in ["example.com", "images.example.com.", "localhost.example.com", "cdn.internal.example.net"] {
        assert!(!is_forbidden_name(host), "{host} should be allowed");
    }
}

#[test]
fn accepted_media_types() {
    for t in ["image/png", "image/jpeg", "image/webp", "image/svg+xml", "image/vnd.microsoft.icon", "application/pdf"] {
        assert!(is_accepted_type(t), "{t}");
    }
    for t in ["text/html", "image/", "image/png\"x", "application/json", "imagex/png", "application/pdfx"] {
        assert!(!is_accepted_type(t), "{t}");
    }
    assert_eq!(media_type_of(" Image/JPEG ; q=1"), "image/jpeg");
}

#[test]
fn sniffs_magic_bytes() {
    assert_eq!(sniff(PNG), Some("image/png"));
    assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), Some("image/jpeg"));
    assert_eq!(sniff(b"GIF89a\x01\x00"), Some("image/gif"));
    assert_eq!(sniff(b"GIF87a\x01\x00"), Some("image/gif"));
    assert_eq!(sniff(b"RIFF\x24\x00\x00\x00WEBPVP8 "), Some("image/webp"));
    assert_eq!(sniff(b"RIFF\x24\x00\x00\x00WAVEfmt "), None);
    assert_eq!(sniff(b"%PDF-1.4"), Some("application/pdf"));
    assert_eq!(sniff(b"<html>"), None);
    assert_eq!(sniff(b""), None);
}

#[test]
fn errors_become_400_invalid_request_with_the_reason() {
    let err = ApiError::from(FetchError::ForbiddenAddress);
    assert_eq!(err.kind, ErrorKind::BadRequest);
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    assert_eq!(err.body()["error"]["type"], "invalid_request_error");
    assert_eq!(err.message, "image URL refused: it resolves to a private or local address");

    for refused in [
        FetchError::NotHttps,
        FetchError::BadUrl,
        FetchError::TooManyRedirects,
        FetchError::TooLarge,
        FetchError::NotAnImage("text/html".into()),
    ] {
        let err = ApiError::from(refused);
        assert_eq!(err.kind, ErrorKind::BadRequest);
        assert!(err.message.starts_with("image URL refused: "), "{}", err.message);
    }
    for failed in [FetchError::Timeout, FetchError::Transport, FetchError::Status(503)] {
        let err = ApiError::from(failed);
        assert_eq!(err.kind, ErrorKind::BadRequest);
        assert!(err.message.starts_with("image URL could not be fetched: "), "{}", err.message);
    }
    assert_eq!(ApiError::from(FetchError::Status(503)).message, "image URL could not be fetched: it answered HTTP 503");
}
