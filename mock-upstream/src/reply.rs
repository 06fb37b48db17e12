//! Pieces every protocol's handler shares: fault statuses with
//! protocol-shaped error bodies, JSON replies, the clock.

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, Response, StatusCode};
use bytes::Bytes;
use serde_json::Value;

use crate::Fault;

/// Sleeps `delay`, then answers the status fault if there is one, its body
/// from `error_body(status, message)` unless the fault sets one.
pub(crate) async fn apply_status_fault(
    fault: &Fault,
    error_body: fn(u16, &str) -> Value,
) -> Option<Response<Body>> {
    if !fault.delay.is_zero() {
        tokio::time::sleep(fault.delay).await;
    }
    let status = fault.status?;
    let body = match &fault.body {
        Some(b) => b.clone(),
        None => error_body(status, &format!("mock fault: HTTP {status}")).to_string(),
    };
    Some(with_retry_after(raw(status, body), fault))
}

/// The fault's `Retry-After`, if it sets one.
pub(crate) fn with_retry_after(mut resp: Response<Body>, fault: &Fault) -> Response<Body> {
    if let Some(v) = fault.retry_after.as_deref().and_then(|ra| ra.parse().ok()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

pub(crate) fn raw(status: u16, body: String) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_default()
}

pub(crate) fn json(status: u16, body: &Value) -> Response<Body> {
    raw(status, body.to_string())
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A non-stream reply, or none at all under `stall_after = 0`.
pub(crate) async fn whole(fault: &Fault, body: &Value) -> Response<Body> {
    if fault.stall_after == Some(0) {
        std::future::pending::<()>().await;
    }
    match fault.huge {
        Some(size) => huge(size, body),
        None => json(200, body),
    }
}

/// `body` after enough spaces to make `size` bytes: valid JSON in every
/// protocol, streamed from one static block.
fn huge(size: usize, body: &Value) -> Response<Body> {
    static SPACES: [u8; 64 * 1024] = [b' '; 64 * 1024];
    let body = Bytes::from(body.to_string());
    let mut padding = size.saturating_sub(body.len());
    let spaces = std::iter::from_fn(move || {
        let n = padding.min(SPACES.len());
        padding -= n;
        (n > 0).then(|| Bytes::from_static(&SPACES[..n]))
    });
    let chunks = spaces.chain(std::iter::once(body)).map(Ok::<_, Infallible>);
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap_or_default()
}

/// The start of a request to one of OpenAI's APIs: its JSON body, recorded
/// with its bytes, and the fault that applies; or the answer already due
/// (a body that is not JSON, a status fault), in OpenAI's error shape.
pub(crate) async fn openai_request(
    shared: &crate::Shared,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    body: bytes::Bytes,
) -> Result<(Value, Fault), Response<Body>> {
    let error_body = crate::openai::error_body;
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return Err(json(400, &error_body(400, "body is not JSON")));
    };
    let fault = shared.admit_raw(uri.to_string(), headers, body, &req);
    match apply_status_fault(&fault, error_body).await {
        Some(resp) => Err(resp),
        None => Ok((req, fault)),
    }
}
