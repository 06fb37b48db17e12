//! The gateway's live state: an atomically swappable snapshot of the config
//! with everything derived from it, plus registries that outlive snapshots.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use arc_swap::ArcSwap;

use crate::config::{Config, Model, User};
use crate::health::{BackendStats, BackendSwitch, HealthRegistry, ProbeSupervisor};
use crate::limits::{LimitRegistry, Limiter, UserPlan};
use crate::routing::Balancer;
use crate::shared::Shared;
use crate::telemetry::Metrics;
use crate::upstream::UpstreamClient;

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// An [`AppState`] that background tasks hold without keeping it alive.
#[derive(Clone)]
pub struct WeakState(Weak<Inner>);

impl WeakState {
    pub fn upgrade(&self) -> Option<AppState> {
        self.0.upgrade().map(AppState)
    }
}

struct Inner {
    snapshot: ArcSwap<Snapshot>,
    health: Arc<HealthRegistry>,
    metrics: Arc<Metrics>,
    /// The active checks of the current snapshot; `None` once stopped.
    probes: Mutex<Option<ProbeSupervisor>>,
    /// Rate-limit counters, kept across reloads like health state.
    limits: LimitRegistry,
    limiter: Limiter,
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
        let shared = match tokio::runtime::Handle::try_current() {
            Ok(_) => Shared::connect(&config.state, metrics.clone())?,
            Err(_) if config.state.backend == crate::config::StateBackend::Memory => None,
            Err(_) => return Err("the redis state backend needs a Tokio runtime".into()),
        };
        if let Some(shared) = &shared {
            health.announce_to(shared.announcer());
        }
        let limits = LimitRegistry::default();
        let snapshot = Snapshot::build(config, &health, &limits)?;
        let state = AppState(Arc::new(Inner {
            snapshot: ArcSwap::from_pointee(snapshot),
            health,
            metrics,
            probes: Mutex::new(None),
            limits,
            limiter: Limiter::new(shared.clone()),
            config_path: OnceLock::new(),
            reloading: tokio::sync::Mutex::new(()),
        }));
        if let Some(shared) = &shared {
            shared.spawn_sync(state.downgrade());
        }
        state.restart_probes();
        Ok(state)
    }

    pub fn downgrade(&self) -> WeakState {
        WeakState(Arc::downgrade(&self.0))
    }

    /// Swaps in a new config: requests already running keep their snapshot,
    /// live health state and rate-limit counters carry over, and the probes
    /// restart for the new backends.
    pub fn install(&self, config: Config) -> Result<(), String> {
        let snapshot = Snapshot::build(config, &self.0.health, &self.0.limits)?;
        self.0.snapshot.store(Arc::new(snapshot));
        self.restart_probes();
        Ok(())
    }

    fn restart_probes(&self) {
        let mut probes = self.0.probes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = probes.take() {
            old.stop();
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            *probes = Some(ProbeSupervisor::start(&self.snapshot()));
        }
    }

    /// Stops the active checks (at shutdown). A later `install` starts them again.
    pub fn stop_probes(&self) {
        let mut probes = self.0.probes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = probes.take() {
            old.stop();
        }
    }

    /// How many backends are being probed now.
    pub fn probed_backends(&self) -> usize {
        let probes = self.0.probes.lock().unwrap_or_else(|e| e.into_inner());
        probes.as_ref().map_or(0, ProbeSupervisor::len)
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

/// A model with its routing state and per-backend live stats and runtime
/// switches (same order as `model.backends`).
pub struct ModelRoute {
    pub model: Arc<Model>,
    pub stats: Vec<Arc<BackendStats>>,
    pub switches: Vec<BackendSwitch>,
    pub balancer: Balancer,
}

pub struct Snapshot {
    pub config: Arc<Config>,
    pub models: HashMap<String, ModelRoute>,
    /// Users by SHA-256 of their token, so lookup never compares secrets byte by byte.
    tokens: HashMap<[u8; 32], Arc<User>>,
    /// Rate limits of the users that have some, by user id.
    plans: HashMap<String, Arc<UserPlan>>,
    /// One pooled keep-alive client per provider.
    clients: HashMap<String, UpstreamClient>,
}

pub use crate::config::token_digest;

impl Snapshot {
    pub fn build(
        config: Config,
        health: &HealthRegistry,
        limits: &LimitRegistry,
    ) -> Result<Self, String> {
        let models = config
            .models
            .iter()
            .map(|(name, model)| {
                let stats = model
                    .backends
                    .iter()
                    .map(|b| health.stats_for(&b.provider.id, &b.upstream_model))
                    .collect();
                let switches = model
                    .backends
                    .iter()
                    .map(|b| health.switches.for_backend(&b.id, name))
                    .collect();
                let balancer = Balancer::new(model.strategy, model.backends.len())
                    .with_smart(config.health.smart);
                (
                    name.clone(),
                    ModelRoute {
                        model: model.clone(),
                        stats,
                        switches,
                        balancer,
                    },
                )
            })
            .collect();
        let tokens = config
            .users
            .values()
            .map(|u| (u.token_digest, u.clone()))
            .collect();
        let plans = limits.plans(&config);
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

    pub fn client(&self, provider: &str) -> Option<&UpstreamClient> {
        self.clients.get(provider)
    }
}
