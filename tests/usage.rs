//! The usage ledger, prices and budgets over real HTTP against real mock
//! upstreams: rows per protocol (stream or not) with their tokens and cost,
//! failover attributed to the backend that served, a SQLite file that
//! survives a restart with its budget windows, and budgets that hold under
//! 50 concurrent requests (in memory, and across two instances through a
//! real `redis-server`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod common_pg;
mod common_redis;

#[path = "usage/budgets.rs"]
mod budgets;
#[path = "usage/postgres.rs"]
mod postgres;
#[path = "usage/reports.rs"]
mod reports;
#[path = "usage/rows.rs"]
mod rows;

use std::time::Duration;

use common::{client, Gateway};
use serde_json::Value;

pub const ADMIN: &str = "admin-token";

pub fn admin_user() -> String {
    format!("[users.admin]\ntoken = \"{ADMIN}\"\nadmin = true\n")
}

/// `GET /admin/usage?{query}`.
pub async fn usage(gw: &Gateway, query: &str) -> Value {
    let resp = client()
        .get(format!("{}/admin/usage?{query}", gw.url))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// The report's rows once their request counts add up to `n` (the writer
/// batches every ~100 ms, and retries a store that was down with
/// up to 5 s of backoff); polls for up to 20 s.
pub async fn rows_once(gw: &Gateway, query: &str, n: i64) -> Vec<Value> {
    let mut last = Value::Null;
    for _ in 0..400 {
        last = usage(gw, query).await;
        let total: i64 = last["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["requests"].as_i64().unwrap())
            .sum();
        if total == n {
            return last["data"].as_array().unwrap().clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the ledger never held {n} requests: {last}");
}
