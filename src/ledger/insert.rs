//! The insert statements of the ledger's writer: a few fixed texts, so
//! that sqlx prepares each once per connection and keeps it (see
//! [`super::Store::insert`]).

use std::sync::OnceLock;

use super::Row;

/// The table's columns, in the order [`bind_row`] binds them.
pub(super) const COLUMNS: &str =
    "ts_ms, day, request_id, user_id, model, backend, provider, endpoint, \
    stream, status, attempts, input_tokens, cached_input_tokens, output_tokens, \
    reasoning_tokens, cost_usd, latency_ms, ttft_ms";

/// Rows per insert statement; every batch size is a sum of these.
pub(super) const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// How a statement's placeholders are written: SQLite binds `?` by
/// position (its `$N` are names, which sqlx looks up one by one for every
/// value: quadratic in a batch), PostgreSQL needs `$N`.
#[derive(Clone, Copy)]
pub(super) enum Placeholders {
    Question,
    Numbered,
}

/// The insert statement for the largest chunk that `left` rows fill, and
/// its row count.
pub(super) fn insert_statement(left: usize, p: Placeholders) -> (&'static str, usize) {
    static TEXTS: OnceLock<[Vec<String>; 2]> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        [Placeholders::Question, Placeholders::Numbered]
            .map(|p| CHUNKS.iter().map(|&n| insert_sql(n, p)).collect())
    });
    let i = CHUNKS
        .iter()
        .position(|&n| n <= left)
        .unwrap_or(CHUNKS.len() - 1);
    (texts[p as usize][i].as_str(), CHUNKS[i])
}

fn insert_sql(rows: usize, p: Placeholders) -> String {
    let per_row = COLUMNS.split(',').count();
    let mut sql = format!("INSERT INTO usage_rows ({COLUMNS}) VALUES ");
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..per_row {
            if c > 0 {
                sql.push_str(", ");
            }
            match p {
                Placeholders::Question => sql.push('?'),
                Placeholders::Numbered => sql.push_str(&format!("${}", r * per_row + c + 1)),
            }
        }
        sql.push(')');
    }
    sql
}

/// Binds one row's values, in [`COLUMNS`] order, borrowing its text.
pub(super) fn bind_row<'q, DB>(
    q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    r: &'q Row,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<f64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    q.bind(r.ts_ms)
        .bind(&*r.day)
        .bind(r.request_id.as_str())
        .bind(r.user.as_str())
        .bind(r.model.as_str())
        .bind(r.backend.id.as_str())
        .bind(r.backend.provider.id.as_str())
        .bind(r.endpoint)
        .bind(i64::from(r.stream))
        .bind(i64::from(r.status))
        .bind(i64::from(r.attempts))
        .bind(count(r.input_tokens))
        .bind(count(r.cached_input_tokens))
        .bind(count(r.output_tokens))
        .bind(count(r.reasoning_tokens))
        .bind(r.cost_usd)
        .bind(r.latency_ms)
        .bind(r.ttft_ms)
}

/// A token count as SQL's signed BIGINT.
fn count(n: u64) -> i64 {
    n.min(i64::MAX as u64) as i64
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{Backend, UsageStore};
    use crate::ledger::Store;

    pub(crate) fn backend() -> Arc<Backend> {
        let text = "[providers.p]\nbase_url = \"http://x\"\n[models.m]\n[[models.m.backends]]\nprovider = \"p\"\nmodel = \"x\"\n[users.u]\ntoken = \"t\"\n";
        let config = crate::config::parse(text, &|_| None).unwrap();
        config.models["m"].backends[0].clone()
    }

    pub(crate) fn row(i: usize, backend: &Arc<Backend>) -> Row {
        Row {
            ts_ms: 1_767_225_600_000 + i as i64,
            day: "2026-01-01".into(),
            request_id: format!("req_{i}"),
            user: "u".into(),
            model: "m".into(),
            backend: backend.clone(),
            endpoint: "chat_completions",
            stream: false,
            status: 200,
            attempts: 1,
            input_tokens: 1,
            cached_input_tokens: 0,
            output_tokens: 1,
            reasoning_tokens: 0,
            cost_usd: 1.0,
            latency_ms: 1.0,
            ttft_ms: None,
        }
    }

    #[test]
    fn every_batch_size_is_a_sum_of_chunks() {
        for left in 1..300 {
            let (sql, n) = insert_statement(left, Placeholders::Question);
            assert!(n <= left && CHUNKS.contains(&n), "{left}");
            assert_eq!(sql.matches('?').count(), n * 18);
            let (sql, _) = insert_statement(left, Placeholders::Numbered);
            assert!(
                sql.contains(&format!("${}", n * 18)) && !sql.contains(&format!("${}", n * 18 + 1))
            );
        }
    }

    #[tokio::test]
    async fn a_batch_of_odd_size_goes_in_whole_and_a_retry_adds_nothing() {
        let store = Store::open(&UsageStore::Sqlite(None)).unwrap();
        store.migrate().await.unwrap();
        let b = backend();
        let rows: Vec<Row> = (0..64 + 16 + 4 + 3).map(|i| row(i, &b)).collect();
        store.insert("w", 1, &rows).await.unwrap();
        store.insert("w", 1, &rows).await.unwrap();
        let spend = store.spend_since("2026-01-01").await.unwrap();
        assert_eq!(spend.len(), 1);
        assert_eq!(spend[0].cost_usd, rows.len() as f64);
        // The next batch, and another writer's first, go in.
        store.insert("w", 2, &rows[..10]).await.unwrap();
        store.insert("v", 1, &rows[..5]).await.unwrap();
        let spend = store.spend_since("2026-01-01").await.unwrap();
        assert_eq!(spend[0].cost_usd, (rows.len() + 15) as f64);
        // A stopped writer's mark goes; another's stays.
        store.forget("w").await.unwrap();
        store.insert("v", 1, &rows[..5]).await.unwrap();
        let spend = store.spend_since("2026-01-01").await.unwrap();
        assert_eq!(spend[0].cost_usd, (rows.len() + 15) as f64);
    }
}
