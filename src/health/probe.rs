//! Active checks: one task per backend (provider and upstream model) under
//! one supervisor, restarted with each config snapshot.
//!
//! A probe runs every interval whatever the circuit's state, because its job
//! is to notice a dead backend before users do (and the default `models`
//! probe is free). It is skipped while a rate-limit cooldown runs, and while
//! the circuit is open it waits for the cooldown's end to take the trial.
//! It is also skipped when live traffic succeeded within the interval:
//! that already shows what a probe would.

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::cooldown::CooldownReason;
use super::outcome::Target;
use super::record::Availability;
use super::{clock, probe_check, BackendStats};
use crate::config::{BillingMode, Config, Model, ProbeConfig, ProbeKind};
use crate::state::Snapshot;
use crate::upstream::UpstreamClient;

/// Owns the probe tasks; dropping it stops them.
pub struct ProbeSupervisor {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// What one task probes, named after the first model that uses the backend.
struct Job {
    config: Arc<Config>,
    model: Arc<Model>,
    index: usize,
    stats: Arc<BackendStats>,
    client: UpstreamClient,
    probe: ProbeConfig,
}

impl ProbeSupervisor {
    /// Starts a task per enabled backend whose probe kind is not `none`.
    /// Must run inside a Tokio runtime.
    pub fn start(snap: &Snapshot) -> Self {
        let (stop, rx) = watch::channel(false);
        let tasks = jobs(snap)
            .into_iter()
            .map(|job| tokio::spawn(job.run(rx.clone())))
            .collect();
        ProbeSupervisor { stop, tasks }
    }

    /// How many backends are being probed.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Stops every task: they end at their next await, a probe in flight included.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for ProbeSupervisor {
    fn drop(&mut self) {
        self.stop();
    }
}

fn jobs(snap: &Snapshot) -> Vec<Job> {
    let config = &snap.config;
    let mut seen = HashSet::new();
    let mut jobs = Vec::new();
    for (name, model) in &config.models {
        let Some(route) = snap.models.get(name) else {
            continue;
        };
        for (index, b) in model.backends.iter().enumerate() {
            let mut probe = *config.health.probe_for(&b.provider.id);
            if !b.enabled || probe.kind == ProbeKind::None {
                continue;
            }
            if !seen.insert((b.provider.id.as_str(), b.upstream_model.as_str())) {
                continue;
            }
            let Some(client) = snap.client(&b.provider.id) else {
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
                model: model.clone(),
                index,
                stats: route.stats[index].clone(),
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
    async fn run(self, mut stop: watch::Receiver<bool>) {
        // Spread the first probes so a restart does not fire them all at once.
        let jitter = self.probe.interval.min(Duration::from_secs(1)).as_millis() as u64;
        let mut wait = Duration::from_millis(fastrand::u64(0..=jitter));
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            tokio::select! {
                _ = stop.changed() => return,
                next = self.tick() => wait = next,
            }
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
        let now = clock::now_ms();
        let trial = match self.stats.availability(now) {
            Availability::Up => {
                let last = self.stats.last_success_ms.load(Relaxed);
                if last != 0 && now.saturating_sub(last) < interval.as_millis() as u64 {
                    return interval;
                }
                None
            }
            Availability::Trial => match self.stats.try_trial(now, self.target()) {
                Some(guard) => Some(guard),
                None => return interval,
            },
            Availability::Down { until } => {
                let auth = self.stats.cooldown.active(now) == Some(CooldownReason::Auth);
                let closed = self.stats.state(now) == super::State::CoolingDown;
                if !(auth && closed) {
                    // Wake when the circuit lets a trial through, if that is sooner.
                    let left = Duration::from_millis(clock::until(now, until));
                    return if left.is_zero() {
                        interval
                    } else {
                        left.min(interval)
                    };
                }
                None
            }
        };
        let b = &self.model.backends[self.index];
        let result = probe_check::run(&self.client, b, self.probe.kind, self.probe.timeout).await;
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
