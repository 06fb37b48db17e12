//! The TOML file as written: serde structs that reject unknown keys.
//! Everything here is checked and turned into runtime types by `validate`.

use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub settings: RawSettings,
    #[serde(default)]
    pub providers: IndexMap<String, RawProvider>,
    #[serde(default)]
    pub models: IndexMap<String, RawModel>,
    #[serde(default)]
    pub users: IndexMap<String, RawUser>,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub health: super::raw_health::RawHealth,
    #[serde(default)]
    pub state: super::raw_limits::RawState,
    #[serde(default)]
    pub reload: super::raw_limits::RawReload,
    #[serde(default)]
    pub usage: super::raw_usage::RawUsage,
    /// `[prices."UPSTREAM-MODEL"]`, over the shipped table and `usage.prices_file`.
    #[serde(default)]
    pub prices: IndexMap<String, super::raw_usage::RawPrice>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub max_body_bytes: Option<u64>,
    pub status_page: Option<String>,
    pub header_timeout: Option<String>,
    pub body_timeout: Option<String>,
    pub keep_alive_timeout: Option<String>,
    pub send_timeout: Option<String>,
    pub max_connections: Option<u64>,
}

/// Timeouts as human-readable durations; shared by `[settings]` and providers.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub max_attempts: Option<u32>,
    pub connect_timeout: Option<String>,
    pub first_token_timeout: Option<String>,
    pub idle_timeout: Option<String>,
    pub request_timeout: Option<String>,
    pub pool_idle_timeout: Option<String>,
    pub request_deadline: Option<String>,
    pub all_backends_down: Option<String>,
    pub shutdown_grace: Option<String>,
    pub max_response_bytes: Option<u64>,
}

/// Unknown keys are not refused by serde here but by validation, which
/// knows which protocol reads them (`flatten` and `deny_unknown_fields`
/// cannot be combined).
#[derive(Debug, Deserialize)]
pub struct RawProvider {
    /// Display name (berry-api configs carry one); the table key is the id.
    pub name: Option<String>,
    #[serde(default = "default_backend_type")]
    pub backend_type: String,
    pub base_url: String,
    pub api_key: Option<String>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Upstream models this provider offers; when set, backends must use one.
    #[serde(default)]
    pub models: Vec<String>,
    pub connect_timeout: Option<String>,
    pub first_token_timeout: Option<String>,
    pub idle_timeout: Option<String>,
    pub request_timeout: Option<String>,
    pub pool_idle_timeout: Option<String>,
    pub enabled: Option<bool>,
    /// Overrides `[health.probe]` for this provider.
    pub probe: Option<super::raw_health::RawProbe>,
    /// Every other key: the protocol's own (`anthropic_version`, ...), which
    /// its `Spec` reads and validation rejects on other protocols.
    #[serde(flatten)]
    pub protocol: toml::Table,
}

fn default_backend_type() -> String {
    "openai".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// Public name, when it differs from the table key.
    pub name: Option<String>,
    pub strategy: Option<String>,
    /// `chat` (the default) or `embeddings`.
    pub kind: Option<String>,
    pub enabled: Option<bool>,
    /// `off`, `session` (default) or `prefix`.
    pub affinity: Option<String>,
    pub affinity_ttl: Option<String>,
    /// A duration, or `p95`; unset: no hedging.
    pub hedge_after: Option<String>,
    #[serde(default)]
    pub backends: Vec<RawBackend>,
}

/// Unknown keys are refused by validation, as for [`RawProvider`].
#[derive(Debug, Deserialize)]
pub struct RawBackend {
    pub id: Option<String>,
    pub provider: String,
    pub model: String,
    pub weight: Option<f64>,
    pub priority: Option<u32>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub billing_mode: Option<String>,
    pub enabled: Option<bool>,
    /// Replaces the model's price for this backend.
    pub price: Option<super::raw_usage::RawPrice>,
    /// The protocol's own backend keys (Azure's `deployment`).
    #[serde(flatten)]
    pub protocol: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub name: Option<String>,
    /// Exactly one of `token` and `token_sha256` (hex) is set.
    pub token: Option<String>,
    pub token_sha256: Option<String>,
    #[serde(default)]
    pub allowed_models: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub enabled: Option<bool>,
    pub allow_backend_pin: Option<bool>,
    pub admin: Option<bool>,
    pub rate_limit: Option<super::raw_limits::RawRateLimit>,
    pub budget: Option<super::raw_usage::RawBudget>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub access: Option<String>,
    pub listen: Option<String>,
}
