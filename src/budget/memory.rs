//! Budgets in memory: exact, per process. Each scope's windows sit behind
//! one small lock shared only by that user's own requests.

use std::sync::Arc;

use super::plan::{Cell, Scope};
use super::{judge, Verdict};

/// Checks `amount` nano-dollars against every window of every scope; takes
/// it from all of them when all have room (and `commit`), else from none.
/// Returns the verdict and the window ids it took from.
pub fn admit(
    scopes: &[Arc<Scope>],
    amount: u64,
    now_ms: i64,
    commit: bool,
) -> (Verdict, Vec<String>) {
    let mut guards: Vec<_> = scopes.iter().map(|s| s.lock()).collect();
    let mut used = Vec::new();
    let mut ids = Vec::new();
    for (s, cells) in scopes.iter().zip(guards.iter_mut()) {
        for (&(span, _), cell) in s.windows.iter().zip(cells.iter_mut()) {
            let id = span.at(now_ms).0;
            if cell.id != id {
                *cell = Cell {
                    id: id.clone(),
                    used: 0,
                };
            }
            used.push(cell.used);
            ids.push(id);
        }
    }
    let v = judge(scopes, &used, commit.then_some(amount), now_ms);
    if commit && v.refusal.is_none() {
        for cell in guards.iter_mut().flat_map(|cells| cells.iter_mut()) {
            cell.used = cell.used.saturating_add(amount);
        }
    }
    (v, ids)
}

/// Corrects the windows a reservation took from by `delta`, unless a new
/// window began since (the request counts on the day it started).
pub fn settle(scopes: &[Arc<Scope>], ids: &[String], delta: i64) {
    let mut i = 0;
    for s in scopes {
        let mut cells = s.lock();
        for cell in cells.iter_mut() {
            if ids.get(i) == Some(&cell.id) {
                cell.used = cell.used.saturating_add_signed(delta);
            }
            i += 1;
        }
    }
}

/// Sets a window's count from the ledger (at start).
pub fn seed(scope: &Scope, now_ms: i64, spent: &[u64]) {
    let mut cells = scope.lock();
    for ((&(span, _), cell), &used) in scope.windows.iter().zip(cells.iter_mut()).zip(spent) {
        *cell = Cell {
            id: span.at(now_ms).0,
            used,
        };
    }
}
