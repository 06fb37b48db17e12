//! HTTP handlers of the public API.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::access::{admin, fail, identify};
use crate::config::{Access, User};
use crate::endpoint::anthropic_error;
use crate::endpoint::messages::models;
use crate::error::EdgeError;
use crate::pipeline::note_error;
use crate::state::{AppState, Snapshot};
use crate::telemetry::RequestRecord;

fn model_object(snap: &Snapshot, user: &User, name: &str) -> Option<Value> {
    let route = snap.models.get(name)?;
    if !user.may_use(name) {
        return None;
    }
    // The backends this user may pin now: not those disabled in the config or at runtime.
    let backends: Vec<&str> = route.in_rotation(user).collect();
    let kind = route.model.kind.name();
    Some(
        json!({"id": name, "object": "model", "created": 0, "owned_by": "switchyard", "kind": kind, "backends": backends}),
    )
}

pub async fn list_models(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    headers: HeaderMap,
) -> Response {
    let snap = state.snapshot();
    let anthropic = models::wants_anthropic(&headers);
    let user = match identify(&snap, &headers, &record) {
        Ok(u) => u,
        Err(e) => return fail_as(&record, e, anthropic),
    };
    let data: Vec<Value> = snap
        .config
        .models
        .keys()
        .filter_map(|name| model_object(&snap, &user, name))
        .collect();
    if anthropic {
        // Anthropic's API has no embeddings: its clients see the chat models.
        let chat = data.iter().filter(|m| m["kind"] == "chat");
        let ids = chat.filter_map(|m| m["id"].as_str());
        return Json(models::list(ids)).into_response();
    }
    Json(json!({"object": "list", "data": data})).into_response()
}

/// An error in the shape of the client's API: Anthropic's for Anthropic clients.
fn fail_as(record: &RequestRecord, e: EdgeError, anthropic: bool) -> Response {
    if !anthropic {
        return fail(record, e);
    }
    note_error(record, &e);
    anthropic_error(&e)
}

pub async fn get_model(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let snap = state.snapshot();
    let anthropic = models::wants_anthropic(&headers);
    let user = match identify(&snap, &headers, &record) {
        Ok(u) => u,
        Err(e) => return fail_as(&record, e, anthropic),
    };
    match model_object(&snap, &user, &id) {
        Some(_) if anthropic => Json(models::model(&id)).into_response(),
        Some(model) => Json(model).into_response(),
        None => fail_as(&record, EdgeError::model_not_found(&id), anthropic),
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
    fail(&record, e)
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
            if let Err(e) = admin(&snap, &headers, &record) {
                return fail(&record, e);
            }
        }
    }
    crate::telemetry::metrics::refresh_backend_gauges(state.metrics(), &snap.entries());
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
