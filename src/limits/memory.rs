//! The in-memory store: exact, per process. Each scope's windows sit behind
//! one small lock shared only by that user's own requests, so checking every
//! window and taking from all of them (or none) is one short critical
//! section; no lock is shared between users.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::{Arc, MutexGuard};

use super::gcra;
use super::plan::Scope;
use super::{Limited, Refusal, Verdict};
use crate::config::Kind;

/// How long a client refused by `max_concurrent` is told to wait.
pub const CONCURRENCY_RETRY_MS: u64 = 1000;

pub(super) fn lock(s: &Scope) -> MutexGuard<'_, Vec<u128>> {
    s.tats.lock().unwrap_or_else(|e| e.into_inner())
}

/// Checks one request costing `tokens` against every scope; takes from all of
/// them if every window and concurrency limit passes (and `commit`), else from none.
pub fn admit(scopes: &[Arc<Scope>], tokens: u64, now: u64, commit: bool) -> Verdict {
    let mut guards: Vec<_> = scopes.iter().map(|s| lock(s)).collect();
    let mut v = Verdict::default();
    let mut next: Vec<Vec<u128>> = Vec::with_capacity(scopes.len());
    for (s, tats) in scopes.iter().zip(&guards) {
        if let Some(max) = s.max_concurrent {
            if commit && s.inflight.load(Relaxed) >= room(s, max) {
                v.refuse(Refusal {
                    limited: Limited::Concurrency { max },
                    model: s.model.clone(),
                    retry_after_ms: CONCURRENCY_RETRY_MS,
                });
            }
        }
        let mut row = Vec::with_capacity(s.windows.len());
        for (w, &tat) in s.windows.iter().zip(tats.iter()) {
            let cost = if commit { cost(w, tokens) } else { 0 };
            let (taken, status) = gcra::check(tat, now, w, cost);
            if taken.is_none() && commit {
                v.refuse(Refusal {
                    limited: Limited::Window(*w),
                    model: s.model.clone(),
                    retry_after_ms: status.retry_after_ms,
                });
            }
            row.push(taken.unwrap_or(tat));
            v.statuses.push(status);
        }
        next.push(row);
    }
    if !commit || v.refusal.is_some() {
        return v;
    }
    if let Err(r) = take_slots(scopes) {
        v.refuse(r);
        return v;
    }
    for (tats, row) in guards.iter_mut().zip(next) {
        **tats = row;
    }
    v
}

/// Takes a concurrency slot in every scope that limits it, or none. The
/// check above ran under the scope locks; a compare-and-swap still guards
/// the slot, since a reload may put the same counter behind another lock.
fn take_slots(scopes: &[Arc<Scope>]) -> Result<(), Refusal> {
    for (i, s) in scopes.iter().enumerate() {
        let Some(max) = s.max_concurrent else {
            continue;
        };
        let room = room(s, max);
        let taken = s
            .inflight
            .fetch_update(AcqRel, Acquire, |n| (n < room).then_some(n + 1));
        if taken.is_err() {
            release(&scopes[..i]);
            return Err(Refusal {
                limited: Limited::Concurrency { max },
                model: s.model.clone(),
                retry_after_ms: CONCURRENCY_RETRY_MS,
            });
        }
    }
    Ok(())
}

/// What a request reserving `tokens` takes from window `w`, in cells, as
/// `gcra::check` counts it (clamped to the limit: an oversized request
/// waits for a full bucket).
pub(super) fn cost(w: &crate::config::Window, tokens: u64) -> u64 {
    match w.kind {
        Kind::Requests => 1,
        Kind::Tokens => tokens.min(w.limit),
    }
}

/// The slots this instance may hold: with synced limits, what the other
/// instances held at the last sync is not free here (0 otherwise).
fn room(s: &Scope, max: u64) -> u64 {
    max.saturating_sub(s.synced.elsewhere.load(Relaxed))
}

/// Frees the concurrency slots an admission took.
pub fn release(scopes: &[Arc<Scope>]) {
    for s in scopes.iter().filter(|s| s.max_concurrent.is_some()) {
        s.inflight.fetch_sub(1, AcqRel);
    }
}

/// Corrects token windows by `delta` tokens once the real usage is known.
pub fn settle(scopes: &[Arc<Scope>], delta: i64, now: u64) {
    if delta == 0 {
        return;
    }
    for s in scopes {
        let mut tats = lock(s);
        for (w, tat) in s.windows.iter().zip(tats.iter_mut()) {
            if w.kind == Kind::Tokens {
                *tat = gcra::adjust(*tat, now, w, delta);
            }
        }
    }
}
