//! A ledger of schema version 1 migrated in place, and retention.

use super::*;
use crate::ledger::insert::tests::{backend, row};

/// A version-1 row as that version's writer inserted it.
const V1_INSERT: &str = "INSERT INTO usage_rows (id, ts_ms, day, request_id, user_id, model, \
    backend, provider, endpoint, stream, status, attempts, input_tokens, cached_input_tokens, \
    output_tokens, reasoning_tokens, cost_usd, latency_ms, ttft_ms) \
    VALUES (?, ?, ?, ?, 'alice', 'm', 'b', 'p', 'chat_completions', 0, 200, 1, 10, 0, 5, 0, ?, 3.0, NULL)";

fn sqlite(store: &Store) -> &SqlitePool {
    match &store.pool {
        Pool::Sqlite(pool) => pool,
        Pool::Postgres(_) => unreachable!("a SQLite store"),
    }
}

#[tokio::test]
async fn a_version_1_file_migrates_in_place_with_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let config = UsageStore::Sqlite(Some(path.clone()));
    let old = Store::open(&config).unwrap();
    old.migrate_upto(1).await.unwrap();
    for (i, day) in ["2026-01-01", "2026-01-02", "2026-01-02"]
        .iter()
        .enumerate()
    {
        let ts = Date::parse(day).unwrap().start_ms() + i as i64;
        sqlx::query(V1_INSERT)
            .bind(format!("{i:032x}"))
            .bind(ts)
            .bind(*day)
            .bind(format!("req_{i}"))
            .bind(1.5)
            .execute(sqlite(&old))
            .await
            .unwrap();
    }
    drop(old);

    let store = Store::open(&config).unwrap();
    store.migrate().await.unwrap();
    let spend = store.spend_since("2026-01-01").await.unwrap();
    let days: Vec<(&str, f64)> = spend.iter().map(|s| (s.day.as_str(), s.cost_usd)).collect();
    assert_eq!(days, [("2026-01-01", 1.5), ("2026-01-02", 3.0)]);
    // The old rows got integer ids in time order; new rows follow them.
    let b = backend();
    store.insert("w", 1, &[row(7, &b)]).await.unwrap();
    let ids: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, request_id FROM usage_rows ORDER BY id")
            .fetch_all(sqlite(&store))
            .await
            .unwrap();
    let want = [(1, "req_0"), (2, "req_1"), (3, "req_2"), (4, "req_7")];
    assert_eq!(ids, want.map(|(i, r)| (i, r.to_string())));
    // Only the index the queries use is left.
    let indexes: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_rows' \
         AND name NOT LIKE 'sqlite_autoindex%'",
    )
    .fetch_all(sqlite(&store))
    .await
    .unwrap();
    assert_eq!(indexes, [("usage_rows_day_user".to_string(),)]);
    // Migrating again (a restart) changes nothing.
    let before = store.spend_since("2026-01-01").await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.spend_since("2026-01-01").await.unwrap(), before);
}

#[tokio::test]
async fn retention_deletes_exactly_the_rows_that_started_before_the_cutoff() {
    let store = Store::open(&UsageStore::Sqlite(None)).unwrap();
    store.migrate().await.unwrap();
    let b = backend();
    let day2 = Date::parse("2026-01-02").unwrap().start_ms();
    let rows: Vec<Row> = [day2 - 1, day2, day2 + 10, day2 + 11]
        .iter()
        .enumerate()
        .map(|(i, &ts)| Row {
            ts_ms: ts,
            day: Date::of(ts).to_string().into(),
            ..row(i, &b)
        })
        .collect();
    store.insert("w", 1, &rows).await.unwrap();
    assert_eq!(store.delete_before(day2 + 11).await.unwrap(), 3);
    let left = store.spend_since("2026-01-01").await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].day.as_str(), left[0].cost_usd),
        ("2026-01-02", 1.0)
    );
}
