//! Usage reports from the ledger: `GET /admin/usage` (admins, every row),
//! `GET /v1/usage` (a user's own rows, with their budgets) and today's
//! spend for the status page. These read the store; the request path
//! never does.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::{admin, fail, identify};
use crate::calendar::{self, Date};
use crate::error::EdgeError;
use crate::ledger::report::{Group, Report};
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
    let names = p.group_by.iter().flat_map(|g| g.split(',')).map(str::trim);
    for name in names.filter(|n| !n.is_empty()) {
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

/// Today's totals (UTC) per model and per user: the status page's spend.
pub async fn today(state: &AppState) -> Result<Value, EdgeError> {
    let day = Date::of(calendar::unix_ms());
    let by = |g: Group| Report {
        from: day,
        to: day,
        user: None,
        model: None,
        backend: None,
        group_by: vec![g],
    };
    let models = totals(state, &by(Group::Model)).await?;
    let users = totals(state, &by(Group::User)).await?;
    Ok(json!({"object": "usage_today", "day": day.to_string(),
              "models": models["data"], "users": users["data"]}))
}

pub async fn admin_usage(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    headers: HeaderMap,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    let answer = async {
        admin(&state.snapshot(), &headers, &record)?;
        totals(&state, &report(params(query)?)?).await
    };
    respond(&record, answer.await)
}

/// A user's own usage, whatever `user` they name, and their budgets.
pub async fn own_usage(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    headers: HeaderMap,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    let answer = async {
        let snap = state.snapshot();
        let user = identify(&snap, &headers, &record)?;
        let mut q = report(params(query)?)?;
        q.user = Some(user.id.clone());
        q.group_by.retain(|g| *g != Group::User);
        let mut body = totals(&state, &q).await?;
        body["user"] = json!(user.id);
        body["budgets"] = super::budgets::of_user(&state, &snap, &user).await;
        Ok(body)
    };
    respond(&record, answer.await)
}

/// The query string, or a 400 in OpenAI's shape naming what is wrong
/// (checked after the token, so an anonymous caller learns nothing).
fn params(query: Result<Query<Params>, QueryRejection>) -> Result<Params, EdgeError> {
    query
        .map(|Query(p)| p)
        .map_err(|e| EdgeError::bad_request(e.body_text(), None, Some("invalid_query")))
}

fn respond(record: &RequestRecord, answer: Result<Value, EdgeError>) -> Response {
    match answer {
        Ok(body) => Json(body).into_response(),
        Err(e) => fail(record, e),
    }
}
