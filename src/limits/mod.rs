//! Per-user rate limits: request and token windows, and concurrency.
//!
//! A request is checked after authentication and its model, permission and
//! pin checks, so a refused or invalid request spends nothing. It reserves
//! one request and an estimate of its tokens in every window of the user's
//! scopes (all models, and its model), all or none; when its response ends
//! the token windows are corrected to the usage the upstream reported.
//! State is in memory ([`memory`]), in a [`Store`] several instances
//! share and every request asks (Redis, `crate::shared`), or in memory
//! reconciled with such a store beside the requests ([`synced`]).

pub mod gcra;
pub mod headers;
pub mod memory;
mod plan;
pub mod synced;

pub use plan::{LimitRegistry, Scope, UserPlan};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::clock;
use crate::config::{OnError, Window};
use crate::protocol::Request;
use gcra::Status;

/// A call to the store that may fail; the store logs and counts failures itself.
pub type StoreCall<'a> = Pin<Box<dyn Future<Output = Result<Verdict, ()>> + Send + 'a>>;

/// Limit windows kept where several instances share them. Every call is
/// atomic over all the scopes it is given.
pub trait Store: Send + Sync {
    /// Checks and, when every limit passes, takes a request and `tokens`
    /// under the concurrency lease `lease`.
    fn admit<'a>(&'a self, scopes: &'a [Arc<Scope>], tokens: u64, lease: &'a str) -> StoreCall<'a>;

    /// The windows' state without taking anything.
    fn peek<'a>(&'a self, scopes: &'a [Arc<Scope>]) -> StoreCall<'a>;

    /// Frees the lease and corrects the token windows by `delta`, beside the
    /// request (the response is over; a failure only costs precision).
    fn finish(self: Arc<Self>, scopes: Vec<Arc<Scope>>, lease: String, delta: Option<i64>);

    /// What requests do when the store fails.
    fn on_error(&self) -> OnError;
}

/// Completion tokens reserved when a request sets no `max_tokens`.
pub const DEFAULT_COMPLETION_ALLOWANCE: u64 = 256;

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Window(Window),
    Concurrency { max: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub limited: Limited,
    /// The scope's model; `None` for the user's limits over all models.
    pub model: Option<String>,
    pub retry_after_ms: u64,
}

/// Every window's state after a check, and the refusal if there was one.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    pub statuses: Vec<Status>,
    pub refusal: Option<Refusal>,
}

impl Verdict {
    /// Keeps the refusal that makes the client wait longest: it must wait for all.
    pub fn refuse(&mut self, r: Refusal) {
        if self
            .refusal
            .as_ref()
            .is_none_or(|old| old.retry_after_ms < r.retry_after_ms)
        {
            self.refusal = Some(r);
        }
    }
}

/// The outcome of checking a request against its user's limits.
pub type Decision = crate::scopes::Decision<Verdict, Admission>;

/// Tokens to reserve for a request: its prompt estimated from the body size
/// (about 4 bytes a token), plus the completion it may ask for (none for
/// embeddings).
pub fn estimate_tokens(req: &Request, body_len: usize) -> u64 {
    let (each, choices) = req.output_bound();
    let completion = each.unwrap_or(DEFAULT_COMPLETION_ALLOWANCE);
    (body_len as u64 / 4).saturating_add(completion.saturating_mul(choices))
}

/// Checks requests against user plans, in memory or through the shared store.
pub struct Limiter {
    mode: Mode,
}

enum Mode {
    Memory,
    /// Every request asks the store.
    Exact(Arc<dyn Store>),
    /// Decided in memory, reconciled with the store beside the requests.
    Synced(Arc<synced::Synced>),
}

impl Limiter {
    pub fn new(shared: Option<Arc<dyn Store>>) -> Self {
        let mode = shared.map_or(Mode::Memory, Mode::Exact);
        Limiter { mode }
    }

    pub fn synced(synced: Arc<synced::Synced>) -> Self {
        Limiter {
            mode: Mode::Synced(synced),
        }
    }

    /// Checks and, when every limit passes, takes a request and `tokens`.
    pub async fn admit(&self, scopes: Vec<Arc<Scope>>, tokens: u64) -> Decision {
        let (verdict, via) = match &self.mode {
            Mode::Memory => {
                let verdict = memory::admit(&scopes, tokens, clock::now_ms(), true);
                (verdict, Via::Memory)
            }
            Mode::Exact(shared) => {
                let lease = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
                match shared.admit(&scopes, tokens, &lease).await {
                    Ok(verdict) => (verdict, Via::Shared(shared.clone(), lease)),
                    Err(_) => return Decision::store_failed(shared.on_error()),
                }
            }
            Mode::Synced(synced) => {
                if let Some(policy) = synced.refusing() {
                    return Decision::store_failed(policy);
                }
                (synced.admit(&scopes, tokens), Via::Synced(synced.clone()))
            }
        };
        let refused = verdict.refusal.is_some();
        Decision::of(verdict, refused, || Admission {
            scopes,
            reserved: tokens,
            via,
            delta: None,
        })
    }

    /// The windows' state without taking anything (for the headers of a
    /// response refused before the check). `None` when the store failed.
    pub async fn peek(&self, scopes: &[Arc<Scope>]) -> Option<Verdict> {
        match &self.mode {
            Mode::Memory | Mode::Synced(_) => {
                Some(memory::admit(scopes, 0, clock::now_ms(), false))
            }
            Mode::Exact(shared) => shared.peek(scopes).await.ok(),
        }
    }
}

enum Via {
    Memory,
    /// With the lease id of the concurrency slot.
    Shared(Arc<dyn Store>, String),
    Synced(Arc<synced::Synced>),
}

/// An admitted request's hold on its limits: frees its concurrency slot and
/// corrects its token reservation when dropped.
pub struct Admission {
    scopes: Vec<Arc<Scope>>,
    reserved: u64,
    via: Via,
    delta: Option<i64>,
}

impl Admission {
    /// The request ended: `used` tokens as the upstream reported them. Without
    /// a report, a failed request gives its reservation back and a successful
    /// one keeps it (the estimate stands).
    pub fn finish(mut self, used: Option<u64>, succeeded: bool) {
        let reserved = self.reserved as i64;
        self.delta = match used {
            Some(u) => Some(u.min(i64::MAX as u64) as i64 - reserved),
            None if !succeeded => Some(-reserved),
            None => None,
        };
    }

    fn has_token_windows(&self) -> bool {
        self.scopes.iter().any(|s| {
            s.windows
                .iter()
                .any(|w| w.kind == crate::config::Kind::Tokens)
        })
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let delta = self.delta.filter(|&d| d != 0 && self.has_token_windows());
        match &mut self.via {
            Via::Memory => {
                memory::release(&self.scopes);
                if let Some(d) = delta {
                    memory::settle(&self.scopes, d, clock::now_ms());
                }
            }
            Via::Synced(synced) => synced.finish(&self.scopes, delta),
            Via::Shared(shared, lease) => {
                let scopes = std::mem::take(&mut self.scopes);
                shared.clone().finish(scopes, std::mem::take(lease), delta);
            }
        }
    }
}

#[cfg(test)]
mod synced_tests;
#[cfg(test)]
mod tests;
