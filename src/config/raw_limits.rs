//! `[users.ID.rate_limit]`, `[state]` and `[reload]` as written in TOML.

use indexmap::IndexMap;
use serde::Deserialize;

/// `[users.ID.rate_limit]`: limits over all of the user's models, and
/// `[users.ID.rate_limit.models.MODEL]` with the same keys for one model.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    pub requests_per_minute: Option<u64>,
    pub requests_per_hour: Option<u64>,
    pub requests_per_day: Option<u64>,
    pub tokens_per_minute: Option<u64>,
    pub tokens_per_day: Option<u64>,
    pub max_concurrent: Option<u64>,
    #[serde(default)]
    pub models: IndexMap<String, RawLimits>,
}

/// The same keys, without `models` (serde's `flatten` cannot be combined
/// with `deny_unknown_fields`, so they are listed twice).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub requests_per_minute: Option<u64>,
    pub requests_per_hour: Option<u64>,
    pub requests_per_day: Option<u64>,
    pub tokens_per_minute: Option<u64>,
    pub tokens_per_day: Option<u64>,
    pub max_concurrent: Option<u64>,
}

impl RawRateLimit {
    pub fn own(&self) -> RawLimits {
        RawLimits {
            requests_per_minute: self.requests_per_minute,
            requests_per_hour: self.requests_per_hour,
            requests_per_day: self.requests_per_day,
            tokens_per_minute: self.tokens_per_minute,
            tokens_per_day: self.tokens_per_day,
            max_concurrent: self.max_concurrent,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawState {
    pub backend: Option<String>,
    pub url: Option<String>,
    pub timeout: Option<String>,
    pub on_error: Option<String>,
    pub prefix: Option<String>,
    pub sync_interval: Option<String>,
    pub limits: Option<String>,
    pub limits_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReload {
    pub watch: Option<bool>,
    pub debounce: Option<String>,
    pub allow_replace_all: Option<bool>,
}
