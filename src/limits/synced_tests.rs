//! The syncer's own bookkeeping, against a store that answers what the
//! test says (the Redis side is tested against a real server in
//! `tests/synced_limits.rs`).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use super::synced::{Pulled, Push, Reconcile, Synced};
use super::*;
use crate::config::parse;

/// Records every push; fails while `fail` is set; otherwise answers that
/// `used` cells are in use in every window.
#[derive(Default)]
struct Scripted {
    pushed: Mutex<Vec<Vec<i64>>>,
    fail: AtomicBool,
    /// Like the real store: failing from a failed call to a good one.
    last_failed: AtomicBool,
    used: Mutex<u128>,
    on_error: Mutex<Option<OnError>>,
}

impl Reconcile for Scripted {
    fn reconcile<'a>(&'a self, pushes: &'a [Push<'a>]) -> BoxFuture<'a, Result<Vec<Pulled>, ()>> {
        Box::pin(async move {
            let mut log = self.pushed.lock().unwrap();
            log.extend(pushes.iter().map(|p| p.taken.clone()));
            self.last_failed.store(self.fail.load(Relaxed), Relaxed);
            if self.fail.load(Relaxed) {
                return Err(());
            }
            let used = *self.used.lock().unwrap();
            Ok(pushes
                .iter()
                .map(|p| Pulled {
                    used: p
                        .scope
                        .windows
                        .iter()
                        .map(|w| used * u128::from(w.period.as_millis() as u64))
                        .collect(),
                    elsewhere: 0,
                })
                .collect())
        })
    }

    fn on_error(&self) -> OnError {
        self.on_error.lock().unwrap().unwrap_or(OnError::FailOpen)
    }

    fn failing(&self) -> bool {
        self.last_failed.load(Relaxed)
    }
}

fn scopes() -> Vec<Arc<Scope>> {
    let text = "[state]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:9\"\nlimits = \"synced\"\n\
        [providers.p]\nbase_url = \"http://h\"\n[[models.m.backends]]\nprovider = \"p\"\nmodel = \"x\"\n\
        [users.u]\ntoken = \"t\"\n[users.u.rate_limit]\nrequests_per_minute = 10\n";
    let cfg = parse(text, &|_| None).unwrap();
    LimitRegistry::default().plans(&cfg)["u"].scopes("m")
}

async fn admitted(limiter: &Limiter, scopes: &[Arc<Scope>], n: usize) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        ok += usize::from(matches!(
            limiter.admit(scopes.to_vec(), 1).await,
            Decision::Admitted(..)
        ));
    }
    ok
}

#[tokio::test]
async fn a_failed_push_is_pushed_again_with_what_came_after() {
    let store = Arc::new(Scripted::default());
    let (synced, mut due) = Synced::new(store.clone());
    let limiter = Limiter::synced(synced.clone());
    let s = scopes();
    assert_eq!(admitted(&limiter, &s, 3).await, 3);
    store.fail.store(true, Relaxed);
    synced.sync(&mut due).await;
    store.fail.store(false, Relaxed);
    assert_eq!(admitted(&limiter, &s, 2).await, 2);
    synced.sync(&mut due).await;
    synced.sync(&mut due).await;
    assert_eq!(
        *store.pushed.lock().unwrap(),
        vec![vec![3], vec![5]],
        "the failed 3 went again with the 2 after them; an idle scope is not pushed"
    );
}

#[tokio::test]
async fn the_store_view_replaces_the_local_one() {
    let store = Arc::new(Scripted::default());
    *store.used.lock().unwrap() = 8;
    let (synced, mut due) = Synced::new(store.clone());
    let limiter = Limiter::synced(synced.clone());
    let s = scopes();
    assert_eq!(admitted(&limiter, &s, 1).await, 1);
    synced.sync(&mut due).await;
    assert_eq!(admitted(&limiter, &s, 10).await, 2, "8 used elsewhere");
}

#[tokio::test]
async fn fail_closed_refuses_from_a_failed_sync_until_one_succeeds() {
    let store = Arc::new(Scripted::default());
    *store.on_error.lock().unwrap() = Some(OnError::FailClosed);
    let (synced, mut due) = Synced::new(store.clone());
    let limiter = Limiter::synced(synced.clone());
    let s = scopes();
    assert!(matches!(
        limiter.admit(s.clone(), 1).await,
        Decision::Admitted(..)
    ));
    store.fail.store(true, Relaxed);
    synced.sync(&mut due).await;
    let refused = limiter.admit(s.clone(), 1).await;
    assert!(matches!(refused, Decision::Unavailable));
    store.fail.store(false, Relaxed);
    synced.sync(&mut due).await;
    assert!(
        matches!(limiter.admit(s, 1).await, Decision::Admitted(..)),
        "the failed scope stayed due, so the next sync tried the store again"
    );
}
