//! Fetching client-supplied image URLs without opening an SSRF hole.
//!
//! Gemini only takes images as inline bytes (or its own file URIs), so an `http(s)` image URL
//! sent for a Gemini model must be fetched by the gateway. Anyone holding an API key chooses that
//! URL, so every fetch is treated as hostile:
//!
//! * https only (unless the policy allows http), no credentials in the URL;
//! * the host is refused by name (`localhost`, `*.internal`, ...) and literal IPs are checked
//!   directly;
//! * names are resolved by our own [`reqwest::dns::Resolve`], which refuses a name if *any* of its
//!   addresses is forbidden ([`is_forbidden`]), so the address checked is the address connected
//!   to (no DNS-rebinding window between check and connect);
//! * redirects are followed by hand, and every hop is checked again like the first URL;
//! * the body is capped (by `Content-Length` and while streaming), must be an image or a PDF,
//!   and one deadline covers DNS, connects, every hop and the body.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};

use crate::error::ApiError;

#[cfg(test)]
mod tests;

/// What a [`Fetcher`] may do. The defaults are the production policy.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Largest body accepted (default 10 MiB, the same cap as request bodies).
    pub max_bytes: usize,
    /// One deadline for the whole fetch: DNS, connects, every redirect and the body (default 10 s).
    pub timeout: Duration,
    /// Redirects followed before giving up (default 3).
    pub max_redirects: usize,
    /// Accept plain `http` URLs (default false: https only).
    pub allow_http: bool,
    /// Skip the address and host-name checks. Only for tests against local servers.
    pub allow_private: bool,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            timeout: Duration::from_secs(10),
            max_redirects: 3,
            allow_http: false,
            allow_private: false,
        }
    }
}

/// A fetched image or PDF.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// `image/<subtype>` or `application/pdf`, lowercase, without parameters.
    pub media_type: String,
    pub data: Bytes,
}

/// Why a URL was refused or could not be fetched. Messages describe the URL, never the response
/// body, and are what the client sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("image URL refused: only https URLs are accepted")]
    NotHttps,
    #[error("image URL refused: it is not a valid absolute URL without credentials")]
    BadUrl,
    #[error("image URL refused: it resolves to a private or local address")]
    ForbiddenAddress,
    #[error("image URL refused: it redirects too many times")]
    TooManyRedirects,
    #[error("image URL refused: the response is larger than the size limit")]
    TooLarge,
    #[error("image URL refused: the response is not an image or PDF (content type: {0})")]
    NotAnImage(String),
    #[error("image URL could not be fetched: it did not answer in time")]
    Timeout,
    #[error("image URL could not be fetched: it answered HTTP {0}")]
    Status(u16),
    #[error("image URL could not be fetched: the connection failed")]
    Transport,
}

impl From<FetchError> for ApiError {
    /// Always 400: the URL is the client's input, whether we refused it or its server failed.
    fn from(err: FetchError) -> Self {
        ApiError::bad_request(err.to_string())
    }
}

/// Fetches image URLs under a [`FetchPolicy`]. Cheap to clone; clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// Its own client, not the providers' one: redirects off, proxies off, guarded resolver.
    http: reqwest::Client,
    policy: FetchPolicy,
}

impl Fetcher {
    /// Builds the guarded client. Clone a `Fetcher` rather than building one per request: each
    /// build is a new connection pool.
    pub fn new(policy: FetchPolicy) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the target itself, out of reach of our resolver.
            .no_proxy()
            .https_only(!policy.allow_http)
            .dns_resolver(Arc::new(GuardedResolver { allow_private: policy.allow_private }))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("arouter/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("TLS backend initialises");
        Self { http, policy }
    }

    /// Fetches `url`, following up to `max_redirects` redirects, each checked like `url` itself.
    pub async fn fetch(&self, url: &str) -> Result<Fetched, FetchError> {
        tokio::time::timeout(self.policy.timeout, self.fetch_within_deadline(url))
            .await
            .unwrap_or(Err(FetchError::Timeout))
    }

    async fn fetch_within_deadline(&self, url: &str) -> Result<Fetched, FetchError> {
        let mut url = Url::parse(url).map_err(|_| FetchError::BadUrl)?;
        let mut redirects = 0;
        loop {
            check_url(&url, &self.policy)?;
            let response = self.send(url.clone()).await?;
            let status = response.status();
            if is_followed_redirect(status) {
                if redirects == self.policy.max_redirects {
                    return Err(FetchError::TooManyRedirects);
                }
                redirects += 1;
                let location = response.headers().get(LOCATION).ok_or(FetchError::Status(status.as_u16()))?;
                let location = location.to_str().map_err(|_| FetchError::BadUrl)?;
                url = url.join(location).map_err(|_| FetchError::BadUrl)?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            return read_image(response, self.policy.max_bytes).await;
        }
    }

    /// One GET, no checks of its own beyond the resolver's; callers check the URL first.
    async fn send(&self, url: Url) -> Result<reqwest::Response, FetchError> {
        self.http.get(url).header(ACCEPT, "image/*, application/pdf;q=0.9").send().await.map_err(transport_error)
    }
}

fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Scheme, credentials and host of one hop. Literal IPs are checked here (reqwest connects to
/// them without asking the resolver); names are checked here by name and by the resolver by
/// address.
fn check_url(url: &Url, policy: &FetchPolicy) -> Result<(), FetchError> {
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        _ => return Err(FetchError::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::BadUrl);
    }
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or(FetchError::BadUrl)?;
    if policy.allow_private {
        return Ok(());
    }
    // The URL parser has already turned every IPv4 spelling (`0x7f.1`, `2130706433`) into
    // dotted decimal and lowercased names.
    let forbidden = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        is_forbidden(IpAddr::V6(v6.parse().map_err(|_| FetchError::BadUrl)?))
    } else if let Ok(v4) = host.parse::<Ipv4Addr>() {
        is_forbidden(IpAddr::V4(v4))
    } else {
        is_forbidden_name(host)
    };
    if forbidden { Err(FetchError::ForbiddenAddress) } else { Ok(()) }
}

/// Names refused before any lookup: single labels (resolved through search domains to internal
/// hosts), `localhost`, and the special-use or private suffixes, which includes the cloud
/// metadata name `metadata.google.internal`. What slips through still meets the resolver.
fn is_forbidden_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    const SUFFIXES: [&str; 4] = [".localhost", ".internal", ".local", ".home.arpa"];
    !host.contains('.') || host == "localhost" || SUFFIXES.iter().any(|suffix| host.ends_with(suffix))
}

/// IPv4 ranges that are not the public internet.
const FORBIDDEN_V4: [(Ipv4Addr, u8); 15] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network", includes the unspecified address
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // carrier-grade NAT
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local, incl. cloud metadata 169.254.169.254
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation (TEST-NET-1)
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // deprecated 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation (TEST-NET-2)
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation (TEST-NET-3)
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, incl. broadcast 255.255.255.255
];

/// IPv6 ranges refused outright.
const FORBIDDEN_V6: [(Ipv6Addr, u8); 11] = [
    (Ipv6Addr::UNSPECIFIED, 128),                         // ::
    (Ipv6Addr::LOCALHOST, 128),                           // ::1
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48),  // local-use NAT64 (RFC 8215)
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),      // discard-only
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32),     // Teredo
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),     // documentation (RFC 9637)
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),      // unique local
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),     // link-local
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),     // deprecated site-local
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),      // multicast
];

/// IPv6 ranges that carry an IPv4 address: `(prefix, prefix length, bit offset of the IPv4
/// address from the left)`. Refused when the embedded address is.
const EMBEDDING_V6: [(Ipv6Addr, u8, u32); 5] = [
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96, 96), // IPv4-mapped ::ffff:a.b.c.d
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96, 96),      // IPv4-compatible ::a.b.c.d
    (Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0, 0), 96, 96), // SIIT ::ffff:0:a.b.c.d
    (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96, 96), // NAT64 64:ff9b::a.b.c.d
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16, 16), // 6to4 2002:aabb:ccdd::
];

/// Whether `ip` is anything but a public unicast address: loopback, private, link-local (cloud
/// metadata), CGNAT, unique-local, multicast, broadcast, documentation, benchmarking, reserved,
/// or an IPv6 address embedding one of those IPv4 addresses.
pub(crate) fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            FORBIDDEN_V4.iter().any(|&(net, len)| prefix_matches_v4(bits, u32::from(net), len))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            FORBIDDEN_V6.iter().any(|&(net, len)| prefix_matches_v6(bits, u128::from(net), len))
                || EMBEDDING_V6.iter().any(|&(net, len, offset)| {
                    prefix_matches_v6(bits, u128::from(net), len) && {
                        let embedded = (bits >> (96 - offset)) as u32;
                        is_forbidden(IpAddr::V4(Ipv4Addr::from(embedded)))
                    }
                })
        }
    }
}

fn prefix_matches_v4(addr: u32, net: u32, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    addr & mask == net & mask
}

fn prefix_matches_v6(addr: u128, net: u128, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    addr & mask == net & mask
}

/// The resolver refused a name because one of its addresses is forbidden.
#[derive(Debug, thiserror::Error)]
#[error("the name resolves to a forbidden address")]
struct ForbiddenName;

/// Resolves with the system resolver (tokio's `lookup_host`) and refuses the whole name if any
/// address is forbidden. reqwest connects only to the addresses returned here, so what was
/// checked is what is connected to.
#[derive(Debug)]
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && addrs.iter().any(|addr| is_forbidden(addr.ip())) {
                return Err(ForbiddenName.into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Maps a reqwest failure, recognising our resolver's refusal inside its source chain.
fn transport_error(err: reqwest::Error) -> FetchError {
    if err.is_timeout() {
        return FetchError::Timeout;
    }
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        if cause.is::<ForbiddenName>() {
            return FetchError::ForbiddenAddress;
        }
        source = cause.source();
    }
    tracing::debug!(error = %err.without_url(), "image fetch failed");
    FetchError::Transport
}

/// Reads a successful response: type checked, body capped while streaming.
async fn read_image(mut response: reqwest::Response, max_bytes: usize) -> Result<Fetched, FetchError> {
    // No type, or a generic binary one (S3's default is `binary/octet-stream`): sniff instead.
    let declared = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|value| media_type_of(value.to_str().unwrap_or("unreadable")))
        .filter(|t| !t.is_empty() && t != "application/octet-stream" && t != "binary/octet-stream");
    if let Some(media_type) = &declared {
        if !is_accepted_type(media_type) {
            return Err(FetchError::NotAnImage(media_type.chars().take(64).collect()));
        }
    }
    let length = response.content_length();
    if length.is_some_and(|n| n > max_bytes as u64) {
        return Err(FetchError::TooLarge);
    }
    let mut body = BytesMut::with_capacity(length.map_or(0, |n| n as usize));
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let media_type = match declared {
        Some(media_type) => media_type,
        None => sniff(&body).ok_or_else(|| FetchError::NotAnImage("none".into()))?.to_owned(),
    };
    Ok(Fetched { media_type, data: body.freeze() })
}

/// The lowercase `type/subtype` of a `Content-Type` value.
fn media_type_of(value: &str) -> String {
    value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// `image/<subtype>` with a plain subtype, or `application/pdf`.
fn is_accepted_type(media_type: &str) -> bool {
    media_type == "application/pdf"
        || media_type.strip_prefix("image/").is_some_and(|subtype| {
            !subtype.is_empty() && subtype.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        })
}

/// The media type from magic bytes, for responses without a useful `Content-Type`.
fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if data.len() >= 12 && data.starts_with(b"RIFF") && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else if data.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}
