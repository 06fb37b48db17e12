//! Readiness and the admin API over backend health.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use super::access::{admin, fail};
use crate::clock;
use crate::error::EdgeError;
use crate::health::State as Health;
use crate::reload::ReloadError;
use crate::state::AppState;
use crate::telemetry::RequestRecord;

/// 200 when every model has a backend that is enabled and whose circuit is
/// not open; else 503 naming the models that have none.
pub async fn ready(State(state): State<AppState>) -> Response {
    let snap = state.snapshot();
    let now = clock::now_ms();
    let down: Vec<&str> = snap
        .config
        .models
        .keys()
        .filter(|name| {
            let Some(route) = snap.models.get(name.as_str()) else {
                return true;
            };
            !route
                .slots
                .iter()
                .any(|s| s.serving() && s.stats.state(now) != Health::Open)
        })
        .map(String::as_str)
        .collect();
    if down.is_empty() {
        return Json(json!({"status": "ready"})).into_response();
    }
    let body = json!({"status": "not_ready", "models_without_backends": down});
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

pub async fn backends(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    headers: HeaderMap,
) -> Response {
    let snap = state.snapshot();
    if let Err(e) = admin(&snap, &headers, &record) {
        return fail(&record, e);
    }
    Json(json!({"object": "list", "data": snap.entries()})).into_response()
}

#[derive(Deserialize)]
pub struct Scope {
    model: Option<String>,
}

pub async fn disable(
    state: State<AppState>,
    record: Extension<Arc<RequestRecord>>,
    id: Path<String>,
    scope: Query<Scope>,
    headers: HeaderMap,
) -> Response {
    switch(state, record, id, scope, headers, false).await
}

pub async fn enable(
    state: State<AppState>,
    record: Extension<Arc<RequestRecord>>,
    id: Path<String>,
    scope: Query<Scope>,
    headers: HeaderMap,
) -> Response {
    switch(state, record, id, scope, headers, true).await
}

async fn switch(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    Path(id): Path<String>,
    Query(scope): Query<Scope>,
    headers: HeaderMap,
    on: bool,
) -> Response {
    let snap = state.snapshot();
    let user = match admin(&snap, &headers, &record) {
        Ok(u) => u,
        Err(e) => return fail(&record, e),
    };
    let having: Vec<&str> = snap
        .config
        .models
        .iter()
        .filter(|(_, m)| m.backends.iter().any(|b| b.id == id))
        .map(|(name, _)| name.as_str())
        .collect();
    let model = scope.model.as_deref();
    if having.is_empty() || model.is_some_and(|m| !having.contains(&m)) {
        let within = model.map_or(String::new(), |m| format!(" in model `{m}`"));
        let e = EdgeError::NotFound {
            message: format!("no backend {id:?}{within}"),
            code: "backend_not_found",
        };
        return fail(&record, e);
    }
    let switches = &state.health().switches;
    if on {
        switches.enable(&id, model, &having);
    } else {
        switches.disable(&id, model);
    }
    let models: Vec<&str> = model.map_or(having.clone(), |m| vec![m]);
    tracing::warn!(target: "switchyard::health", backend = %id, models = ?models, user = %user.id,
        "backend {} by an admin", if on { "enabled" } else { "disabled" });
    Json(json!({"backend": id, "models": models, "disabled": !on})).into_response()
}

/// `POST /admin/reload`: reads the config file again. 200 `{"status":
/// "reloaded"}`; 422 with every error and its TOML path when the file is
/// invalid (the running config keeps serving); 400 without a config file.
pub async fn reload(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    headers: HeaderMap,
) -> Response {
    let snap = state.snapshot();
    if let Err(e) = admin(&snap, &headers, &record) {
        return fail(&record, e);
    }
    drop(snap);
    match state.reload("admin").await {
        Ok(()) => Json(json!({"status": "reloaded"})).into_response(),
        Err(ReloadError::NoFile) => fail(
            &record,
            EdgeError::bad_request(
                ReloadError::NoFile.to_string(),
                None,
                Some("reload_unavailable"),
            ),
        ),
        Err(ReloadError::Invalid(errors)) => {
            let message = format!(
                "{} error(s) in the new config; the old one keeps serving",
                errors.0.len()
            );
            record.update(|f| f.error = Some(message.clone()));
            let list: Vec<_> = errors
                .0
                .iter()
                .map(|e| json!({"path": e.path, "message": e.message}))
                .collect();
            let body = json!({
                "status": "error",
                "error": {"message": message, "type": "invalid_request_error", "param": null, "code": "invalid_config"},
                "errors": list,
            });
            (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
        }
    }
}
