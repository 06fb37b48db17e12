//! Each user's limits resolved into scopes with their live counters. The
//! counters live in a registry outside the config snapshot, so a reload
//! keeps what users have already spent; plans are built with a snapshot,
//! never per request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};
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
    /// With synced limits: cells each window took here since the last sync.
    pub(super) pending: Pending,
    /// With synced limits: what other instances hold, and whether a sync is due.
    pub(super) synced: Arc<SyncedSlots>,
    /// Redis keys, one per window (`{stem}:{code}`) then `{stem}:inflight`
    /// with `max_concurrent`; the stem is `{prefix}:rl:{user}:{model or *}`.
    /// Made here once: the shared store names them on every request, and
    /// formatting them there was a third of its call's instructions.
    pub(crate) keys: Vec<String>,
    /// With synced limits and `max_concurrent`: `{stem}:held`, each
    /// instance's count of held slots (not the exact mode's lease set).
    pub(crate) held_key: Option<String>,
}

/// Per window, cells taken (or given back, < 0) and not yet pushed.
pub(super) type Pending = Arc<[AtomicI64]>;

/// A scope's view of the other instances, for synced limits.
#[derive(Debug, Default)]
pub struct SyncedSlots {
    /// Concurrency slots the other instances held at the last sync.
    pub(super) elsewhere: AtomicU64,
    /// Queued for the next sync: set by the first request after a sync, so
    /// a scope is queued once per round however busy it is.
    pub(super) queued: AtomicBool,
}

/// A user's rate limits: the one over all models, then the per-model ones.
pub type UserPlan = crate::scopes::UserScopes<Scope>;

type ScopeKey = (String, Option<String>);
/// A scope's TATs, by the scope and its windows.
type Tats = Arc<Mutex<Vec<u128>>>;
/// The counters that belong to a scope's windows.
type WindowState = (Tats, Pending);
/// The counters that belong to a scope whatever its windows.
type SlotState = (Arc<AtomicU64>, Arc<SyncedSlots>);

/// Live counters by user and scope.
#[derive(Default)]
pub struct LimitRegistry {
    tats: Mutex<HashMap<(ScopeKey, Vec<Window>), WindowState>>,
    inflight: Mutex<HashMap<ScopeKey, SlotState>>,
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
    old_tats: HashMap<(ScopeKey, Vec<Window>), WindowState>,
    old_inflight: HashMap<ScopeKey, SlotState>,
    tats: HashMap<(ScopeKey, Vec<Window>), WindowState>,
    inflight: HashMap<ScopeKey, SlotState>,
}

impl Builder<'_> {
    fn scope(&mut self, user: &str, model: Option<&str>, l: &Limits) -> Option<Arc<Scope>> {
        if l.is_empty() {
            return None;
        }
        let key: ScopeKey = (user.to_string(), model.map(str::to_string));
        let windows = l.windows();
        let tkey = (key.clone(), windows.clone());
        let (tats, pending) = self.old_tats.remove(&tkey).unwrap_or_else(|| {
            let pending = windows.iter().map(|_| AtomicI64::new(0)).collect();
            (Arc::new(Mutex::new(vec![0; windows.len()])), pending)
        });
        self.tats.insert(tkey, (tats.clone(), pending.clone()));
        let (inflight, synced) = self.old_inflight.remove(&key).unwrap_or_default();
        self.inflight
            .insert(key, (inflight.clone(), synced.clone()));
        let stem = format!("{}:rl:{user}:{}", self.prefix, model.unwrap_or("*"));
        let mut keys: Vec<String> = windows
            .iter()
            .map(|w| format!("{stem}:{}", w.code()))
            .collect();
        let held_key = l.max_concurrent.map(|_| format!("{stem}:held"));
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
            pending,
            synced,
            keys,
            held_key,
        }))
    }
}
