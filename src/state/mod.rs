//! The gateway's live state: an atomically swappable snapshot of the config
//! with everything derived from it, the registries that outlive snapshots,
//! and the owner of the background tasks.

mod snapshot;
mod usage;

pub use snapshot::{token_digest, Snapshot};

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use arc_swap::ArcSwap;

use crate::budget::{self, Budgets};
use crate::config::{Config, LimitsMode, StateConfig};
use crate::health::HealthRegistry;
use crate::ledger::Ledger;
use crate::limits::synced::{Reconcile, Synced};
use crate::limits::{LimitRegistry, Limiter, Store};
use crate::routing::Affinities;
use crate::shared::{Shared, Watched};
use crate::shutdown::Shutdown;
use crate::tasks::Tasks;
use crate::telemetry::Metrics;
use usage::flag_unpriced;

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    snapshot: ArcSwap<Snapshot>,
    health: Arc<HealthRegistry>,
    metrics: Arc<Metrics>,
    /// Every background task; stopped at shutdown.
    tasks: Tasks,
    shutdown: Arc<Shutdown>,
    /// The active checks of the current snapshot, and how many there are.
    probes: Mutex<(Tasks, usize)>,
    /// Rate-limit counters, kept across reloads like health state.
    limits: LimitRegistry,
    limiter: Limiter,
    /// Spend budgets, with their counters (kept across reloads).
    budgets: Budgets,
    /// Where finished requests' usage rows go.
    ledger: Ledger,
    /// Which backend each conversation used last; kept across reloads.
    affinities: Affinities,
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
        let limiter = limiter(&config.state, shared.as_ref(), &tasks);
        let budgets = Budgets::new(shared.clone().map(|s| s as Arc<dyn budget::Store>));
        let dropped = metrics.usage_rows_dropped.clone();
        let ledger = Ledger::start(&config.usage, dropped, &tasks)
            .map_err(|e| format!("usage.store: {e}"))?;
        flag_unpriced(&config, None);
        let snapshot = Snapshot::build(config, &health, (&limits, &budgets))?;
        let remote = shared
            .clone()
            .map(|s| s as Arc<dyn crate::routing::affinity::Remote>);
        let state = AppState(Arc::new(Inner {
            snapshot: ArcSwap::from_pointee(snapshot),
            health,
            metrics,
            probes: Mutex::new((tasks.child(), 0)),
            tasks,
            shutdown: Arc::default(),
            limits,
            limiter,
            budgets,
            ledger,
            affinities: Affinities::new(remote),
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

    pub fn affinities(&self) -> &Affinities {
        &self.0.affinities
    }

    /// How far the gateway is into stopping.
    pub fn shutdown(&self) -> &Arc<Shutdown> {
        &self.0.shutdown
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

/// What the cooldown sync reads now; `None` once the gateway is gone.
/// The limiter `state.limits` asks for; a synced one starts its sync task.
fn limiter(cfg: &StateConfig, shared: Option<&Arc<Shared>>, tasks: &Tasks) -> Limiter {
    let Some(shared) = shared else {
        return Limiter::new(None);
    };
    match cfg.limits {
        LimitsMode::Exact => Limiter::new(Some(shared.clone() as Arc<dyn Store>)),
        LimitsMode::Synced { interval } => {
            let (synced, due) = Synced::new(shared.clone() as Arc<dyn Reconcile>);
            tasks.spawn("limits sync", synced.clone().run(due, interval));
            Limiter::synced(synced)
        }
    }
}

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
