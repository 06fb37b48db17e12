//! Each user's budgets resolved into scopes with their live counters, and
//! each model's ceiling price. Counters live in a registry outside the
//! config snapshot, so a reload keeps what users have spent; plans are
//! built with a snapshot, never per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::window::{nanos, Span};
use crate::config::{BudgetLimits, Config};

/// One window's count: what was spent and is reserved in window `id`.
#[derive(Debug, Default, Clone)]
pub(super) struct Cell {
    pub id: String,
    pub used: u64,
}

/// A user's budget over all models (`model: None`) or one model.
#[derive(Debug)]
pub struct Scope {
    pub user: String,
    pub model: Option<String>,
    /// Each window with its limit in nano-dollars.
    pub windows: Vec<(Span, u64)>,
    pub(super) cells: Arc<Mutex<Vec<Cell>>>,
    /// Redis key stem: `{prefix}:budget:{user}:{model or *}`.
    pub key: String,
}

impl Scope {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Cell>> {
        self.cells.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A user's budgets: the one over all models, then the per-model ones.
pub type UserBudget = crate::scopes::UserScopes<Scope>;

/// The most a model's tokens cost at any of its backends, per million.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Ceiling {
    pub input: f64,
    pub output: f64,
    pub per_request: f64,
    /// The longest answer any backend of the model gives, when all say.
    pub max_output_tokens: Option<u64>,
}

/// Output tokens reserved when neither the request nor the price table
/// bounds the answer.
pub const DEFAULT_OUTPUT_ALLOWANCE: u64 = 4096;

impl Ceiling {
    /// What a request may cost at most, in nano-dollars.
    pub fn reserve(&self, prompt_tokens: u64, output_tokens: Option<u64>) -> u64 {
        let output = output_tokens
            .or(self.max_output_tokens)
            .unwrap_or(DEFAULT_OUTPUT_ALLOWANCE);
        let tokens = (prompt_tokens as f64 * self.input + output as f64 * self.output) / 1e6;
        nanos(tokens.max(self.per_request))
    }
}

type ScopeKey = (String, Option<String>);

/// Live counters by user and scope.
#[derive(Default)]
pub struct BudgetRegistry {
    cells: Mutex<HashMap<ScopeKey, Arc<Mutex<Vec<Cell>>>>>,
}

impl BudgetRegistry {
    /// The budgets of every user with one. A scope's counters carry over
    /// while its windows stay the same; others start empty.
    pub fn plans(&self, config: &Config) -> HashMap<String, Arc<UserBudget>> {
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        let mut old = std::mem::take(&mut *cells);
        let mut plans = HashMap::new();
        for (id, user) in &config.users {
            if user.budget.is_empty() {
                continue;
            }
            let mut scope = |model: Option<&String>, l: &BudgetLimits| {
                let windows = windows(l);
                if windows.is_empty() {
                    return None;
                }
                let key = (id.clone(), model.cloned());
                let kept = old
                    .remove(&key)
                    .filter(|c| c.lock().is_ok_and(|c| c.len() == windows.len()));
                let shared = kept
                    .unwrap_or_else(|| Arc::new(Mutex::new(vec![Cell::default(); windows.len()])));
                cells.insert(key, shared.clone());
                Some(Arc::new(Scope {
                    user: id.clone(),
                    model: model.cloned(),
                    windows,
                    cells: shared,
                    key: format!(
                        "{}:budget:{id}:{}",
                        config.state.prefix,
                        model.map_or("*", |m| m)
                    ),
                }))
            };
            let plan = UserBudget {
                all: scope(None, &user.budget.all),
                models: user
                    .budget
                    .models
                    .iter()
                    .filter_map(|(m, l)| Some((m.clone(), scope(Some(m), l)?)))
                    .collect(),
            };
            plans.insert(id.clone(), Arc::new(plan));
        }
        plans
    }
}

fn windows(l: &BudgetLimits) -> Vec<(Span, u64)> {
    [(Span::Day, l.usd_per_day), (Span::Month, l.usd_per_month)]
        .into_iter()
        .filter_map(|(s, usd)| usd.map(|u| (s, nanos(u))))
        .collect()
}

/// Each model's ceiling over its backends' prices.
pub fn ceilings(config: &Config) -> HashMap<String, Ceiling> {
    let mut out = HashMap::new();
    for (name, model) in &config.models {
        let mut c = Ceiling::default();
        let mut max_out = Some(0);
        for p in model.backends.iter().filter_map(|b| b.price.as_ref()) {
            c.input = c.input.max(p.input).max(p.cached_input).max(p.cache_write);
            c.output = c.output.max(p.output).max(p.reasoning);
            c.per_request = c.per_request.max(p.per_request.unwrap_or(0.0));
            max_out = match (max_out, p.max_output_tokens) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        c.max_output_tokens = max_out.filter(|&m| m > 0);
        out.insert(name.clone(), c);
    }
    out
}
