//! The one task that writes ledger rows: it migrates the schema, then
//! inserts what the queue holds in batches (by size, or ~100 ms after the
//! first row of a batch), retrying with backoff while the store is down.
//! Rows stay counted as pending until they are written.
//!
//! While it gathers a batch the writer does not wait on the queue, which
//! would wake it (a task switch) for every row: it sleeps until the
//! batch's time is up or [`Ledger::record`](super::Ledger::record) says a
//! batch's worth of rows is pending, then takes them all at once.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;

use prometheus_client::metrics::counter::Counter;

use super::{Row, Store, SHUTDOWN_FLUSH};
use crate::tasks::Tasks;

/// Rows per insert.
pub(super) const BATCH: usize = 256;
/// How long a batch waits for more rows after its first.
const GATHER: Duration = Duration::from_millis(100);
/// Bound on one call to the store.
const CALL: Duration = Duration::from_secs(5);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

pub(super) struct Writer {
    store: Arc<Store>,
    rx: mpsc::UnboundedReceiver<Row>,
    buffer: VecDeque<Row>,
    pending: Arc<AtomicUsize>,
    dropping: Arc<AtomicBool>,
    ready: watch::Sender<bool>,
    /// Told each time another [`BATCH`] rows are pending.
    full: Arc<Notify>,
    /// Rows lost: counted in `switchyard_usage_rows_dropped_total`.
    dropped: Counter,
    /// The store is failing: logged once until it answers again.
    failing: bool,
    batches: Batches,
}

/// How the store tells a retried batch it already has (see
/// [`Store::insert`]): this writer's random name, and batch numbers.
struct Batches {
    writer: String,
    next: i64,
    /// The batch tried and not known to be in: its number and row count.
    /// A retry sends those rows again under that number, whatever came
    /// since, so that a batch that did go in is recognised whole.
    tried: Option<(i64, usize)>,
}

impl Writer {
    pub(super) fn new(
        store: Arc<Store>,
        rx: mpsc::UnboundedReceiver<Row>,
        pending: Arc<AtomicUsize>,
        dropping: Arc<AtomicBool>,
        ready: watch::Sender<bool>,
        full: Arc<Notify>,
        dropped: Counter,
    ) -> Self {
        Writer {
            store,
            rx,
            buffer: VecDeque::new(),
            pending,
            dropping,
            ready,
            full,
            dropped,
            failing: false,
            batches: Batches {
                writer: format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
                next: 1,
                tried: None,
            },
        }
    }

    /// Runs until `tasks` stop, then flushes within [`SHUTDOWN_FLUSH`].
    pub(super) async fn run(mut self, tasks: Tasks) {
        let mut backoff = BACKOFF_MIN;
        let mut migrated = false;
        loop {
            if !migrated {
                let store = self.store.clone();
                migrated = self.outcome("migrate", store.migrate()).await;
                let _ = self.ready.send(migrated);
            }
            if tasks.is_stopped() {
                break;
            }
            if migrated && !self.buffer.is_empty() {
                // A stop does not wait for a slow insert: the batch stays
                // buffered and the flush writes it (a batch already in is
                // recognised by its number).
                let written = tokio::select! {
                    _ = tasks.stopped() => break,
                    written = self.write_batch() => written,
                };
                if written {
                    backoff = BACKOFF_MIN;
                    continue;
                }
            } else if migrated {
                // Idle: wait for a first row, then gather a batch.
                tokio::select! {
                    _ = tasks.stopped() => break,
                    row = self.rx.recv() => match row {
                        Some(row) => self.buffer.push_back(row),
                        None => break,
                    },
                }
                self.gather(&tasks).await;
                continue;
            }
            // The store failed: keep taking rows while waiting to retry.
            let retry = Instant::now() + backoff;
            backoff = (backoff * 2).min(BACKOFF_MAX);
            loop {
                tokio::select! {
                    _ = tasks.stopped() => return self.flush().await,
                    _ = tokio::time::sleep_until(retry) => break,
                    row = self.rx.recv() => match row {
                        Some(row) => self.buffer.push_back(row),
                        None => return self.flush().await,
                    },
                }
            }
        }
        self.flush().await;
    }

    /// Takes rows for up to [`GATHER`] or until a batch is full. Pending
    /// rows are all in the buffer or the queue here (nothing is being
    /// written), so the batch is full when the count says so.
    async fn gather(&mut self, tasks: &Tasks) {
        let until = Instant::now() + GATHER;
        loop {
            self.take_queued();
            if self.buffer.len() >= BATCH || tasks.is_stopped() {
                return;
            }
            tokio::select! {
                _ = tasks.stopped() => return,
                _ = tokio::time::sleep_until(until) => return self.take_queued(),
                _ = self.full.notified() => {}
            }
        }
    }

    /// Writes the oldest batch; true when it went in.
    async fn write_batch(&mut self) -> bool {
        let b = &mut self.batches;
        let (number, n) = *b
            .tried
            .get_or_insert((b.next, self.buffer.len().min(BATCH)));
        // Written from the buffer itself, not a copy of its rows.
        let rows = &self.buffer.make_contiguous()[..n];
        let result = bounded(self.store.insert(&b.writer, number, rows)).await;
        if !self.judge("insert", result) {
            return false;
        }
        self.batches.tried = None;
        self.batches.next += 1;
        self.buffer.drain(..n);
        self.pending.fetch_sub(n, Ordering::AcqRel);
        self.dropping.store(false, Ordering::Release);
        true
    }

    /// One bounded call, logging the first failure of an incident and the recovery.
    async fn outcome<T>(
        &mut self,
        op: &'static str,
        call: impl Future<Output = Result<T, super::StoreError>>,
    ) -> bool {
        let result = bounded(call).await;
        self.judge(op, result)
    }

    /// Logs the first failure of an incident and the recovery; true on success.
    fn judge(&mut self, op: &'static str, result: Result<(), String>) -> bool {
        match result {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!(target: "switchyard::usage", store = %self.store.shown(),
                    "usage ledger store reachable again");
                true
            }
            Ok(()) => true,
            Err(e) => {
                if !self.failing {
                    self.failing = true;
                    tracing::warn!(target: "switchyard::usage", store = %self.store.shown(), op,
                        error = %e, pending = self.buffer.len(),
                        "usage ledger store unreachable: holding rows in memory and retrying");
                }
                false
            }
        }
    }

    /// At shutdown: everything queued, rows that arrive meanwhile
    /// included, within [`SHUTDOWN_FLUSH`]; what is left is lost and counted.
    async fn flush(mut self) {
        let until = Instant::now() + SHUTDOWN_FLUSH;
        let work = async {
            let store = self.store.clone();
            let _ = self.outcome("migrate", store.migrate()).await;
            loop {
                self.take_queued();
                if self.buffer.is_empty() || !self.write_batch().await {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout_at(until, work).await;
        // No retry will come: the mark has done its work.
        let forget = self.store.forget(&self.batches.writer);
        let _ = tokio::time::timeout_at(until, forget).await;
        self.take_queued();
        let lost = self.buffer.len();
        if lost > 0 {
            self.dropped.inc_by(lost as u64);
            self.pending.fetch_sub(lost, Ordering::AcqRel);
            tracing::warn!(target: "switchyard::usage", lost,
                "usage ledger: rows not written at shutdown (counted in switchyard_usage_rows_dropped_total)");
        }
    }

    fn take_queued(&mut self) {
        while let Ok(row) = self.rx.try_recv() {
            self.buffer.push_back(row);
        }
    }
}

/// `call` within [`CALL`], its error as text.
async fn bounded<T>(
    call: impl Future<Output = Result<T, super::StoreError>>,
) -> Result<(), String> {
    match tokio::time::timeout(CALL, call).await {
        Ok(r) => r.map(|_| ()).map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {CALL:?}")),
    }
}

/// Deletes rows older than `keep`, hourly.
pub(super) async fn retain(store: Arc<Store>, keep: Duration) {
    loop {
        let cutoff = crate::calendar::unix_ms() - keep.as_millis().min(i64::MAX as u128) as i64;
        match tokio::time::timeout(CALL * 6, store.delete_before(cutoff)).await {
            Ok(Ok(n)) if n > 0 => {
                tracing::info!(target: "switchyard::usage", deleted = n, "usage ledger retention")
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "switchyard::usage", error = %e, "usage ledger retention failed")
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
