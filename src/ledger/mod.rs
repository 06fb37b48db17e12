//! The usage ledger: one row per request that reached an upstream, with
//! the backend that really served it, its tokens and its cost.
//!
//! Rows are written beside the request, never in it: [`Ledger::record`]
//! counts the row against `usage.max_pending_rows` and queues it, and one
//! background task (`writer`) inserts them in batches, retrying with
//! backoff while the store is down. A row that would pass the bound is
//! dropped, counted in `switchyard_usage_rows_dropped_total` and logged
//! once per incident. The writer flushes what is queued when the gateway
//! stops. Stores ([`store`]): SQLite (a file, or memory) and PostgreSQL.

mod insert;
pub mod report;
mod schema;
pub mod store;
mod writer;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::sync::{mpsc, watch, Notify};

use crate::calendar::{self, Date};
use crate::config::{Backend, UsageConfig, UsageStore};
use crate::tasks::Tasks;
use crate::telemetry::RequestRecord;
pub use store::{Spend, Store, StoreError};

/// How long the writer may take to flush its queue at shutdown; the
/// server's drain waits longer than this.
pub const SHUTDOWN_FLUSH: Duration = Duration::from_secs(3);

/// One request, as the ledger keeps it. Built on the request path, so
/// what can be shared is: the day's text, the serving backend (its id
/// and provider id), the endpoint's name.
#[derive(Debug, Clone)]
pub struct Row {
    /// When the request started, Unix ms.
    pub ts_ms: i64,
    /// Its UTC day, `YYYY-MM-DD`.
    pub day: Arc<str>,
    pub request_id: String,
    pub user: String,
    pub model: String,
    /// The backend that served it (the row keeps its id and provider's id).
    pub backend: Arc<Backend>,
    pub endpoint: &'static str,
    pub stream: bool,
    pub status: u16,
    pub attempts: u32,
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
}

impl Row {
    /// The row of a finished request; `None` for one that reached no upstream.
    pub fn of(record: &RequestRecord, status: u16) -> Option<Row> {
        let latency = record.start.elapsed();
        record.read(|f| {
            let served = f.backend.as_ref()?;
            let usage = f.usage.unwrap_or_default();
            let ts_ms = calendar::unix_ms() - latency.as_millis() as i64;
            Some(Row {
                ts_ms,
                day: day_text(ts_ms),
                request_id: record.id.clone(),
                user: f.user.clone().unwrap_or_default(),
                model: f.model.clone().unwrap_or_default(),
                backend: served.clone(),
                endpoint: f.endpoint.unwrap_or(""),
                stream: f.stream,
                status,
                attempts: f.attempts.len() as u32,
                input_tokens: usage.prompt_tokens,
                cached_input_tokens: usage.cached_tokens,
                output_tokens: usage.completion_tokens,
                reasoning_tokens: usage.reasoning_tokens,
                cost_usd: f.cost_usd().unwrap_or(0.0),
                latency_ms: latency.as_secs_f64() * 1000.0,
                ttft_ms: f.ttft.map(|t| t.as_secs_f64() * 1000.0),
            })
        })
    }
}

/// The UTC day of `ms` as text: formatted once a day per thread, then
/// shared by that day's rows.
fn day_text(ms: i64) -> Arc<str> {
    thread_local! {
        static LAST: RefCell<(Date, Arc<str>)> = RefCell::new((Date::of(0), Arc::from("1970-01-01")));
    }
    let date = Date::of(ms);
    LAST.with_borrow_mut(|(day, text)| {
        if *day != date {
            *day = date;
            *text = Arc::from(date.to_string());
        }
        text.clone()
    })
}

/// The request path's side of the ledger; cheap to share.
pub struct Ledger {
    /// `None` with `store = "off"`.
    store: Option<Arc<Store>>,
    queue: Option<mpsc::UnboundedSender<Row>>,
    pending: Arc<AtomicUsize>,
    /// Tells the writer another batch's worth of rows is pending.
    full: Arc<Notify>,
    bound: usize,
    dropped: Counter,
    /// A drop incident is going on: logged once until rows flow again.
    dropping: Arc<AtomicBool>,
    ready: watch::Receiver<bool>,
}

impl Ledger {
    /// Opens the store (lazily: a store that is down does not stop the
    /// gateway) and starts the writer and the retention task under `tasks`.
    pub fn start(cfg: &UsageConfig, dropped: Counter, tasks: &Tasks) -> Result<Ledger, StoreError> {
        let (ready_tx, ready) = watch::channel(false);
        let pending = Arc::new(AtomicUsize::new(0));
        let dropping = Arc::new(AtomicBool::new(false));
        let mut ledger = Ledger {
            store: None,
            queue: None,
            pending: pending.clone(),
            full: Arc::new(Notify::new()),
            bound: cfg.max_pending_rows,
            dropped,
            dropping: dropping.clone(),
            ready,
        };
        // Outside a runtime (a config check) nothing could write.
        if cfg.store == UsageStore::Off || tokio::runtime::Handle::try_current().is_err() {
            let _ = ready_tx.send(true);
            return Ok(ledger);
        }
        let store = Arc::new(Store::open(&cfg.store)?);
        let (tx, rx) = mpsc::unbounded_channel();
        let dropped = ledger.dropped.clone();
        let full = ledger.full.clone();
        let writer = writer::Writer::new(
            store.clone(),
            rx,
            pending,
            dropping,
            ready_tx,
            full,
            dropped,
        );
        tasks.spawn_until_done("usage ledger writer", writer.run(tasks.clone()));
        if let Some(keep) = cfg.retention {
            tasks.spawn("usage retention", writer::retain(store.clone(), keep));
        }
        ledger.store = Some(store);
        ledger.queue = Some(tx);
        Ok(ledger)
    }

    /// Queues the row of a finished request that reached an upstream.
    /// Never waits: past the bound the row is dropped and counted.
    pub fn record(&self, record: &RequestRecord, status: u16) {
        let Some(queue) = &self.queue else { return };
        let Some(row) = Row::of(record, status) else {
            return;
        };
        let taken = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.bound).then_some(n + 1)
            });
        let Ok(before) = taken else {
            self.dropped.inc();
            if !self.dropping.swap(true, Ordering::AcqRel) {
                tracing::warn!(target: "switchyard::usage", pending = self.bound,
                    "usage ledger: the store is behind and the queue is full; dropping rows (counted in switchyard_usage_rows_dropped_total)");
            }
            return;
        };
        if queue.send(row).is_err() {
            // The writer has stopped (the gateway is shutting down).
            self.pending.fetch_sub(1, Ordering::AcqRel);
            self.dropped.inc();
        } else if (before + 1) % writer::BATCH == 0 {
            self.full.notify_one();
        }
    }

    /// The store, for reports and for rebuilding budgets; `None` when off.
    pub fn store(&self) -> Option<&Arc<Store>> {
        self.store.as_ref()
    }

    /// Waits, at most `limit`, until the schema is in place (true) or the
    /// store gave up for now (false).
    pub async fn ready(&self, limit: Duration) -> bool {
        let mut ready = self.ready.clone();
        let waited = tokio::time::timeout(limit, ready.wait_for(|r| *r)).await;
        matches!(waited, Ok(Ok(_)))
    }

    /// Rows queued or waiting for the store.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }
}
