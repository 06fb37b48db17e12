//! What rate limits and budgets have in common: a user's scopes (one over
//! all models, one per model, both applying to a request for that model)
//! and what checking a request against them decides.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::OnError;

/// A user's scopes of one kind: the one over all models, then the
/// per-model ones.
#[derive(Debug)]
pub struct UserScopes<S> {
    pub all: Option<Arc<S>>,
    pub models: HashMap<String, Arc<S>>,
}

impl<S> Default for UserScopes<S> {
    fn default() -> Self {
        UserScopes {
            all: None,
            models: HashMap::new(),
        }
    }
}

impl<S> UserScopes<S> {
    /// The scopes a request for `model` counts against, in lock order.
    pub fn scopes(&self, model: &str) -> Vec<Arc<S>> {
        self.all
            .iter()
            .chain(self.models.get(model))
            .cloned()
            .collect()
    }

    /// Every scope, the one over all models first.
    pub fn every(&self) -> impl Iterator<Item = &Arc<S>> {
        self.all.iter().chain(self.models.values())
    }
}

/// The outcome of checking a request: its verdict `V` (every window's
/// state, and the refusal if there was one) and, when admitted, the hold
/// `H` it keeps until its response ends.
pub enum Decision<V, H> {
    Admitted(V, H),
    Refused(V),
    /// The shared store failed and `on_error = "fail_open"`: serve unchecked.
    Unchecked,
    /// The shared store failed and `on_error = "fail_closed"`.
    Unavailable,
}

impl<V, H> Decision<V, H> {
    /// Refused when `refused`, else admitted with the hold `hold` makes.
    pub fn of(verdict: V, refused: bool, hold: impl FnOnce() -> H) -> Self {
        if refused {
            Decision::Refused(verdict)
        } else {
            Decision::Admitted(verdict, hold())
        }
    }

    /// The shared store could not be asked.
    pub fn store_failed(on_error: OnError) -> Self {
        match on_error {
            OnError::FailOpen => Decision::Unchecked,
            OnError::FailClosed => Decision::Unavailable,
        }
    }
}
