//! HTTP handlers of the public API.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::auth::authenticate;
use super::error::EdgeError;
use crate::config::{Access, User};
use crate::providers::ChatRequest;
use crate::proxy;
use crate::state::{AppState, Snapshot};
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

/// Turns an error into its response, noting it in the request's log line.
pub fn fail(record: &RequestRecord, e: EdgeError) -> Response {
    record.update(|f| f.error = Some(e.to_string()));
    e.into_response()
}

pub async fn chat(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let snap = state.snapshot();
    match chat_inner(snap, &record, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => {
            let mut resp = fail(&record, e);
            let mut last = None;
            record.update(|f| {
                last = f
                    .attempts
                    .last()
                    .map(|a| (a.backend.clone(), f.attempts.len()))
            });
            if let Some((backend, n)) = last {
                proxy::route_headers(resp.headers_mut(), &backend, n);
            }
            resp
        }
    }
}

async fn chat_inner(
    snap: Arc<Snapshot>,
    record: &Arc<RequestRecord>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, EdgeError> {
    let user = identify(&snap, headers, record)?;
    let limit = snap.config.server.max_body_bytes;
    let declared = headers
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
    let req =
        ChatRequest::parse(&bytes).map_err(|e| EdgeError::bad_request(e.message, e.param, None))?;
    // The request's own log line records the pin (`pinned`, `backend`); this is detail.
    if req.backend.is_some() {
        tracing::debug!(target: "switchyard::pin", request_id = %record.id, user = %user.id, model = %req.model,
            backend = req.backend.as_deref(), "request asks for a pinned backend");
    }
    proxy::chat(snap, user, req, record.clone()).await
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

fn model_object(snap: &Snapshot, user: &User, name: &str) -> Option<Value> {
    let route = snap.models.get(name)?;
    if !user.may_use(name) {
        return None;
    }
    // The backends this user may pin now: not those disabled in the config or at runtime.
    let backends: Vec<&str> = route
        .model
        .backends
        .iter()
        .zip(&route.switches)
        .filter(|(b, s)| b.enabled && !s.disabled() && b.visible_to(user))
        .map(|(b, _)| b.id.as_str())
        .collect();
    Some(
        json!({"id": name, "object": "model", "created": 0, "owned_by": "switchyard", "backends": backends}),
    )
}

pub async fn list_models(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    headers: HeaderMap,
) -> Response {
    let snap = state.snapshot();
    let user = match identify(&snap, &headers, &record) {
        Ok(u) => u,
        Err(e) => return fail(&record, e),
    };
    let data: Vec<Value> = snap
        .config
        .models
        .keys()
        .filter_map(|name| model_object(&snap, &user, name))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

pub async fn get_model(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let snap = state.snapshot();
    let user = match identify(&snap, &headers, &record) {
        Ok(u) => u,
        Err(e) => return fail(&record, e),
    };
    match model_object(&snap, &user, &id) {
        Some(model) => Json(model).into_response(),
        None => {
            let message =
                format!("The model `{id}` does not exist or you do not have access to it.");
            fail(
                &record,
                EdgeError::NotFound {
                    message,
                    code: "model_not_found",
                },
            )
        }
    }
}

pub async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

pub async fn not_found(Extension(record): Extension<Arc<RequestRecord>>) -> Response {
    let e = EdgeError::NotFound {
        message: "no such endpoint".into(),
        code: "not_found",
    };
    let mut resp = fail(&record, e);
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp
}

pub async fn method_not_allowed(Extension(record): Extension<Arc<RequestRecord>>) -> Response {
    let e = EdgeError::bad_request(
        "method not allowed on this endpoint",
        None,
        Some("method_not_allowed"),
    );
    let mut resp = fail(&record, e);
    *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    resp
}

/// Prometheus text format; access per `[metrics] access`.
pub async fn metrics(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    headers: HeaderMap,
) -> Response {
    let snap = state.snapshot();
    match snap.config.metrics.access {
        Access::Open => {}
        Access::Off => return not_found(Extension(record)).await,
        Access::Admin => {
            if let Err(e) = super::admin::admin(&snap, &headers, &record) {
                return fail(&record, e);
            }
        }
    }
    crate::telemetry::metrics::refresh_backend_gauges(
        state.metrics(),
        &super::admin::entries(&snap),
    );
    let body = state.metrics().encode();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
