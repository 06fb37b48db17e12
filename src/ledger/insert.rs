//! The insert statements of the ledger's writer: a few fixed texts, so
//! that sqlx prepares each once per connection and keeps it (see
//! [`super::Store::insert`]).

use std::sync::OnceLock;

use sqlx::error::BoxDynError;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments as _, Postgres, Sqlite};

use super::Row;

/// The table's columns, in the order [`sqlite_chunk`] and [`unnest`] bind them.
pub(super) const COLUMNS: &str =
    "ts_ms, day, request_id, user_id, model, backend, provider, endpoint, \
    stream, status, attempts, input_tokens, cached_input_tokens, output_tokens, \
    reasoning_tokens, cost_usd, latency_ms, ttft_ms";

/// Values per row: the columns.
const PER_ROW: usize = 18;

/// Rows per insert statement; every batch size is a sum of these.
pub(super) const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// The SQLite insert statement for the largest chunk that `left` rows
/// fill, and its row count. Its placeholders are `?`, which SQLite binds
/// by position (its `$N` are names, which sqlx looks up one by one for
/// every value: quadratic in a batch).
pub(super) fn insert_statement(left: usize) -> (&'static str, usize) {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| CHUNKS.iter().map(|&n| insert_sql(n)).collect());
    let i = CHUNKS
        .iter()
        .position(|&n| n <= left)
        .unwrap_or(CHUNKS.len() - 1);
    (texts[i].as_str(), CHUNKS[i])
}

fn insert_sql(rows: usize) -> String {
    let values = vec!["?"; PER_ROW].join(", ");
    let tuples = vec![format!("({values})"); rows].join(", ");
    format!("INSERT INTO usage_rows ({COLUMNS}) VALUES {tuples}")
}

/// The SQLite statement `sql` with `rows` bound, in [`COLUMNS`] order,
/// borrowing their text. The values go straight into one argument list
/// sized for them, not through `Query::bind`, which moves the query by
/// value for every one of the 18 values a row has.
pub(super) fn sqlite_chunk<'q>(
    sql: &'q str,
    rows: &'q [Row],
) -> Result<Query<'q, Sqlite, SqliteArguments<'q>>, sqlx::Error> {
    let mut args = SqliteArguments::default();
    args.reserve(rows.len() * PER_ROW, 0);
    for r in rows {
        add_row(&mut args, r).map_err(sqlx::Error::Encode)?;
    }
    Ok(sqlx::query_with(sql, args))
}

fn add_row<'q>(a: &mut SqliteArguments<'q>, r: &'q Row) -> Result<(), BoxDynError> {
    a.add(r.ts_ms)?;
    a.add(&*r.day)?;
    a.add(r.request_id.as_str())?;
    a.add(r.user.as_str())?;
    a.add(r.model.as_str())?;
    a.add(r.backend.id.as_str())?;
    a.add(r.backend.provider.id.as_str())?;
    a.add(r.endpoint)?;
    a.add(i64::from(r.stream))?;
    a.add(i64::from(r.status))?;
    a.add(i64::from(r.attempts))?;
    a.add(count(r.input_tokens))?;
    a.add(count(r.cached_input_tokens))?;
    a.add(count(r.output_tokens))?;
    a.add(count(r.reasoning_tokens))?;
    a.add(r.cost_usd)?;
    a.add(r.latency_ms)?;
    a.add(r.ttft_ms)
}

/// PostgreSQL's insert of a whole batch: one array per column, which
/// `UNNEST` turns back into rows (in array order, so the ids follow the
/// batch). One statement text for every batch size, and 18 values to
/// bind instead of 18 per row: the gateway encodes each array in one go.
const UNNEST: &str = "INSERT INTO usage_rows (ts_ms, day, request_id, user_id, model, backend, \
    provider, endpoint, stream, status, attempts, input_tokens, cached_input_tokens, \
    output_tokens, reasoning_tokens, cost_usd, latency_ms, ttft_ms) SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
    $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::bigint[], \
    $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::float8[], \
    $17::float8[], $18::float8[])";

/// [`UNNEST`] with `rows` bound, column by column, borrowing their text.
pub(super) fn unnest(rows: &[Row]) -> Query<'_, Postgres, PgArguments> {
    let ints = |f: fn(&Row) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
    let texts = |f: fn(&Row) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let floats = |f: fn(&Row) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    sqlx::query(UNNEST)
        .bind(ints(|r| r.ts_ms))
        .bind(texts(|r| &r.day))
        .bind(texts(|r| &r.request_id))
        .bind(texts(|r| &r.user))
        .bind(texts(|r| &r.model))
        .bind(texts(|r| &r.backend.id))
        .bind(texts(|r| &r.backend.provider.id))
        .bind(texts(|r| r.endpoint))
        .bind(ints(|r| i64::from(r.stream)))
        .bind(ints(|r| i64::from(r.status)))
        .bind(ints(|r| i64::from(r.attempts)))
        .bind(ints(|r| count(r.input_tokens)))
        .bind(ints(|r| count(r.cached_input_tokens)))
        .bind(ints(|r| count(r.output_tokens)))
        .bind(ints(|r| count(r.reasoning_tokens)))
        .bind(floats(|r| r.cost_usd))
        .bind(floats(|r| r.latency_ms))
        .bind(rows.iter().map(|r| r.ttft_ms).collect::<Vec<Option<f64>>>())
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
            let (sql, n) = insert_statement(left);
            assert!(n <= left && CHUNKS.contains(&n), "{left}");
            assert_eq!(sql.matches('?').count(), n * 18);
        }
        assert_eq!(COLUMNS.split(',').count(), PER_ROW);
        assert!(UNNEST.contains(&format!("({COLUMNS})")));
        assert!(UNNEST.contains("$18::float8[])") && !UNNEST.contains("$19"));
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
