//! The gateway's live state: an atomically swappable snapshot of the config
//! with everything derived from it, plus registries that outlive snapshots.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use crate::config::{Config, Model, User};
use crate::health::{BackendStats, BackendSwitch, HealthRegistry, ProbeSupervisor};
use crate::routing::Balancer;
use crate::telemetry::Metrics;

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    snapshot: ArcSwap<Snapshot>,
    health: Arc<HealthRegistry>,
    metrics: Arc<Metrics>,
    /// The active checks of the current snapshot; `None` once stopped.
    probes: Mutex<Option<ProbeSupervisor>>,
}

impl AppState {
    /// Builds the state and, inside a Tokio runtime, starts the active checks.
    pub fn new(config: Config) -> Result<Self, String> {
        let health = Arc::new(HealthRegistry::default());
        let snapshot = Snapshot::build(config, &health)?;
        let state = AppState(Arc::new(Inner {
            snapshot: ArcSwap::from_pointee(snapshot),
            health,
            metrics: Arc::new(Metrics::new()),
            probes: Mutex::new(None),
        }));
        state.restart_probes();
        Ok(state)
    }

    /// Swaps in a new config: requests already running keep their snapshot,
    /// live health state carries over, and the probes restart for the new backends.
    pub fn install(&self, config: Config) -> Result<(), String> {
        let snapshot = Snapshot::build(config, &self.0.health)?;
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
    /// One pooled keep-alive client per provider.
    clients: HashMap<String, reqwest::Client>,
}

pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Snapshot {
    pub fn build(config: Config, health: &HealthRegistry) -> Result<Self, String> {
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
            .map(|u| (token_digest(u.token.expose()), u.clone()))
            .collect();
        let mut clients = HashMap::new();
        for (id, p) in &config.providers {
            clients.insert(
                id.clone(),
                http_client(p.timeouts.connect).map_err(|e| format!("providers.{id}: {e}"))?,
            );
        }
        Ok(Snapshot {
            config: Arc::new(config),
            models,
            tokens,
            clients,
        })
    }

    pub fn user_by_token(&self, token: &str) -> Option<&Arc<User>> {
        self.tokens.get(&token_digest(token))
    }

    pub fn client(&self, provider: &str) -> Option<&reqwest::Client> {
        self.clients.get(provider)
    }
}

fn http_client(connect_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        // A redirect would carry the provider's key headers to another host.
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
        .build()
}
