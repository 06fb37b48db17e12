//! The gateway's live state: an atomically swappable snapshot of the config
//! with everything derived from it, the registries that outlive snapshots,
//! and the owner of the background tasks.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use arc_swap::ArcSwap;

use crate::budget::{self, Budgets, Ceiling, UserBudget};
use crate::clock;
use crate::config::{Config, User};
use crate::health::{Entry, HealthRegistry, State as Health};
use crate::ledger::Ledger;
use crate::limits::{LimitRegistry, Limiter, Store, UserPlan};
use crate::routing::{Balancer, Route, Slot};
use crate::shared::{Shared, Watched};
use crate::tasks::Tasks;
use crate::telemetry::Metrics;
use crate::upstream::{Pools, UpstreamClient};

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    snapshot: ArcSwap<Snapshot>,
    health: Arc<HealthRegistry>,
    metrics: Arc<Metrics>,
    /// Every background task; stopped at shutdown.
    tasks: Tasks,
    /// The active checks of the current snapshot, and how many there are.
    probes: Mutex<(Tasks, usize)>,
    /// Rate-limit counters, kept across reloads like health state.
    limits: LimitRegistry,
    limiter: Limiter,
    /// Spend budgets, with their counters (kept across reloads).
    budgets: Budgets,
    /// Where finished requests' usage rows go.
    ledger: Ledger,
    /// The file `serve` read the config from, for reloads.
    config_path: OnceLock<PathBuf>,
    /// One reload at a time (file change, SIGHUP and the admin API may race).
    reloading: tokio::sync::Mutex<()>,
}

impl AppState {
    /// Builds the state and, inside a Tokio runtime, starts the active checks
    /// and, with `[state] backend = "redis"`, the shared state sync.
    pub fn new(config: Config) -> Result<Self, String> {
        let health = Arc::new(HealthRegistry::default());
        let metrics = Arc::new(Metrics::new());
        let tasks = Tasks::default();
        let shared = match tokio::runtime::Handle::try_current() {
            Ok(_) => Shared::connect(&config.state, metrics.state_errors.clone())?,
            Err(_) if config.state.backend == crate::config::StateBackend::Memory => None,
            Err(_) => return Err("the redis state backend needs a Tokio runtime".into()),
        };
        if let Some(shared) = &shared {
            health.announce_to(shared.announcer(&tasks));
        }
        let limits = LimitRegistry::default();
        let budgets = Budgets::new(shared.clone().map(|s| s as Arc<dyn budget::Store>));
        let ledger = Ledger::start(&config.usage, metrics.usage_rows_dropped.clone(), &tasks)?;
        flag_unpriced(&config, None);
        let snapshot = Snapshot::build(config, &health, (&limits, &budgets))?;
        let store = shared.clone().map(|s| s as Arc<dyn Store>);
        let state = AppState(Arc::new(Inner {
            snapshot: ArcSwap::from_pointee(snapshot),
            health,
            metrics,
            probes: Mutex::new((tasks.child(), 0)),
            tasks,
            limits,
            limiter: Limiter::new(store),
            budgets,
            ledger,
            config_path: OnceLock::new(),
            reloading: tokio::sync::Mutex::new(()),
        }));
        if let Some(shared) = shared {
            let weak = Arc::downgrade(&state.0);
            let sync = shared.sync_loop(move || watched(&weak));
            state.tasks().spawn("cooldown sync", sync);
        }
        state.restart_probes();
        Ok(state)
    }

    /// Swaps in a new config: requests already running keep their snapshot,
    /// live health state and rate-limit counters carry over, and the probes
    /// restart for the new backends.
    pub fn install(&self, config: Config) -> Result<(), String> {
        flag_unpriced(&config, Some(&self.snapshot().config));
        let registries = (&self.0.limits, &self.0.budgets);
        let snapshot = Snapshot::build(config, &self.0.health, registries)?;
        self.0.snapshot.store(Arc::new(snapshot));
        self.restart_probes();
        Ok(())
    }

    fn restart_probes(&self) {
        let mut probes = self.0.probes.lock().unwrap_or_else(|e| e.into_inner());
        probes.0.stop();
        if self.0.tasks.is_stopped() {
            return;
        }
        let group = self.0.tasks.child();
        let snap = self.snapshot();
        let n = crate::prober::start(&group, &snap.config, snap.routes(), |p| snap.client(p));
        *probes = (group, n);
    }

    /// Stops the active checks (at shutdown).
    pub fn stop_probes(&self) {
        let mut probes = self.0.probes.lock().unwrap_or_else(|e| e.into_inner());
        probes.0.stop();
        probes.1 = 0;
    }

    /// How many backends are being probed now.
    pub fn probed_backends(&self) -> usize {
        let probes = self.0.probes.lock().unwrap_or_else(|e| e.into_inner());
        if tokio::runtime::Handle::try_current().is_err() || probes.0.is_stopped() {
            return 0;
        }
        probes.1
    }

    /// The current snapshot; a request keeps the one it started with.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.0.snapshot.load_full()
    }

    pub fn health(&self) -> &HealthRegistry {
        &self.0.health
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }

    pub fn limiter(&self) -> &Limiter {
        &self.0.limiter
    }

    pub fn ledger(&self) -> &Ledger {
        &self.0.ledger
    }

    pub fn budgets(&self) -> &Budgets {
        &self.0.budgets
    }

    /// Waits, at most `limit` each, for the ledger's schema and then
    /// rebuilds this month's budget windows from its rows, so a restart
    /// does not reset spend. False when the store did not answer in time.
    pub async fn prepare(&self, limit: std::time::Duration) -> bool {
        if !self.ledger().ready(limit).await {
            return false;
        }
        let snap = self.snapshot();
        let Some(store) = self.ledger().store() else {
            return true;
        };
        let plans: Vec<Arc<UserBudget>> = snap.budgets.values().cloned().collect();
        if plans.is_empty() {
            return true;
        }
        let now = crate::calendar::unix_ms();
        let month = crate::calendar::Date::of(now).first_of_month().to_string();
        match tokio::time::timeout(limit, store.spend_since(&month)).await {
            Ok(Ok(spend)) => {
                let spend: Vec<_> = spend
                    .into_iter()
                    .map(|s| (s.user, s.model, s.day, s.cost_usd))
                    .collect();
                self.budgets().rebuild(&plans, &spend, now).await;
                true
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "switchyard::usage", error = %e, "budgets not rebuilt from the usage ledger");
                false
            }
            Err(_) => false,
        }
    }

    /// The owner of every background task.
    pub fn tasks(&self) -> &Tasks {
        &self.0.tasks
    }

    /// Remembers the config file, so reloads know what to read (once).
    pub fn set_config_path(&self, path: PathBuf) {
        let _ = self.0.config_path.set(path);
    }

    pub fn config_path(&self) -> Option<PathBuf> {
        self.0.config_path.get().cloned()
    }

    pub(crate) fn reloading(&self) -> &tokio::sync::Mutex<()> {
        &self.0.reloading
    }
}

/// Logs each upstream model without a price once: at start, then those a
/// reload newly brings.
fn flag_unpriced(new: &Config, old: Option<&Config>) {
    for model in &new.usage.unpriced {
        if old.is_some_and(|o| o.usage.unpriced.contains(model)) {
            continue;
        }
        tracing::warn!(target: "switchyard::usage", upstream_model = %model,
            "no price for this upstream model: its requests cost 0 in the usage ledger and budgets (set [prices.\"{model}\"])");
    }
}

/// What the cooldown sync reads now; `None` once the gateway is gone.
fn watched(state: &Weak<Inner>) -> Option<(std::time::Duration, Vec<Watched>)> {
    let snap = state.upgrade()?.snapshot.load_full();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for slot in snap.routes().flat_map(|r| &r.slots) {
        let b = &slot.backend;
        if seen.insert((b.provider.id.clone(), b.upstream_model.clone())) {
            out.push(Watched {
                provider: b.provider.id.clone(),
                upstream_model: b.upstream_model.clone(),
                stats: slot.stats.clone(),
            });
        }
    }
    Some((snap.config.state.sync_interval, out))
}

pub struct Snapshot {
    pub config: Arc<Config>,
    pub models: HashMap<String, Route>,
    /// Users by SHA-256 of their token, so lookup never compares secrets byte by byte.
    tokens: HashMap<[u8; 32], Arc<User>>,
    /// Rate limits of the users that have some, by user id.
    plans: HashMap<String, Arc<UserPlan>>,
    /// Budgets of the users that have one, by user id.
    pub budgets: HashMap<String, Arc<UserBudget>>,
    /// What a request for each model may cost at most, per token.
    ceilings: HashMap<String, Ceiling>,
    /// One pooled keep-alive client per provider.
    clients: HashMap<String, UpstreamClient>,
}

pub use crate::config::token_digest;

impl Snapshot {
    pub fn build(
        config: Config,
        health: &HealthRegistry,
        (limits, budgets): (&LimitRegistry, &Budgets),
    ) -> Result<Self, String> {
        let models = config
            .models
            .iter()
            .map(|(name, model)| {
                let slots = model
                    .backends
                    .iter()
                    .map(|b| Slot {
                        backend: b.clone(),
                        stats: health.stats_for(&b.provider.id, &b.upstream_model),
                        switch: health.switches.for_backend(&b.id, name),
                    })
                    .collect();
                let balancer = Balancer::new(model.strategy, model.backends.len())
                    .with_smart(config.health.smart);
                let route = Route {
                    model: model.clone(),
                    slots,
                    balancer,
                };
                (name.clone(), route)
            })
            .collect();
        let tokens = config
            .users
            .values()
            .map(|u| (u.token_digest, u.clone()))
            .collect();
        let plans = limits.plans(&config);
        let user_budgets = budgets.registry.plans(&config);
        let ceilings = budget::ceilings(&config);
        let mut clients = HashMap::new();
        for (id, p) in &config.providers {
            clients.insert(
                id.clone(),
                UpstreamClient::new(p.timeouts.connect, p.timeouts.pool_idle)
                    .map_err(|e| format!("providers.{id}: {e}"))?,
            );
        }
        Ok(Snapshot {
            config: Arc::new(config),
            models,
            tokens,
            plans,
            budgets: user_budgets,
            ceilings,
            clients,
        })
    }

    pub fn user_by_token(&self, token: &str) -> Option<&Arc<User>> {
        self.tokens.get(&token_digest(token))
    }

    /// The user's rate limits; `None` when they have none.
    pub fn plan(&self, user: &str) -> Option<&Arc<UserPlan>> {
        self.plans.get(user)
    }

    /// The user's budgets; `None` when they have none.
    pub fn budget(&self, user: &str) -> Option<&Arc<UserBudget>> {
        self.budgets.get(user)
    }

    pub fn ceiling(&self, model: &str) -> Option<&Ceiling> {
        self.ceilings.get(model)
    }

    pub fn client(&self, provider: &str) -> Option<&UpstreamClient> {
        self.clients.get(provider)
    }

    /// Every model's route, in config order.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.config
            .models
            .keys()
            .filter_map(|name| self.models.get(name))
    }

    /// Every (model, backend) pair with its live health, in config order.
    pub fn entries(&self) -> Vec<Entry<'_>> {
        let now = clock::now_ms();
        let mut entries = Vec::new();
        for route in self.routes() {
            for slot in &route.slots {
                let b = &slot.backend;
                let disabled_by = if !b.enabled {
                    Some("config")
                } else if slot.switch.disabled() {
                    Some("admin")
                } else {
                    None
                };
                let mut health = slot.stats.report(&self.config.health, now);
                if disabled_by.is_some() {
                    health.state = Health::Disabled;
                    health.healthy = false;
                }
                entries.push(Entry {
                    model: &route.model.name,
                    backend: &b.id,
                    provider: &b.provider.id,
                    upstream_model: &b.upstream_model,
                    disabled_by,
                    health,
                });
            }
        }
        entries
    }
}

impl Pools for Snapshot {
    fn pool(&self, provider: &str) -> Option<&UpstreamClient> {
        self.client(provider)
    }
}
