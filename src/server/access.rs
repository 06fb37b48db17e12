//! Who may call the gateway's own routes (models, admin, metrics, status),
//! and their errors in OpenAI's shape.

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::Response;

use crate::config::User;
use crate::endpoint::openai_error;
use crate::error::EdgeError;
use crate::pipeline::{authenticate, note_error};
use crate::state::Snapshot;
use crate::telemetry::RequestRecord;

/// The authenticated user, noted in the request's log line.
pub fn identify(
    snap: &Snapshot,
    headers: &HeaderMap,
    record: &RequestRecord,
) -> Result<Arc<User>, EdgeError> {
    let user = authenticate(snap, headers)?;
    record.update(|f| f.user = Some(user.id.clone()));
    Ok(user)
}

/// Turns an error into its response (OpenAI's shape), noting it in the
/// request's log line.
pub fn fail(record: &RequestRecord, e: EdgeError) -> Response {
    note_error(record, &e);
    openai_error(&e)
}

/// The admin user behind the request: 401 without a valid token, 403 for others.
pub fn admin(
    snap: &Snapshot,
    headers: &HeaderMap,
    record: &RequestRecord,
) -> Result<Arc<User>, EdgeError> {
    let user = identify(snap, headers, record)?;
    if user.admin {
        return Ok(user);
    }
    Err(EdgeError::Forbidden {
        message: format!("user {:?} is not an admin", user.id),
        code: "admin_required",
    })
}
