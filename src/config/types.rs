//! Validated runtime configuration: what the gateway actually runs on.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use indexmap::IndexMap;

use super::health::{AllDownPolicy, HealthConfig};
use super::limits::{RateLimit, ReloadConfig, StateConfig};
use super::prices::Price;
use super::routing::{Affinity, Hedge};
use super::usage::{Budget, UsageConfig};
use super::Secret;
use crate::protocol::{Protocol, Upstream};

#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub settings: Settings,
    pub providers: IndexMap<String, Arc<Provider>>,
    pub models: IndexMap<String, Arc<Model>>,
    pub users: IndexMap<String, Arc<User>>,
    pub metrics: MetricsConfig,
    pub health: HealthConfig,
    pub state: StateConfig,
    pub reload: ReloadConfig,
    pub usage: UsageConfig,
}

/// Who may read `/metrics`, and where it is served.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    pub access: Access,
    /// A separate listen address for `/metrics`; on the main one when `None`.
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone who can reach the port, as with most exporters.
    Open,
    /// Only users with `admin = true`.
    Admin,
    Off,
}

impl Access {
    /// For "unknown value" errors.
    pub const KNOWN: &'static str = "open (or public), admin, off";

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "open" | "public" => Some(Access::Open),
            "admin" => Some(Access::Admin),
            "off" => Some(Access::Off),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: String,
    pub max_body_bytes: usize,
    /// Who may see `/status`.
    pub status_page: Access,
    pub connections: ConnectionLimits,
}

/// What one client connection may hold, so slow or idle clients cannot
/// hold the gateway's memory and descriptors. Read at start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionLimits {
    /// From the first byte of a request head to its end.
    pub header: Duration,
    /// The whole request body.
    pub body: Duration,
    /// An idle keep-alive connection, between one response and the next request.
    pub keep_alive: Duration,
    /// A response the client stops reading: no byte accepted for this long.
    pub send: Duration,
    /// Open client connections; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            // A head is a few hundred bytes: ten seconds is a very slow link.
            header: Duration::from_secs(10),
            // A 10 MiB body (the default max_body_bytes) at 1.4 Mbit/s.
            body: Duration::from_secs(60),
            // Above the 60 s idle timeout of common load balancers, so they
            // close first and never send on a connection being closed.
            keep_alive: Duration::from_secs(75),
            // A client that takes nothing for a minute is gone or stuck;
            // its stream would hold an upstream connection meanwhile.
            send: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub max_attempts: u32,
    pub timeouts: Timeouts,
    /// Bounds a whole request, all attempts included.
    pub request_deadline: Option<Duration>,
    pub all_backends_down: AllDownPolicy,
    /// How long in-flight requests may run on after a shutdown signal.
    pub shutdown_grace: Duration,
    /// The largest non-streaming answer read from an upstream.
    pub max_response_bytes: usize,
}

/// Per-attempt limits, so a slow backend never spends the next one's time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    pub connect: Duration,
    /// From sending the request to the first content chunk of a stream.
    pub first_token: Duration,
    /// Longest gap between two chunks of a stream.
    pub idle: Duration,
    /// A whole non-streaming response.
    pub request: Duration,
    /// How long an idle keep-alive connection to the upstream stays open.
    pub pool_idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            first_token: Duration::from_secs(60),
            idle: Duration::from_secs(60),
            request: Duration::from_secs(600),
            // Below the 60 s idle timeout common on providers' load balancers,
            // so we close first and never send on a connection they are closing.
            pool_idle: Duration::from_secs(30),
        }
    }
}

#[derive(Debug)]
pub struct Provider {
    pub id: String,
    /// Display name; the id when the file sets none.
    pub name: String,
    /// The wire protocol, with this provider's protocol keys.
    pub protocol: Arc<dyn Protocol>,
    /// Normalised by the protocol (`Spec::base_url`): the form its
    /// endpoint paths extend.
    pub base_url: String,
    pub api_key: Option<Secret>,
    /// Header values may hold credentials, so they are secrets too.
    pub headers: Vec<(String, Secret)>,
    /// Upstream models the provider lists (informational; empty = any).
    pub models: Vec<String>,
    pub timeouts: Timeouts,
    pub enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    WeightedRandom,
    RoundRobin,
    Random,
    Failover,
    WeightedFailover,
    LeastLatency,
    LeastBusy,
    /// Weight times a confidence learned from outcomes; see `[health.smart]`.
    Smart,
}

impl Strategy {
    pub const NAMES: &'static [&'static str] = &[
        "weighted_random",
        "round_robin",
        "random",
        "failover",
        "weighted_failover",
        "least_latency",
        "least_busy",
        "smart",
    ];

    pub fn parse(name: &str) -> Option<Self> {
        use Strategy::*;
        let all = [
            WeightedRandom,
            RoundRobin,
            Random,
            Failover,
            WeightedFailover,
            LeastLatency,
            LeastBusy,
            Smart,
        ];
        Self::NAMES.iter().position(|n| *n == name).map(|i| all[i])
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingMode {
    PerToken,
    PerRequest,
}

/// What a model serves: text generation (chat completions, Responses,
/// text completions) or embeddings; a call of the other kind is a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Chat,
    Embeddings,
}

impl ModelKind {
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Chat => "chat",
            ModelKind::Embeddings => "embeddings",
        }
    }
}

#[derive(Debug)]
pub struct Model {
    pub name: String,
    pub strategy: Strategy,
    pub affinity: Affinity,
    pub hedge: Option<Hedge>,
    pub kind: ModelKind,
    pub backends: Vec<Arc<Backend>>,
}

#[derive(Debug)]
pub struct Backend {
    /// Unique within its model; the provider id unless the entry sets `id`.
    pub id: String,
    /// `id` as the `x-switchyard-backend` response header (`None` when it
    /// is not a valid header value), made once rather than per response.
    pub id_header: Option<HeaderValue>,
    pub provider: Arc<Provider>,
    pub upstream_model: String,
    /// Where the protocol's URLs address the model (Azure: the deployment).
    pub address: String,
    pub weight: f64,
    pub priority: u32,
    pub tags: Vec<String>,
    pub billing_mode: BillingMode,
    /// False when the entry or its provider is disabled.
    pub enabled: bool,
    /// What its answers cost; `None` when no table prices its model (it costs 0).
    pub price: Option<Arc<Price>>,
}

impl Provider {
    /// `text` with this provider's secrets (key, header values) replaced, in
    /// case an upstream echoes them in an error.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self
            .api_key
            .iter()
            .chain(self.headers.iter().map(|(_, v)| v))
        {
            if s.expose().len() >= 4 && out.contains(s.expose()) {
                out = out.replace(s.expose(), "[redacted]");
            }
        }
        out
    }
}

impl Backend {
    /// This backend as its protocol sees it.
    pub fn upstream(&self) -> Upstream<'_> {
        Upstream {
            base_url: &self.provider.base_url,
            api_key: self.provider.api_key.as_ref().map(Secret::expose),
            model: &self.upstream_model,
            address: &self.address,
        }
    }

    /// A backend with tags serves only users sharing one; untagged serves all.
    pub fn visible_to(&self, user: &User) -> bool {
        self.tags.is_empty() || self.tags.iter().any(|t| user.tags.contains(t))
    }
}

#[derive(Debug)]
pub struct User {
    pub id: String,
    /// Display name; the id when the file sets none.
    pub name: String,
    /// SHA-256 of the token: the token itself is never kept.
    pub token_digest: [u8; 32],
    pub allowed_models: Vec<String>,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub allow_backend_pin: bool,
    pub admin: bool,
    pub rate_limit: RateLimit,
    pub budget: Budget,
}

impl User {
    pub fn may_use(&self, model: &str) -> bool {
        self.allowed_models.is_empty() || self.allowed_models.iter().any(|m| m == model)
    }
}

#[cfg(test)]
mod redact_tests {
    use crate::config::redact_url;

    #[test]
    fn hides_userinfo_and_query() {
        assert_eq!(
            redact_url("https://u:p@h.example/v1?key=s"),
            "https://[redacted]@h.example/v1?[redacted]"
        );
        assert_eq!(
            redact_url("https://api.openai.com/v1"),
            "https://api.openai.com/v1"
        );
        assert_eq!(redact_url("ftp://x"), "ftp://x");
    }
}
