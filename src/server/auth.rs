//! Bearer-token authentication.

use std::sync::Arc;

use axum::http::HeaderMap;

use super::error::EdgeError;
use crate::config::User;
use crate::state::Snapshot;

/// The user behind `Authorization: Bearer TOKEN`: 401 when the header is
/// missing or the token unknown or disabled. The token is looked up by its
/// digest and never logged.
pub fn authenticate(snap: &Snapshot, headers: &HeaderMap) -> Result<Arc<User>, EdgeError> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(EdgeError::Unauthorized(
            "missing bearer token: send `Authorization: Bearer <token>`",
        ))?;
    let value = value
        .to_str()
        .map_err(|_| EdgeError::Unauthorized("invalid authorization header"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(EdgeError::Unauthorized(
            "authorization header must be `Bearer <token>`",
        ))?;
    match snap.user_by_token(token) {
        Some(user) if user.enabled => Ok(user.clone()),
        Some(_) => Err(EdgeError::Unauthorized("this token's user is disabled")),
        None => Err(EdgeError::Unauthorized("invalid token")),
    }
}
