//! Live per-backend state: in-flight requests, latency averages, outcomes,
//! and what they lead to: a circuit breaker, cooldowns, a confidence for the
//! `smart` strategy, the results of active checks, and switches an admin
//! flips at runtime. Pure state: what feeds it (attempts, the prober, other
//! instances) lives above it.
//!
//! State is keyed by (provider, upstream model) and lives outside the config
//! snapshot, so a reload keeps what was learned about unchanged backends.
//! docs/health.md describes the states and transitions.

mod announce;
mod checks;
pub mod circuit;
pub mod confidence;
pub mod cooldown;
mod latency;
mod outcome;
mod quota;
mod record;
mod report;
mod stats;
mod switches;
mod window;

pub use announce::{Announcement, Sink};
pub use checks::{Due, ProbeOutcome};
pub use cooldown::CooldownReason;
pub use outcome::{Failure, Target};
pub use record::{Availability, TrialGuard};
pub use report::{BackendReport, Entry, Recent, State};
pub use stats::{BackendStats, InflightGuard, Notes, ProbeCheck};
pub use switches::{BackendSwitch, Switches};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Hands out one [`BackendStats`] per (provider id, upstream model), and the
/// runtime on/off switches by backend id.
#[derive(Default)]
pub struct HealthRegistry {
    stats: Mutex<HashMap<(String, String), Arc<BackendStats>>>,
    pub switches: Switches,
    /// Where circuit openings and cooldowns are announced to other instances.
    sink: announce::SinkSlot,
}

impl HealthRegistry {
    /// Called when a config snapshot is built, never per request.
    pub fn stats_for(&self, provider: &str, upstream_model: &str) -> Arc<BackendStats> {
        let mut map = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((provider.to_string(), upstream_model.to_string()))
            .or_insert_with(|| {
                let stats = BackendStats::default();
                stats.set_origin(announce::Origin {
                    provider: provider.into(),
                    upstream_model: upstream_model.into(),
                    sink: self.sink.clone(),
                });
                Arc::new(stats)
            })
            .clone()
    }

    /// Sends every later circuit opening and cooldown start to `sink`.
    pub fn announce_to(&self, sink: Box<Sink>) {
        self.sink.store(Some(Arc::new(sink)));
    }
}

#[cfg(test)]
mod tests;
