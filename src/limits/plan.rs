//! Each user's limits resolved into scopes with their live counters. The
//! counters live in a registry outside the config snapshot, so a reload
//! keeps what users have already spent; plans are built with a snapshot,
//! never per request.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use crate::config::{Config, Limits, Window};

/// The limits of one user over all models (`model: None`) or one model.
#[derive(Debug)]
pub struct Scope {
    pub user: String,
    pub model: Option<String>,
    pub windows: Vec<Window>,
    pub max_concurrent: Option<u64>,
    /// In-memory state: one TAT per window (see `gcra`), behind a lock that
    /// only this user's own requests share.
    pub(super) tats: Tats,
    /// Requests in flight in this scope, kept across reloads even when the
    /// windows change.
    pub(super) inflight: Arc<AtomicU64>,
    /// Redis keys, one per window (`{stem}:{code}`) then `{stem}:inflight`
    /// with `max_concurrent`; the stem is `{prefix}:rl:{user}:{model or *}`.
    /// Made here once: the shared store names them on every request, and
    /// formatting them there was a third of its call's instructions.
    pub(crate) keys: Vec<String>,
}

/// A user's rate limits: the one over all models, then the per-model ones.
pub type UserPlan = crate::scopes::UserScopes<Scope>;

type ScopeKey = (String, Option<String>);
/// A scope's TATs, by the scope and its windows.
type Tats = Arc<Mutex<Vec<u128>>>;

/// Live counters by user and scope.
#[derive(Default)]
pub struct LimitRegistry {
    tats: Mutex<HashMap<(ScopeKey, Vec<Window>), Tats>>,
    inflight: Mutex<HashMap<ScopeKey, Arc<AtomicU64>>>,
}

impl LimitRegistry {
    /// The plans of every user with limits. Counters of scopes whose windows
    /// did not change carry over; those no plan uses any more are dropped
    /// (a request still running keeps its own reference).
    pub fn plans(&self, config: &Config) -> HashMap<String, Arc<UserPlan>> {
        let mut tats = self.tats.lock().unwrap_or_else(|e| e.into_inner());
        let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        let mut b = Builder {
            prefix: &config.state.prefix,
            old_tats: std::mem::take(&mut *tats),
            old_inflight: std::mem::take(&mut *inflight),
            tats: HashMap::new(),
            inflight: HashMap::new(),
        };
        let mut plans = HashMap::new();
        for (id, user) in &config.users {
            let rl = &user.rate_limit;
            if rl.is_empty() {
                continue;
            }
            let plan = UserPlan {
                all: b.scope(id, None, &rl.all),
                models: rl
                    .models
                    .iter()
                    .filter_map(|(m, l)| Some((m.clone(), b.scope(id, Some(m), l)?)))
                    .collect(),
            };
            plans.insert(id.clone(), Arc::new(plan));
        }
        *tats = b.tats;
        *inflight = b.inflight;
        plans
    }
}

/// Moves the counters still in use from the old maps to the new ones.
struct Builder<'a> {
    prefix: &'a str,
    old_tats: HashMap<(ScopeKey, Vec<Window>), Tats>,
    old_inflight: HashMap<ScopeKey, Arc<AtomicU64>>,
    tats: HashMap<(ScopeKey, Vec<Window>), Tats>,
    inflight: HashMap<ScopeKey, Arc<AtomicU64>>,
}

impl Builder<'_> {
    fn scope(&mut self, user: &str, model: Option<&str>, l: &Limits) -> Option<Arc<Scope>> {
        if l.is_empty() {
            return None;
        }
        let key: ScopeKey = (user.to_string(), model.map(str::to_string));
        let windows = l.windows();
        let tkey = (key.clone(), windows.clone());
        let tats = self
            .old_tats
            .remove(&tkey)
            .unwrap_or_else(|| Arc::new(Mutex::new(vec![0; windows.len()])));
        self.tats.insert(tkey, tats.clone());
        let inflight = self.old_inflight.remove(&key).unwrap_or_default();
        self.inflight.insert(key, inflight.clone());
        let stem = format!("{}:rl:{user}:{}", self.prefix, model.unwrap_or("*"));
        let mut keys: Vec<String> = windows
            .iter()
            .map(|w| format!("{stem}:{}", w.code()))
            .collect();
        if l.max_concurrent.is_some() {
            keys.push(format!("{stem}:inflight"));
        }
        Some(Arc::new(Scope {
            user: user.to_string(),
            model: model.map(str::to_string),
            windows,
            max_concurrent: l.max_concurrent,
            tats,
            inflight,
            keys,
        }))
    }
}
