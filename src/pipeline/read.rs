//! Stage 2, the body: read within the size limit and `server.body_timeout`,
//! checked for depth, then parsed once in the endpoint's own format.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::http::request::Parts;

use super::{depth, Endpoint};
use crate::error::EdgeError;
use crate::protocol::Request;
use crate::shutdown::Shutdown;

/// What bounds a body: its size, its time, the gateway stopping.
pub struct Bounds<'a> {
    pub max_bytes: usize,
    pub timeout: Duration,
    pub shutdown: &'a Shutdown,
}

/// The parsed request and the body's size (for token estimates).
pub async fn read<E: Endpoint>(
    bounds: Bounds<'_>,
    head: &Parts,
    body: Body,
) -> Result<(Request, usize), EdgeError> {
    let limit = bounds.max_bytes;
    let declared = head
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(EdgeError::PayloadTooLarge { limit });
    }
    let bytes = in_time(axum::body::to_bytes(body, limit), &bounds)
        .await?
        .map_err(|e| {
            if is_length_limit(&e) {
                EdgeError::PayloadTooLarge { limit }
            } else {
                EdgeError::bad_request(format!("could not read the request body: {e}"), None, None)
            }
        })?;
    if depth::deeper_than(&bytes, depth::MAX_DEPTH) {
        let message = format!(
            "the request body nests arrays and objects more than {} deep",
            depth::MAX_DEPTH
        );
        return Err(EdgeError::bad_request(message, None, Some("json_too_deep")));
    }
    let len = bytes.len();
    Ok((E::parse(bytes, head)?, len))
}

/// `reading`, at once when the whole body has already arrived (the usual
/// case: no timer is armed); else within the timeout, and given up when
/// the gateway starts to stop (the server then wakes the connection, which
/// polls this again).
async fn in_time<F>(reading: F, bounds: &Bounds<'_>) -> Result<F::Output, EdgeError>
where
    F: Future<Output = Result<Bytes, axum::Error>>,
{
    let mut reading = pin!(reading);
    if let Some(done) = futures_util::future::poll_immediate(&mut reading).await {
        return Ok(done);
    }
    let stopping = std::future::poll_fn(|_| match bounds.shutdown.is_draining() {
        true => Poll::Ready(()),
        false => Poll::Pending,
    });
    tokio::select! {
        biased;
        () = stopping => Err(EdgeError::ShuttingDown),
        read = tokio::time::timeout(bounds.timeout, reading) => {
            read.map_err(|_| EdgeError::RequestTimeout { limit: bounds.timeout })
        }
    }
}

/// Whether reading the body failed on the size limit (rather than a broken upload).
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}
