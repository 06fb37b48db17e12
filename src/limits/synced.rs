//! Synced limits (`state.limits = "synced"`): each instance decides in
//! memory, exactly as without a shared store, and counts what it took in
//! each scope. Every `limits_interval` one background task pushes those
//! counts to the store and reads back what every instance has used, which
//! becomes the local windows' state. Requests never wait on the store.
//!
//! The price is precision across instances: between two syncs each one
//! decides from its last view, so together they can pass a window by what
//! the others admitted meanwhile. Concurrency is shared the same way: each
//! instance publishes how many slots it holds, and counts the others' as taken.
//!
//! Only scopes that saw a request since the last sync are pushed (plus
//! those still holding slots, to keep their count alive in the store), so
//! a sync costs what the traffic of one interval touched, not every user.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::plan::Scope;
use super::{gcra, memory, Verdict};
use crate::clock;
use crate::config::{Kind, OnError};

/// Scopes per call to the store: one call is one atomic script, which
/// must not hold the server for long.
const BATCH: usize = 64;

/// One scope's part of a sync.
pub struct Push<'a> {
    pub scope: &'a Scope,
    /// Per window, cells taken here since the last sync (< 0: given back).
    pub taken: Vec<i64>,
    /// Concurrency slots held here now.
    pub held: u64,
}

/// What the store answered for one scope.
pub struct Pulled {
    /// Per window, the units every instance has used (`gcra`'s scale:
    /// a cell is `period_ms` units, 1 ms of refill is `limit` units).
    pub used: Vec<u128>,
    /// Concurrency slots the other instances hold.
    pub elsewhere: u64,
}

/// The shared store's side of synced limits.
pub trait Reconcile: Send + Sync {
    /// Adds every push to the store and answers, in the same order, what
    /// all instances have used. The store logs and counts its failures.
    fn reconcile<'a>(&'a self, pushes: &'a [Push<'a>]) -> BoxFuture<'a, Result<Vec<Pulled>, ()>>;

    /// What requests do while the store fails.
    fn on_error(&self) -> OnError;

    /// Whether the store's last call failed.
    fn failing(&self) -> bool;
}

/// The request side: decides in memory and queues the scopes it touched.
pub struct Synced {
    store: Arc<dyn Reconcile>,
    due: mpsc::UnboundedSender<Arc<Scope>>,
}

/// The scopes due for the next sync; read by [`Synced::run`].
pub struct Due(mpsc::UnboundedReceiver<Arc<Scope>>);

impl Synced {
    pub fn new(store: Arc<dyn Reconcile>) -> (Arc<Self>, Due) {
        let (due, rx) = mpsc::unbounded_channel();
        (Arc::new(Synced { store, due }), Due(rx))
    }

    /// `Some(policy)` while the store fails and `on_error` says to refuse.
    pub fn refusing(&self) -> Option<OnError> {
        let closed = self.store.on_error() == OnError::FailClosed;
        (closed && self.store.failing()).then_some(OnError::FailClosed)
    }

    /// Checks and takes in memory, and counts what was taken for the store.
    pub fn admit(&self, scopes: &[Arc<Scope>], tokens: u64) -> Verdict {
        let verdict = memory::admit(scopes, tokens, clock::now_ms(), true);
        if verdict.refusal.is_none() {
            for s in scopes {
                for (w, pending) in s.windows.iter().zip(s.pending.iter()) {
                    let cost = memory::cost(w, tokens).min(i64::MAX as u64);
                    pending.fetch_add(cost as i64, Relaxed);
                }
            }
        }
        self.touch(scopes);
        verdict
    }

    /// An admitted request ended: frees its slots, corrects its token
    /// windows by `delta`, and counts the correction for the store.
    pub fn finish(&self, scopes: &[Arc<Scope>], delta: Option<i64>) {
        memory::release(scopes);
        if let Some(d) = delta {
            memory::settle(scopes, d, clock::now_ms());
            for s in scopes {
                for (w, pending) in s.windows.iter().zip(s.pending.iter()) {
                    if w.kind == Kind::Tokens {
                        pending.fetch_add(d, Relaxed);
                    }
                }
            }
        }
        self.touch(scopes);
    }

    /// Queues each scope for the next sync, once per round.
    fn touch(&self, scopes: &[Arc<Scope>]) {
        for s in scopes {
            if !s.synced.queued.swap(true, AcqRel) {
                let _ = self.due.send(s.clone());
            }
        }
    }

    /// Syncs every `every` until the gateway stops (the task is cancelled).
    pub async fn run(self: Arc<Self>, mut due: Due, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.sync(&mut due).await;
        }
    }

    /// One sync: every scope due, in batches.
    pub async fn sync(&self, due: &mut Due) {
        let mut scopes = Vec::new();
        while let Ok(s) = due.0.try_recv() {
            scopes.push(s);
        }
        for batch in scopes.chunks(BATCH) {
            self.round(batch).await;
        }
    }

    /// One call to the store for `scopes`.
    async fn round(&self, scopes: &[Arc<Scope>]) {
        let pushes: Vec<Push<'_>> = scopes.iter().map(|s| push(s)).collect();
        match self.store.reconcile(&pushes).await {
            Ok(pulled) => {
                let now = clock::now_ms();
                for (p, view) in pushes.iter().zip(&pulled) {
                    apply(p.scope, view, now);
                }
            }
            Err(()) => {
                // Counted again, to be pushed by a later round; and every
                // scope stays due, so the store is tried again (a
                // fail_closed limiter refuses until a call succeeds).
                for p in &pushes {
                    for (pending, &n) in p.scope.pending.iter().zip(&p.taken) {
                        pending.fetch_add(n, Relaxed);
                    }
                }
                self.touch(scopes);
                return;
            }
        }
        // Scopes holding slots stay in the store's count while they do.
        let holding: Vec<_> = scopes
            .iter()
            .filter(|s| s.inflight.load(Acquire) > 0)
            .cloned()
            .collect();
        self.touch(&holding);
    }
}

/// Takes a scope's counts for a push. `queued` is cleared first, so a
/// request counted after this is queued for the next round.
fn push(s: &Scope) -> Push<'_> {
    s.synced.queued.store(false, Release);
    Push {
        scope: s,
        taken: s.pending.iter().map(|p| p.swap(0, AcqRel)).collect(),
        held: s.inflight.load(Acquire),
    }
}

/// Makes the store's view the local windows' state, plus what was taken
/// here while the call was out (counted, not yet pushed).
fn apply(s: &Scope, view: &Pulled, now: u64) {
    let mut tats = memory::lock(s);
    for (i, (w, tat)) in s.windows.iter().zip(tats.iter_mut()).enumerate() {
        let (Some(&used), Some(pending)) = (view.used.get(i), s.pending.get(i)) else {
            continue;
        };
        *tat = gcra::with_used(used, pending.load(Relaxed), now, w);
    }
    s.synced.elsewhere.store(view.elsewhere, Relaxed);
}
