//! A config snapshot with everything derived from it: routes, users by
//! token digest, limit and budget plans, price ceilings, one pool per
//! provider. A request keeps the one it started with.

use std::collections::HashMap;
use std::sync::Arc;

use crate::budget::{self, Budgets, Ceiling, UserBudget};
use crate::clock;
use crate::config::{Config, User};
use crate::health::{Entry, HealthRegistry, State as Health};
use crate::limits::{LimitRegistry, UserPlan};
use crate::routing::{Balancer, Route, Slot};
use crate::upstream::{Pools, UpstreamClient};

/// The maps each request looks up. Their keys come from the config and a
/// request only looks them up (by a client's model name or token digest at
/// most), so no client can choose what collides: foldhash, not SipHash,
/// which was ~1k instructions a request over these maps.
type Lookup<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

pub struct Snapshot {
    pub config: Arc<Config>,
    pub models: Lookup<String, Route>,
    /// Users by SHA-256 of their token, so lookup never compares secrets byte by byte.
    tokens: Lookup<[u8; 32], Arc<User>>,
    /// Rate limits of the users that have some, by user id.
    plans: Lookup<String, Arc<UserPlan>>,
    /// Budgets of the users that have one, by user id.
    pub budgets: HashMap<String, Arc<UserBudget>>,
    /// What a request for each model may cost at most, per token.
    ceilings: HashMap<String, Ceiling>,
    /// One pooled keep-alive client per provider.
    clients: Lookup<String, UpstreamClient>,
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
                    .with_smart(config.health.smart)
                    .with_weights(model.backends.iter().map(|b| b.weight));
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
        let plans = limits.plans(&config).into_iter().collect();
        let user_budgets = budgets.registry.plans(&config);
        let ceilings = budget::ceilings(&config);
        let mut clients = Lookup::default();
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
