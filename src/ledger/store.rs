//! The ledger's tables through sqlx: SQLite (embedded: a file, or memory)
//! or PostgreSQL (several instances writing one ledger). One schema and the
//! same SQL serve both (but for a schema version's DDL, see [`super::schema`]);
//! `on_pool!` runs a statement on whichever it is.
//! Migrations run through sqlx's migrator, which locks against other
//! instances migrating at the same time.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Row as _, SqlitePool};

use super::insert::{insert_statement, sqlite_chunk, unnest};
use super::report::{Bind, Report, Total};
use super::schema::Schema;
use super::Row;
use crate::calendar::Date;
use crate::config::UsageStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Db(String),
    #[error("migrating the schema: {0}")]
    Migrate(String),
}

/// sqlx errors can quote a connection string; only their kind and message
/// without it are kept.
fn db(e: sqlx::Error) -> StoreError {
    StoreError::Db(match &e {
        sqlx::Error::Configuration(_) => "invalid store configuration".to_string(),
        other => other.to_string(),
    })
}

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the store's pool, whichever kind it is.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

/// Moves a writer's batch mark forward; changes nothing (0 rows) when
/// the mark is already at the batch.
const MARK: &str = "INSERT INTO usage_writers (writer, batch) VALUES ($1, $2) \
    ON CONFLICT (writer) DO UPDATE SET batch = excluded.batch WHERE usage_writers.batch < excluded.batch";

pub struct Store {
    pool: Pool,
    shown: String,
}

/// Spend in one (user, model, day), for rebuilding budget windows.
#[derive(Debug, Clone, PartialEq)]
pub struct Spend {
    pub user: String,
    pub model: String,
    pub day: String,
    pub cost_usd: f64,
}

impl Store {
    /// The pool for `store`, connecting lazily. Needs a Tokio runtime.
    pub fn open(store: &UsageStore) -> Result<Store, StoreError> {
        let acquire = Duration::from_secs(5);
        let pool = match store {
            UsageStore::Off => return Err(StoreError::Db("the ledger is off".into())),
            UsageStore::Sqlite(None) => {
                let opts = SqliteConnectOptions::from_str("sqlite::memory:").map_err(db)?;
                // One connection that never closes: the database lives as long as it.
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .acquire_timeout(acquire)
                    .connect_lazy_with(opts);
                Pool::Sqlite(pool)
            }
            UsageStore::Sqlite(Some(path)) => {
                let opts = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5));
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(acquire)
                    .connect_lazy_with(opts);
                Pool::Sqlite(pool)
            }
            UsageStore::Postgres(url) => {
                let opts = PgConnectOptions::from_str(url.expose()).map_err(db)?;
                let pool = PgPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(acquire)
                    .connect_lazy_with(opts);
                Pool::Postgres(pool)
            }
        };
        Ok(Store {
            pool,
            shown: store.shown(),
        })
    }

    /// The store as logs may show it (a URL's password redacted).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.migrate_upto(i64::MAX).await
    }

    /// Migrates up to schema version `upto` (tests build older databases).
    pub(super) async fn migrate_upto(&self, upto: i64) -> Result<(), StoreError> {
        let postgres = matches!(self.pool, Pool::Postgres(_));
        let schema = Schema {
            upto,
            ..Schema::latest(postgres)
        };
        let migrator = Migrator::new(schema)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        let result = on_pool!(self, pool => migrator.run(pool).await);
        result.map_err(|e| StoreError::Migrate(e.to_string()))
    }

    /// Inserts `rows`, the batch numbered `batch` of `writer` (numbers
    /// increase, a retry keeps its number and rows), in one transaction.
    /// The transaction first moves the writer's mark in `usage_writers` to
    /// `batch`; a mark already there (the batch went in, and only its
    /// answer was lost) leaves the rows out. One mark per batch instead of
    /// a unique key per row keeps the rows' table to one B-tree insert.
    ///
    /// SQLite takes the rows in statements of [`CHUNKS`] rows each,
    /// largest first: only those few statement texts exist, and sqlx
    /// prepares each once per connection and keeps it. One statement of
    /// the batch's own size, a new text for nearly every batch, had SQLite
    /// parse ~4,900 placeholders each time: half of the writer's CPU.
    /// PostgreSQL takes the whole batch in one statement of one array per
    /// column (see [`unnest`]).
    ///
    /// [`CHUNKS`]: super::insert::CHUNKS
    pub async fn insert(&self, writer: &str, batch: i64, rows: &[Row]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let result = match &self.pool {
            Pool::Sqlite(pool) => {
                async {
                    let mut tx = pool.begin().await?;
                    let marked = sqlx::query(MARK)
                        .bind(writer)
                        .bind(batch)
                        .execute(&mut *tx)
                        .await?;
                    if marked.rows_affected() == 0 {
                        return tx.rollback().await;
                    }
                    let mut rest = rows;
                    while !rest.is_empty() {
                        let (sql, n) = insert_statement(rest.len());
                        let (chunk, tail) = rest.split_at(n);
                        sqlite_chunk(sql, chunk)?.execute(&mut *tx).await?;
                        rest = tail;
                    }
                    tx.commit().await
                }
                .await
            }
            Pool::Postgres(pool) => {
                async {
                    let mut tx = pool.begin().await?;
                    let marked = sqlx::query(MARK)
                        .bind(writer)
                        .bind(batch)
                        .execute(&mut *tx)
                        .await?;
                    if marked.rows_affected() == 0 {
                        return tx.rollback().await;
                    }
                    unnest(rows).execute(&mut *tx).await?;
                    tx.commit().await
                }
                .await
            }
        };
        result.map_err(db)
    }

    /// Drops `writer`'s batch mark once it will not retry (it stops).
    pub async fn forget(&self, writer: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM usage_writers WHERE writer = $1";
        let result =
            on_pool!(self, pool => sqlx::query(sql).bind(writer).execute(pool).await.map(|_| ()));
        result.map_err(db)
    }

    /// Deletes rows that started before `cutoff_ms`; how many went. A row's
    /// day is that of its start, so the day condition adds nothing but lets
    /// the `(day, user_id)` index find the rows (there is no time index:
    /// one per row inserted cost more than this hourly query saves).
    pub async fn delete_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let sql = "DELETE FROM usage_rows WHERE day <= $1 AND ts_ms < $2";
        let day = Date::of(cutoff_ms).to_string();
        let result = on_pool!(self, pool => sqlx::query(sql)
            .bind(day.as_str())
            .bind(cutoff_ms)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()));
        result.map_err(db)
    }

    /// Spend per user, model and day since `day` (inclusive).
    pub async fn spend_since(&self, day: &str) -> Result<Vec<Spend>, StoreError> {
        let sql = "SELECT user_id, model, day, COALESCE(SUM(cost_usd), 0.0) FROM usage_rows \
                   WHERE day >= $1 GROUP BY user_id, model, day";
        let result = on_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(day.to_string()).fetch_all(pool).await;
            rows.and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok(Spend {
                            user: r.try_get(0)?,
                            model: r.try_get(1)?,
                            day: r.try_get(2)?,
                            cost_usd: r.try_get(3)?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            })
        });
        result.map_err(db)
    }

    /// Totals per group for a report.
    pub async fn totals(&self, q: &Report) -> Result<Vec<Total>, StoreError> {
        let keys = q.group_by.len();
        let result = on_pool!(self, pool => {
            let (sql, binds) = q.sql();
            let mut query = sqlx::query(&sql);
            for Bind::Text(v) in binds {
                query = query.bind(v);
            }
            let rows = query.fetch_all(pool).await;
            rows.and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        let mut t = Total::default();
                        for (i, g) in q.group_by.iter().enumerate() {
                            t.set(*g, r.try_get::<String, _>(i)?);
                        }
                        t.requests = r.try_get(keys)?;
                        t.input_tokens = r.try_get(keys + 1)?;
                        t.cached_input_tokens = r.try_get(keys + 2)?;
                        t.output_tokens = r.try_get(keys + 3)?;
                        t.reasoning_tokens = r.try_get(keys + 4)?;
                        t.cost_usd = r.try_get(keys + 5)?;
                        Ok(t)
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            })
        });
        result.map_err(db)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
