//! Reading request bodies with the 10 MB cap, so an oversized body is refused (413) while it is
//! read, whether or not it declared a `Content-Length`.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};

use super::MAX_BODY_BYTES;
use crate::error::{ApiError, ErrorKind};

fn too_large() -> ApiError {
    ApiError::new(
        ErrorKind::PayloadTooLarge,
        format!("request body is larger than {} MB", MAX_BODY_BYTES / (1024 * 1024)),
    )
}

/// The whole body, or 413 past the cap, or 400 when it is not UTF-8. Every body the gateway
/// takes is JSON, which is UTF-8; checking once here means a member the parsers skip (and
/// forward untouched) cannot carry invalid bytes to an upstream.
pub async fn read(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let bytes = read_capped(headers, body).await?;
    if std::str::from_utf8(&bytes).is_err() {
        return Err(ApiError::bad_request("request body is not valid JSON: it is not UTF-8"));
    }
    Ok(bytes)
}

async fn read_capped(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|err| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(e) = source {
            if e.is::<http_body_util::LengthLimitError>() {
                return too_large();
            }
            source = e.source();
        }
        ApiError::bad_request("could not read the request body")
    })
}
