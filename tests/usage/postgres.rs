//! One PostgreSQL ledger for two instances, and a store that goes away
//! mid-run.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{admin_user, rows_once};
use crate::common::{chat, chat_body, gateway, get, mock};
use crate::common_pg::Postgres;

fn text(pg: &Postgres, up: &mock_upstream::MockServer, extra: &str) -> String {
    format!("[usage]\nstore = \"{}\"\n{extra}\n", pg.url())
        + &admin_user()
        + &crate::common::provider("a", up, "")
        + "[models.m]\n"
        + &crate::common::backend("m", "a", "")
        + "[prices.\"up-a\"]\ninput_per_mtok = 1.0\noutput_per_mtok = 4.0\n"
        + &crate::common::user()
}

#[tokio::test]
async fn two_instances_write_one_ledger_whose_totals_add_up() {
    let pg = Postgres::start();
    let up = mock("a").await;
    let (a, b) = (
        gateway(&text(&pg, &up, "")).await,
        gateway(&text(&pg, &up, "")).await,
    );
    let (mut input, mut output) = (0, 0);
    for i in 0..10 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let words = "word ".repeat(i + 1);
        let body = chat_body(json!({"messages": [{"role": "user", "content": words}]}));
        let answer: Value = chat(gw, body).await.json().await.unwrap();
        input += answer["usage"]["prompt_tokens"].as_i64().unwrap();
        output += answer["usage"]["completion_tokens"].as_i64().unwrap();
    }
    let rows = rows_once(&b, "", 10).await;
    assert_eq!(
        (
            rows[0]["input_tokens"].as_i64(),
            rows[0]["output_tokens"].as_i64()
        ),
        (Some(input), Some(output))
    );
    let want = (input as f64 * 1.0 + output as f64 * 4.0) / 1e6;
    assert!((rows[0]["cost_usd"].as_f64().unwrap() - want).abs() < 1e-12);
    let by_instance = rows_once(&a, "group_by=backend,day", 10).await;
    assert_eq!(by_instance.len(), 1, "{by_instance:?}");
}

fn dropped(metrics: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchyard_usage_rows_dropped_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1.0)
}

#[tokio::test]
async fn requests_go_on_while_the_store_is_down_and_rows_follow_within_the_bound() {
    let mut pg = Postgres::start();
    let up = mock("a").await;
    let gw = gateway(&text(&pg, &up, "max_pending_rows = 10")).await;
    for _ in 0..3 {
        assert_eq!(chat(&gw, chat_body(json!({}))).await.status(), 200);
    }
    rows_once(&gw, "", 3).await;
    pg.stop();
    let mut slowest = Duration::ZERO;
    for _ in 0..15 {
        let started = Instant::now();
        assert_eq!(chat(&gw, chat_body(json!({}))).await.status(), 200);
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(500),
        "a request waited for the store: {slowest:?}"
    );
    let metrics = get(&gw, "/metrics", None).await.text().await.unwrap();
    assert_eq!(
        dropped(&metrics),
        5.0,
        "10 rows held, the other 5 dropped and counted"
    );
    pg.run();
    rows_once(&gw, "", 13).await;
}

/// The ledger's first schema, as its first release created it.
const SCHEMA_V1: &str = "CREATE TABLE usage_rows (
    id TEXT PRIMARY KEY, ts_ms BIGINT NOT NULL, day TEXT NOT NULL, request_id TEXT NOT NULL,
    user_id TEXT NOT NULL, model TEXT NOT NULL, backend TEXT NOT NULL, provider TEXT NOT NULL,
    endpoint TEXT NOT NULL, stream BIGINT NOT NULL, status BIGINT NOT NULL, attempts BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL, cached_input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL, cost_usd DOUBLE PRECISION NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL, ttft_ms DOUBLE PRECISION);
CREATE INDEX usage_rows_ts ON usage_rows (ts_ms);
CREATE INDEX usage_rows_day_user ON usage_rows (day, user_id);";

#[tokio::test]
async fn a_ledger_of_the_first_schema_migrates_in_place_with_its_rows() {
    let pg = Postgres::start();
    let pool = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    sqlx::raw_sql(SCHEMA_V1).execute(&pool).await.unwrap();
    let now = switchyard::calendar::unix_ms();
    let today = switchyard::calendar::Date::of(now).to_string();
    for i in 0..3i64 {
        sqlx::query(
            "INSERT INTO usage_rows VALUES ($1, $2, $3, $4, 'alice', 'm', 'a', 'a', \
             'chat_completions', 0, 200, 1, 10, 0, 5, 0, 0.5, 3.0, NULL)",
        )
        .bind(format!("{i:032x}"))
        .bind(now + i)
        .bind(&today)
        .bind(format!("req_{i}"))
        .execute(&pool)
        .await
        .unwrap();
    }
    let up = mock("a").await;
    let gw = gateway(&text(&pg, &up, "")).await;
    let old = rows_once(&gw, "group_by=user", 3).await;
    assert_eq!(
        (old[0]["user"].as_str(), old[0]["cost_usd"].as_f64()),
        (Some("alice"), Some(1.5))
    );
    assert_eq!(chat(&gw, chat_body(json!({}))).await.status(), 200);
    rows_once(&gw, "", 4).await;
    let ids: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, request_id FROM usage_rows ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let numbered: Vec<i64> = ids.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        numbered,
        [1, 2, 3, 4],
        "the old rows numbered in place, the new one after: {ids:?}"
    );
}
