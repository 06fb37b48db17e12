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
