//! Live per-backend state: in-flight requests, latency averages, outcomes.
//!
//! State is keyed by (provider, upstream model) and lives outside the config
//! snapshot, so a reload keeps what was learned about unchanged backends.

mod stats;

pub use stats::{BackendStats, InflightGuard};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Hands out one [`BackendStats`] per (provider id, upstream model).
#[derive(Default)]
pub struct HealthRegistry {
    stats: Mutex<HashMap<(String, String), Arc<BackendStats>>>,
}

impl HealthRegistry {
    /// Called when a config snapshot is built, never per request.
    pub fn stats_for(&self, provider: &str, upstream_model: &str) -> Arc<BackendStats> {
        let mut map = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((provider.to_string(), upstream_model.to_string()))
            .or_insert_with(|| Arc::new(BackendStats::default()))
            .clone()
    }
}
