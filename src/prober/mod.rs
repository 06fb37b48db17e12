//! Active checks: one task per backend (provider and upstream model),
//! started for each config snapshot in their own task group and stopped
//! with it. When a check is due, and what its result does, is health
//! state (`health::checks`); this sends them.

mod send;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{BillingMode, Config, Model, ProbeConfig, ProbeKind};
use crate::health::{BackendStats, Due, Target};
use crate::routing::Route;
use crate::tasks::Tasks;
use crate::upstream::UpstreamClient;

/// What one task probes, named after the first model that uses the backend.
struct Job {
    config: Arc<Config>,
    model: Arc<Model>,
    index: usize,
    stats: Arc<BackendStats>,
    client: UpstreamClient,
    probe: ProbeConfig,
}

/// Starts a task in `group` per enabled backend whose probe kind is not
/// `none`; returns how many.
pub fn start<'a>(
    group: &Tasks,
    config: &Arc<Config>,
    routes: impl Iterator<Item = &'a Route>,
    client: impl Fn(&str) -> Option<&'a UpstreamClient>,
) -> usize {
    let jobs = jobs(config, routes, client);
    let n = jobs.len();
    for job in jobs {
        group.spawn("probe", job.run());
    }
    n
}

fn jobs<'a>(
    config: &Arc<Config>,
    routes: impl Iterator<Item = &'a Route>,
    client: impl Fn(&str) -> Option<&'a UpstreamClient>,
) -> Vec<Job> {
    let mut seen = HashSet::new();
    let mut jobs = Vec::new();
    for route in routes {
        for (index, slot) in route.slots.iter().enumerate() {
            let b = &slot.backend;
            let mut probe = *config.health.probe_for(&b.provider.id);
            if !b.enabled || probe.kind == ProbeKind::None {
                continue;
            }
            if !seen.insert((b.provider.id.clone(), b.upstream_model.clone())) {
                continue;
            }
            let Some(client) = client(&b.provider.id) else {
                continue;
            };
            if probe.kind == ProbeKind::Chat
                && bills_per_request(config, &b.provider.id, &b.upstream_model)
            {
                // Every chat probe would cost a request: these recover through
                // models probes or a half-open trial with live traffic.
                probe.kind = ProbeKind::Models;
            }
            jobs.push(Job {
                config: config.clone(),
                model: route.model.clone(),
                index,
                stats: slot.stats.clone(),
                client: client.clone(),
                probe,
            });
        }
    }
    jobs
}

/// True when any model uses this provider and upstream model billed per request.
fn bills_per_request(config: &Config, provider: &str, upstream: &str) -> bool {
    config.models.values().flat_map(|m| &m.backends).any(|b| {
        b.provider.id == provider
            && b.upstream_model == upstream
            && b.billing_mode == BillingMode::PerRequest
    })
}

impl Job {
    async fn run(self) {
        // Spread the first probes so a restart does not fire them all at once.
        let jitter = self.probe.interval.min(Duration::from_secs(1)).as_millis() as u64;
        let mut wait = Duration::from_millis(fastrand::u64(0..=jitter));
        loop {
            tokio::time::sleep(wait).await;
            wait = self.tick().await;
        }
    }

    fn target(&self) -> Target<'_> {
        Target {
            model: &self.model.name,
            backend: &self.model.backends[self.index],
        }
    }

    /// Probes if there is something to learn; returns the wait before the next tick.
    async fn tick(&self) -> Duration {
        let interval = self.probe.interval;
        let trial = match self.stats.probe_due(interval, self.target()) {
            Due::Later(wait) => return wait,
            Due::Now(trial) => trial,
        };
        let b = &self.model.backends[self.index];
        let result = send::run(&self.client, b, self.probe.kind, self.probe.timeout).await;
        let threshold = self.probe.failure_threshold;
        self.stats.on_probe(
            &self.config.health,
            self.target(),
            result,
            trial.is_some(),
            threshold,
        );
        interval
    }
}
