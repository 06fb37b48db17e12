//! Per-user spend budgets (`[users.ID.budget]`): USD per UTC day and
//! month, over all models and per model.
//!
//! Reserve, then settle: admission reserves the most a request can cost
//! (its body size as input tokens, plus its `max_tokens` or the model's
//! longest answer, at the model's most expensive backend) in every window
//! that applies, all or none; when the response ends the reservation is
//! replaced by what the answer really cost. Concurrent requests therefore
//! never together pass a budget by more than what their real costs exceed
//! their reservations (docs/operations.md states the bound). State is in
//! memory ([`memory`]) or in a [`Store`] several instances share (Redis,
//! `crate::shared`).

pub mod memory;
mod plan;
mod verdict;
pub mod window;

pub use plan::{ceilings, BudgetRegistry, Ceiling, Scope, UserBudget, DEFAULT_OUTPUT_ALLOWANCE};
pub use verdict::{judge, Refusal, Status, Verdict};
pub use window::Span;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::OnError;
use crate::ledger::Spend;

/// A call to the store that may fail; the store logs and counts failures.
pub type StoreCall<'a> = Pin<Box<dyn Future<Output = Result<Verdict, ()>> + Send + 'a>>;

/// Budget windows kept where several instances share them; every call is
/// atomic over all the windows it is given.
pub trait Store: Send + Sync {
    /// Checks and, when every window has room, reserves `amount`.
    fn admit<'a>(&'a self, scopes: &'a [Arc<Scope>], amount: u64, now_ms: i64) -> StoreCall<'a>;
    /// The windows' state without taking anything.
    fn peek<'a>(&'a self, scopes: &'a [Arc<Scope>], now_ms: i64) -> StoreCall<'a>;
    /// Corrects the windows (full keys) by `delta`, beside the request.
    fn settle(self: Arc<Self>, keys: Vec<String>, delta: i64);
    /// Sets windows no instance holds yet (after a Redis restart) from the ledger.
    fn seed<'a>(
        &'a self,
        seeds: Vec<(String, u64, u64)>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
    fn on_error(&self) -> OnError;
}

/// The key of one window of `scope` in a shared store.
pub fn window_key(scope: &Scope, span: Span, now_ms: i64) -> (String, i64) {
    let (id, end) = span.at(now_ms);
    (format!("{}:{id}", scope.key), end)
}

/// The outcome of checking a request against its user's budgets.
pub type Decision = crate::scopes::Decision<Verdict, Reservation>;

/// Checks requests against budgets, in memory or through the shared store.
pub struct Budgets {
    shared: Option<Arc<dyn Store>>,
    pub registry: BudgetRegistry,
}

impl Budgets {
    pub fn new(shared: Option<Arc<dyn Store>>) -> Self {
        Budgets {
            shared,
            registry: BudgetRegistry::default(),
        }
    }

    /// Reserves `amount` nano-dollars in every window of `scopes`, or none.
    pub async fn admit(&self, scopes: Vec<Arc<Scope>>, amount: u64, now_ms: i64) -> Decision {
        let (v, via) = match &self.shared {
            None => {
                let (v, ids) = memory::admit(&scopes, amount, now_ms, true);
                (v, Via::Memory(ids))
            }
            Some(shared) => match shared.admit(&scopes, amount, now_ms).await {
                Ok(v) => (v, Via::Shared(shared.clone(), keys(&scopes, now_ms))),
                Err(()) => return Decision::store_failed(shared.on_error()),
            },
        };
        let refused = v.refusal.is_some();
        Decision::of(v, refused, || Reservation {
            scopes,
            amount,
            via,
            delta: None,
        })
    }

    /// The windows' state without taking anything; `None` when the store failed.
    pub async fn peek(&self, scopes: &[Arc<Scope>], now_ms: i64) -> Option<Verdict> {
        match &self.shared {
            None => Some(memory::admit(scopes, 0, now_ms, false).0),
            Some(shared) => shared.peek(scopes, now_ms).await.ok(),
        }
    }

    /// Sets today's and this month's windows from the ledger's spend
    /// since the first of the month.
    pub async fn rebuild(&self, plans: &[Arc<UserBudget>], spend: &[Spend], now_ms: i64) {
        let mut seeds = Vec::new();
        for scope in plans.iter().flat_map(|p| p.every()) {
            let spent = spent(scope, spend, now_ms);
            match &self.shared {
                None => memory::seed(scope, now_ms, &spent),
                Some(_) => {
                    for (&(span, _), used) in scope.windows.iter().zip(spent) {
                        let (key, end) = window_key(scope, span, now_ms);
                        let ttl = (end - now_ms).max(1000) as u64 + 86_400_000;
                        seeds.push((key, used, ttl));
                    }
                }
            }
        }
        if let Some(shared) = &self.shared {
            shared.seed(seeds).await;
        }
    }
}

/// What the ledger says `scope` spent in each of its windows now.
fn spent(scope: &Scope, spend: &[Spend], now_ms: i64) -> Vec<u64> {
    let of_scope =
        |s: &&Spend| s.user == scope.user && scope.model.as_ref().is_none_or(|m| *m == s.model);
    let windows = scope.windows.iter().map(|(span, _)| {
        let id = span.at(now_ms).0;
        let in_window = spend
            .iter()
            .filter(of_scope)
            .filter(|s| s.day.starts_with(&id));
        window::nanos(in_window.map(|s| s.cost_usd).sum())
    });
    windows.collect()
}

fn keys(scopes: &[Arc<Scope>], now_ms: i64) -> Vec<String> {
    scopes
        .iter()
        .flat_map(|s| {
            s.windows
                .iter()
                .map(move |(span, _)| window_key(s, *span, now_ms).0)
        })
        .collect()
}

enum Via {
    /// With the window ids reserved in.
    Memory(Vec<String>),
    /// With the window keys reserved in.
    Shared(Arc<dyn Store>, Vec<String>),
}

/// An admitted request's hold on its budgets, settled when dropped.
pub struct Reservation {
    scopes: Vec<Arc<Scope>>,
    amount: u64,
    via: Via,
    delta: Option<i64>,
}

impl Reservation {
    /// The request ended: `cost` in USD as priced from the upstream's usage.
    /// Without a cost, a failed request gives its reservation back and a
    /// successful one keeps it.
    pub fn finish(mut self, cost: Option<f64>, succeeded: bool) {
        let reserved = self.amount.min(i64::MAX as u64) as i64;
        self.delta = match cost {
            Some(c) => Some(window::nanos(c).min(i64::MAX as u64) as i64 - reserved),
            None if !succeeded => Some(-reserved),
            None => None,
        };
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // Dropped unfinished (the client left before the end): the estimate stands.
        let Some(delta) = self.delta.filter(|&d| d != 0) else {
            return;
        };
        match &mut self.via {
            Via::Memory(ids) => memory::settle(&self.scopes, ids, delta),
            Via::Shared(shared, keys) => shared.clone().settle(std::mem::take(keys), delta),
        }
    }
}

#[cfg(test)]
mod tests;
