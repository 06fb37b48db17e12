//! A user's budgets as `/v1/usage` shows them (filled in with the budget module).

use serde_json::Value;

use crate::config::User;
use crate::state::{AppState, Snapshot};

pub async fn of_user(_state: &AppState, _snap: &Snapshot, _user: &User) -> Value {
    Value::Array(Vec::new())
}
