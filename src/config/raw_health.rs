//! The `[health]` tables and `[providers.ID.probe]` as written in TOML.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    pub failure_threshold: Option<u32>,
    pub error_rate_threshold: Option<f64>,
    pub min_requests: Option<u32>,
    pub window: Option<String>,
    pub open_cooldown: Option<String>,
    pub max_open_cooldown: Option<String>,
    pub rate_limit_cooldown: Option<String>,
    pub max_cooldown: Option<String>,
    pub auth_cooldown: Option<String>,
    #[serde(default)]
    pub probe: RawProbe,
    #[serde(default)]
    pub smart: RawSmart,
}

/// `[health.probe]`, and the same keys under `[providers.ID.probe]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub kind: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub failure_threshold: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmart {
    pub initial_confidence: Option<f64>,
    pub min_confidence: Option<f64>,
    pub success_reward: Option<f64>,
    pub recovery_half_life: Option<String>,
    pub explore_ratio: Option<f64>,
    #[serde(default)]
    pub penalties: RawPenalties,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPenalties {
    pub auth: Option<f64>,
    pub connect: Option<f64>,
    pub timeout: Option<f64>,
    pub server_error: Option<f64>,
    pub rate_limited: Option<f64>,
    pub stream_broken: Option<f64>,
}
