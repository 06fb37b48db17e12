//! A user's budgets as `GET /v1/usage` shows them: every window with its
//! limit, what is left now and when it resets.

use serde_json::{json, Value};

use crate::budget::window::usd;
use crate::calendar;
use crate::config::User;
use crate::state::{AppState, Snapshot};

pub async fn of_user(state: &AppState, snap: &Snapshot, user: &User) -> Value {
    let Some(plan) = snap.budget(&user.id) else {
        return json!([]);
    };
    let scopes: Vec<_> = plan.every().cloned().collect();
    let Some(v) = state.budgets().peek(&scopes, calendar::unix_ms()).await else {
        return Value::Null;
    };
    let list: Vec<Value> = v
        .statuses
        .iter()
        .map(|s| {
            json!({"model": s.model, "window": s.span.name(), "limit_usd": usd(s.limit),
                   "remaining_usd": usd(s.remaining), "reset_ms": s.reset_ms})
        })
        .collect();
    Value::Array(list)
}
