//! Exact limits' second call, in batches: when a request ends, its lease
//! must be freed and its token windows corrected. That call used to be its
//! own task and its own round trip per request; now finished requests
//! queue here and one task sends what has queued as one pipeline, so a
//! busy gateway pays one round trip per batch instead of per request.
//! Nothing waits on it: the response is over, and a lost finish only costs
//! precision (the lease expires, the estimate stands).

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::sync::{Arc, Mutex, Weak};

use redis::{ErrorKind, ServerErrorKind};
use tokio::sync::mpsc;

use super::limits::{invocation, SCRIPT};
use super::Shared;
use crate::limits::Scope;

/// Finishes waiting for the batcher; past this they are dropped (and
/// counted as store errors): the store is far behind.
const QUEUE: usize = 16_384;
/// Finishes per pipeline.
const BATCH: usize = 128;

/// A finished request's call.
pub(super) struct Finish {
    pub scopes: Vec<Arc<Scope>>,
    pub lease: String,
    pub delta: i64,
}

pub(super) struct Finishes {
    tx: mpsc::Sender<Finish>,
    /// The batcher's end, until the first finish starts it.
    rx: Mutex<Option<mpsc::Receiver<Finish>>>,
    started: AtomicBool,
}

impl Finishes {
    pub(super) fn new() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Finishes {
            tx,
            rx: Mutex::new(Some(rx)),
            started: AtomicBool::new(false),
        }
    }

    /// Queues `f`; the first call starts the batcher on the current
    /// runtime (it ends when the store is dropped).
    pub(super) fn send(&self, shared: &Arc<Shared>, f: Finish) {
        if !self.started.load(Acquire) {
            self.start(shared);
        }
        if self.tx.try_send(f).is_err() {
            shared.errors.inc();
        }
    }

    fn start(&self, shared: &Arc<Shared>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.started.swap(true, AcqRel) {
            return;
        }
        if let Some(rx) = self.take_rx() {
            rt.spawn(run(Arc::downgrade(shared), rx));
        }
    }

    fn take_rx(&self) -> Option<mpsc::Receiver<Finish>> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

async fn run(shared: Weak<Shared>, mut rx: mpsc::Receiver<Finish>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.finish_batch(&batch).await;
        batch.clear();
    }
}

impl Shared {
    /// One pipeline for `batch`; loads the script if the server lost it.
    async fn finish_batch(&self, batch: &[Finish]) {
        let mut pipe = redis::pipe();
        for f in batch {
            pipe.invoke_script(&invocation(&f.scopes, "finish", f.delta, &f.lease))
                .ignore();
        }
        let mut conn = self.conn();
        let work = async {
            match pipe.query_async::<()>(&mut conn).await {
                Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    SCRIPT.prepare_invoke().load_async(&mut conn).await?;
                    pipe.query_async::<()>(&mut conn).await
                }
                other => other,
            }
        };
        let _ = self.call("finish", work).await;
    }
}
