//! The live status page: one embedded HTML file (no CDN) that polls
//! `/status/data` and draws every model's backends with a traffic chart,
//! and for admins `/status/usage`: today's spend per model and per user.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use super::access::{admin, fail};
use super::routes::not_found;
use crate::config::Access;
use crate::state::AppState;
use crate::telemetry::RequestRecord;

const PAGE: &str = include_str!("assets/status.html");

/// The page itself carries no data, so it is served to anyone unless the page
/// is off; with `status_page = "admin"` it asks for a token before polling.
pub async fn page(
    State(state): State<AppState>,
    record: Extension<Arc<RequestRecord>>,
) -> Response {
    if state.snapshot().config.server.status_page == Access::Off {
        return not_found(record).await;
    }
    let csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'";
    (
        [
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(PAGE),
    )
        .into_response()
}

/// The same entries as `/admin/backends`, behind the page's access setting.
pub async fn data(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    headers: HeaderMap,
) -> Response {
    let snap = state.snapshot();
    match snap.config.server.status_page {
        Access::Off => return not_found(Extension(record)).await,
        Access::Admin => {
            if let Err(e) = admin(&snap, &headers, &record) {
                return fail(&record, e);
            }
        }
        Access::Open => {}
    }
    let body = json!({"object": "list", "data": snap.entries()});
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// Today's spend per model and per user: admins only, whatever
/// `status_page` says (a public page shows health, not who spent what).
pub async fn usage(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    headers: HeaderMap,
) -> Response {
    let snap = state.snapshot();
    if snap.config.server.status_page == Access::Off {
        return not_found(Extension(record)).await;
    }
    if let Err(e) = admin(&snap, &headers, &record) {
        return fail(&record, e);
    }
    drop(snap);
    match super::usage::today(&state).await {
        Ok(body) => ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response(),
        Err(e) => fail(&record, e),
    }
}
