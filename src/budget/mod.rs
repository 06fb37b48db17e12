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
pub mod window;

pub use plan::{ceilings, BudgetRegistry, Ceiling, Scope, UserBudget, DEFAULT_OUTPUT_ALLOWANCE};
pub use window::Span;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::OnError;

/// One window's state after a check.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub model: Option<String>,
    pub span: Span,
    /// Nano-dollars.
    pub limit: u64,
    /// What is left after this request's reservation.
    pub remaining: u64,
    /// Until the window ends.
    pub reset_ms: u64,
}

/// The window that refused a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: Status,
    /// What was left before this request.
    pub remaining: u64,
    /// What the request may cost.
    pub cost: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Verdict {
    pub statuses: Vec<Status>,
    pub refusal: Option<Refusal>,
}

impl Verdict {
    /// The window with the least left, for the response headers.
    pub fn tightest(&self) -> Option<&Status> {
        self.statuses.iter().min_by_key(|s| s.remaining)
    }
}

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
pub enum Decision {
    Admitted(Verdict, Reservation),
    Refused(Verdict),
    /// The shared store failed and `on_error = "fail_open"`.
    Unchecked,
    /// The shared store failed and `on_error = "fail_closed"`.
    Unavailable,
}

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
        let Some(shared) = &self.shared else {
            let (v, ids) = memory::admit(&scopes, amount, now_ms, true);
            return decide(v, scopes, amount, Via::Memory(ids));
        };
        match shared.admit(&scopes, amount, now_ms).await {
            Ok(v) => {
                let keys = keys(&scopes, now_ms);
                decide(v, scopes, amount, Via::Shared(shared.clone(), keys))
            }
            Err(()) => match shared.on_error() {
                OnError::FailOpen => Decision::Unchecked,
                OnError::FailClosed => Decision::Unavailable,
            },
        }
    }

    /// The windows' state without taking anything; `None` when the store failed.
    pub async fn peek(&self, scopes: &[Arc<Scope>], now_ms: i64) -> Option<Verdict> {
        match &self.shared {
            None => Some(memory::admit(scopes, 0, now_ms, false).0),
            Some(shared) => shared.peek(scopes, now_ms).await.ok(),
        }
    }

    /// Sets today's and this month's windows from the ledger's spend
    /// (`(user, model, day, usd)` since the first of the month).
    pub async fn rebuild(
        &self,
        plans: &[Arc<UserBudget>],
        spend: &[(String, String, String, f64)],
        now_ms: i64,
    ) {
        let mut seeds = Vec::new();
        for plan in plans {
            for scope in plan.all.iter().chain(plan.models.values()) {
                let spent: Vec<u64> = scope
                    .windows
                    .iter()
                    .map(|(span, _)| {
                        let id = span.at(now_ms).0;
                        let usd: f64 = spend
                            .iter()
                            .filter(|(u, m, day, _)| {
                                *u == scope.user
                                    && scope.model.as_ref().is_none_or(|sm| sm == m)
                                    && day.starts_with(&id)
                            })
                            .map(|s| s.3)
                            .sum();
                        window::nanos(usd)
                    })
                    .collect();
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
        }
        if let Some(shared) = &self.shared {
            shared.seed(seeds).await;
        }
    }
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

fn decide(v: Verdict, scopes: Vec<Arc<Scope>>, amount: u64, via: Via) -> Decision {
    if v.refusal.is_some() {
        return Decision::Refused(v);
    }
    let r = Reservation {
        scopes,
        amount,
        via,
        delta: None,
    };
    Decision::Admitted(v, r)
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
