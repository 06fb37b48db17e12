//! The ledger's tables through sqlx: SQLite (embedded: a file, or memory)
//! or PostgreSQL (several instances writing one ledger). One schema and the
//! same SQL serve both; `on_pool!` runs a statement on whichever it is.
//! Migrations run through sqlx's migrator, which locks against other
//! instances migrating at the same time.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Row as _, SqlitePool};

use super::insert::{bind_row, insert_statement, Placeholders};
use super::report::{Bind, Report, Total};
use super::Row;
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

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS usage_rows (
    id TEXT PRIMARY KEY,
    ts_ms BIGINT NOT NULL,
    day TEXT NOT NULL,
    request_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    model TEXT NOT NULL,
    backend TEXT NOT NULL,
    provider TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    stream BIGINT NOT NULL,
    status BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    cached_input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    ttft_ms DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS usage_rows_ts ON usage_rows (ts_ms);
CREATE INDEX IF NOT EXISTS usage_rows_day_user ON usage_rows (day, user_id);";

/// The schema's versions, oldest first; a new version is a new entry.
#[derive(Debug)]
struct Schema;

impl MigrationSource<'static> for Schema {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async {
            Ok(vec![Migration::new(
                1,
                Cow::Borrowed("usage rows"),
                MigrationType::Simple,
                Cow::Borrowed(SCHEMA),
                false,
            )])
        })
    }
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
        let migrator = Migrator::new(Schema)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        let result = on_pool!(self, pool => migrator.run(pool).await);
        result.map_err(|e| StoreError::Migrate(e.to_string()))
    }

    /// Inserts `rows` in one transaction; rows already there (a retried
    /// batch) are skipped. The rows go in statements of [`CHUNKS`] rows
    /// each, largest first: only those few statement texts exist, and sqlx
    /// prepares each once per connection and keeps it. One statement of
    /// the batch's own size, a new text for nearly every batch, had SQLite
    /// parse ~4,900 placeholders each time: half of the writer's CPU.
    pub async fn insert(&self, rows: &[Row]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let placeholders = match self.pool {
            Pool::Sqlite(_) => Placeholders::Question,
            Pool::Postgres(_) => Placeholders::Numbered,
        };
        let result = on_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let mut rest = rows;
            while !rest.is_empty() {
                let (sql, n) = insert_statement(rest.len(), placeholders);
                let (chunk, tail) = rest.split_at(n);
                let query = chunk.iter().fold(sqlx::query(sql), bind_row);
                query.execute(&mut *tx).await?;
                rest = tail;
            }
            tx.commit().await
        }
        .await);
        result.map_err(db)
    }

    /// Deletes rows that started before `cutoff_ms`; how many went.
    pub async fn delete_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let result = on_pool!(self, pool => sqlx::query("DELETE FROM usage_rows WHERE ts_ms < $1")
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
