//! Usage reports from the ledger: `GET /admin/usage` (admins, every row)
//! and `GET /v1/usage` (a user's own rows, with their budgets). These read
//! the store; the request path never does.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::{admin, fail, identify};
use crate::calendar::{self, Date};
use crate::error::EdgeError;
use crate::ledger::query::{Group, Query as Report};
use crate::state::AppState;
use crate::telemetry::RequestRecord;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    from: Option<String>,
    to: Option<String>,
    user: Option<String>,
    model: Option<String>,
    backend: Option<String>,
    group_by: Option<String>,
}

fn date(text: Option<&str>, param: &'static str, default: Date) -> Result<Date, EdgeError> {
    match text {
        None => Ok(default),
        Some(t) => Date::parse(t).ok_or_else(|| {
            EdgeError::bad_request(
                format!("`{param}` must be a day, YYYY-MM-DD"),
                Some(param),
                None,
            )
        }),
    }
}

/// The report `p` asks for: by default this month so far, one total.
fn report(p: Params) -> Result<Report, EdgeError> {
    let today = Date::of(calendar::unix_ms());
    let mut group_by = Vec::new();
    for name in p.group_by.iter().flat_map(|g| g.split(',')).map(str::trim) {
        let g = Group::parse(name).ok_or_else(|| {
            let message = format!("unknown group {name:?} (known: {})", Group::NAMES);
            EdgeError::bad_request(message, Some("group_by"), None)
        })?;
        if !group_by.contains(&g) {
            group_by.push(g);
        }
    }
    Ok(Report {
        from: date(p.from.as_deref(), "from", today.first_of_month())?,
        to: date(p.to.as_deref(), "to", today)?,
        user: p.user,
        model: p.model,
        backend: p.backend,
        group_by,
    })
}

/// Runs the report: `{"object": "list", "from", "to", "data": [...]}`.
pub async fn totals(state: &AppState, q: &Report) -> Result<Value, EdgeError> {
    let Some(store) = state.ledger().store() else {
        return Err(EdgeError::NotFound {
            message: "the usage ledger is off ([usage] store = \"off\")".into(),
            code: "usage_off",
        });
    };
    let data = store
        .totals(q)
        .await
        .map_err(|e| EdgeError::Internal(format!("usage ledger: {e}")))?;
    Ok(json!({"object": "list", "from": q.from.to_string(), "to": q.to.to_string(), "data": data}))
}

pub async fn admin_usage(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    let snap = state.snapshot();
    if let Err(e) = admin(&snap, &headers, &record) {
        return fail(&record, e);
    }
    drop(snap);
    match report(params) {
        Ok(q) => match totals(&state, &q).await {
            Ok(body) => Json(body).into_response(),
            Err(e) => fail(&record, e),
        },
        Err(e) => fail(&record, e),
    }
}

/// A user's own usage, whatever `user` they name, and their budgets.
pub async fn own_usage(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    let snap = state.snapshot();
    let user = match identify(&snap, &headers, &record) {
        Ok(u) => u,
        Err(e) => return fail(&record, e),
    };
    let mut q = match report(params) {
        Ok(q) => q,
        Err(e) => return fail(&record, e),
    };
    q.user = Some(user.id.clone());
    q.group_by.retain(|g| *g != Group::User);
    let mut body = match totals(&state, &q).await {
        Ok(body) => body,
        Err(e) => return fail(&record, e),
    };
    body["user"] = json!(user.id);
    body["budgets"] = super::budgets::of_user(&state, &snap, &user).await;
    Json(body).into_response()
}
