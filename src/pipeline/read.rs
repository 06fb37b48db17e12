//! Stage 2, the body: read within the size limit, then parsed once in the
//! endpoint's own format.

use axum::body::Body;
use axum::http::header;
use axum::http::request::Parts;

use super::Endpoint;
use crate::error::EdgeError;
use crate::protocol::Request;

/// The parsed request and the body's size (for token estimates).
pub async fn read<E: Endpoint>(
    limit: usize,
    head: &Parts,
    body: Body,
) -> Result<(Request, usize), EdgeError> {
    let declared = head
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(EdgeError::PayloadTooLarge { limit });
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if is_length_limit(&e) {
            EdgeError::PayloadTooLarge { limit }
        } else {
            EdgeError::bad_request(format!("could not read the request body: {e}"), None, None)
        }
    })?;
    let len = bytes.len();
    Ok((E::parse_raw(bytes, head)?, len))
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
