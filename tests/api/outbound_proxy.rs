//! Upstream calls through an outbound HTTP proxy (`HTTP_PROXY` and friends, here set in the
//! config directly): a real forwarding proxy on loopback between the gateway and the mock.

use std::sync::{Arc, Mutex};

use arouter::mock::MockOptions;
use arouter::providers::Proxies;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{Harness, chat};

/// A minimal forward proxy for plain HTTP: takes a request in absolute form, records its
/// request line and `Proxy-Authorization`, sends it on in origin form (with `connection:
/// close`) and copies the answer back.
async fn forward_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(relay(client, log.clone()));
        }
    });
    (addr, seen)
}

async fn relay(mut client: TcpStream, log: Arc<Mutex<Vec<String>>>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    let (head_end, length) = loop {
        let n = client.read(&mut buf).await.unwrap();
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&request);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .map_or(0, |v| v.parse::<usize>().unwrap());
            break (end, length);
        }
    };
    while request.len() < head_end + 4 + length {
        let n = client.read(&mut buf).await.unwrap();
        request.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8(request[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap().to_owned();
    let auth = head.lines().find(|l| l.to_ascii_lowercase().starts_with("proxy-authorization:")).map(str::to_owned);
    log.lock().unwrap().push(format!("{request_line} | {}", auth.unwrap_or_default()));

    let mut parts = request_line.splitn(3, ' ');
    let (method, target) = (parts.next().unwrap(), parts.next().unwrap());
    let rest = target.strip_prefix("http://").expect("absolute form");
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut upstream = TcpStream::connect(authority).await.unwrap();
    let mut out = format!("{method} {path} HTTP/1.1\r\n");
    for line in lines {
        let lower = line.to_ascii_lowercase();
        if !lower.starts_with("proxy-authorization:") && !lower.starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("connection: close\r\n\r\n");
    upstream.write_all(out.as_bytes()).await.unwrap();
    upstream.write_all(&request[head_end + 4..]).await.unwrap();
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer).await.unwrap();
    client.write_all(&answer).await.unwrap();
}

#[tokio::test]
async fn upstream_calls_go_through_the_configured_proxy() {
    let (proxy, seen) = forward_proxy().await;
    let h = Harness::with(MockOptions::default(), |config| {
        config.proxies = Proxies::new(&format!("http://gw:s3cret@{proxy}"), "", "");
    })
    .await;
    let key = h.api_key().await;

    let response = h.post("/v1/chat/completions", &key).json(&chat("openai/gpt-5.4-mini")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["choices"][0]["message"]["content"].as_str().unwrap().contains("mock"), "{body}");

    let seen = seen.lock().unwrap().clone();
    let mock_base = h.mock.openai_base_url();
    assert_eq!(seen.len(), 1, "{seen:?}");
    // base64("gw:s3cret")
    assert_eq!(
        seen[0],
        format!("POST {mock_base}/chat/completions HTTP/1.1 | proxy-authorization: Basic Z3c6czNjcmV0")
    );
    let received = h.mock.requests();
    assert_eq!(received.len(), 1, "the mock got the request the proxy passed on");
    assert_eq!(received[0].json()["model"], "gpt-5.4-mini");
    assert!(received[0].headers.get("proxy-authorization").is_none());
    h.stop().await;
}

#[tokio::test]
async fn no_proxy_hosts_bypass_the_proxy() {
    let (proxy, seen) = forward_proxy().await;
    let h = Harness::with(MockOptions::default(), |config| {
        config.proxies = Proxies::new(&format!("http://{proxy}"), "", "127.0.0.1");
    })
    .await;
    let key = h.api_key().await;
    let response = h.post("/v1/chat/completions", &key).json(&chat("openai/gpt-5.4-mini")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(h.upstream_calls(), 1);
    h.stop().await;
}
