//! Stage 1, authentication: the user behind the request's token, as an
//! extractor that refuses in the endpoint's own error shape.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::Endpoint;
use crate::config::User;
use crate::error::EdgeError;
use crate::state::{AppState, Snapshot};
use crate::telemetry::RequestRecord;

/// The user behind `Authorization: Bearer TOKEN`, or `x-api-key: TOKEN`
/// (what Anthropic clients send): 401 when neither is there or the token is
/// unknown or disabled. The token is looked up by its digest and never logged.
pub fn authenticate(snap: &Snapshot, headers: &HeaderMap) -> Result<Arc<User>, EdgeError> {
    let token =
        match headers.get(axum::http::header::AUTHORIZATION) {
            Some(value) => bearer(value)?,
            None => match headers.get("x-api-key") {
                Some(value) => value
                    .to_str()
                    .ok()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .ok_or(EdgeError::Unauthorized("invalid x-api-key header"))?,
                None => return Err(EdgeError::Unauthorized(
                    "missing token: send `Authorization: Bearer <token>` or `x-api-key: <token>`",
                )),
            },
        };
    match snap.user_by_token(token) {
        Some(user) if user.enabled => Ok(user.clone()),
        Some(_) => Err(EdgeError::Unauthorized("this token's user is disabled")),
        None => Err(EdgeError::Unauthorized("invalid token")),
    }
}

fn bearer(value: &HeaderValue) -> Result<&str, EdgeError> {
    let value = value
        .to_str()
        .map_err(|_| EdgeError::Unauthorized("invalid authorization header"))?;
    // The scheme is case-insensitive (RFC 9110 section 11.1): `BEARER` is `Bearer`.
    value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or(EdgeError::Unauthorized(
            "authorization header must be `Bearer <token>`",
        ))
}

/// An authenticated request: its user, and the snapshot it was checked
/// against (the request keeps it for its whole life).
pub struct Caller<E> {
    pub user: Arc<User>,
    pub snap: Arc<Snapshot>,
    endpoint: PhantomData<E>,
}

/// A request refused before its handler ran, in `E`'s error shape.
pub struct Refused<E>(EdgeError, PhantomData<E>);

impl<E: Endpoint> IntoResponse for Refused<E> {
    fn into_response(self) -> Response {
        E::error(&self.0)
    }
}

impl<E: Endpoint> FromRequestParts<AppState> for Caller<E> {
    type Rejection = Refused<E>;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let record = parts.extensions.get::<Arc<RequestRecord>>();
        Self::check(&parts.headers, state, record)
    }
}

impl<E: Endpoint> Caller<E> {
    /// The extractor's work, for a caller that holds the request's record
    /// itself (the endpoint routes served past the router).
    pub fn check(
        headers: &HeaderMap,
        state: &AppState,
        record: Option<&Arc<RequestRecord>>,
    ) -> Result<Self, Refused<E>> {
        let snap = state.snapshot();
        match authenticate(&snap, headers) {
            Ok(user) => {
                if let Some(record) = record {
                    record.update(|f| f.user = Some(user.id.clone()));
                }
                Ok(Caller {
                    user,
                    snap,
                    endpoint: PhantomData,
                })
            }
            Err(e) => {
                if let Some(record) = record {
                    super::note_error(record, &e);
                }
                Err(Refused(e, PhantomData))
            }
        }
    }
}
