//! Backend health settings: the circuit breaker, cooldowns, active probes and
//! the `smart` strategy's confidence. Documented in docs/health.md.

use std::collections::HashMap;
use std::time::Duration;

/// `[health]`, with `[health.probe]`, `[health.smart]` and per-provider probe overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    /// Consecutive failures that open a closed circuit.
    pub failure_threshold: u32,
    /// Failure share over `window` that opens a closed circuit...
    pub error_rate_threshold: f64,
    /// ...once the window holds at least this many requests.
    pub min_requests: u32,
    pub window: Duration,
    /// How long an opened circuit stays open before one trial goes through;
    /// doubled at each re-open without a real success, up to `max_open_cooldown`.
    pub open_cooldown: Duration,
    pub max_open_cooldown: Duration,
    /// A 429 without any rate-limit header cools the backend down this long.
    pub rate_limit_cooldown: Duration,
    /// Caps the cooldown an upstream asks for in its rate-limit headers.
    pub max_cooldown: Duration,
    /// An upstream 401/403 cools the backend down this long.
    pub auth_cooldown: Duration,
    pub probe: ProbeConfig,
    /// Resolved `[providers.ID.probe]` overrides, by provider id.
    pub provider_probes: HashMap<String, ProbeConfig>,
    pub smart: SmartConfig,
}

impl Default for HealthConfig {
    fn default() -> Self {
        let secs = Duration::from_secs;
        HealthConfig {
            failure_threshold: 5,
            error_rate_threshold: 0.5,
            min_requests: 10,
            window: secs(60),
            open_cooldown: secs(30),
            max_open_cooldown: secs(300),
            rate_limit_cooldown: secs(5),
            max_cooldown: secs(300),
            auth_cooldown: secs(300),
            probe: ProbeConfig::default(),
            provider_probes: HashMap::new(),
            smart: SmartConfig::default(),
        }
    }
}

impl HealthConfig {
    /// The probe settings of one provider: its override, else the global ones.
    pub fn probe_for(&self, provider: &str) -> &ProbeConfig {
        self.provider_probes.get(provider).unwrap_or(&self.probe)
    }
}

/// What an active check sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// `GET {base_url}/models`: free, shows the upstream answers and takes the key.
    Models,
    /// A one-token completion: shows completions work, but costs a request.
    Chat,
    None,
}

impl ProbeKind {
    pub const NAMES: &'static [&'static str] = &["models", "chat", "none"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "models" => Some(ProbeKind::Models),
            "chat" => Some(ProbeKind::Chat),
            "none" => Some(ProbeKind::None),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Models => "models",
            ProbeKind::Chat => "chat",
            ProbeKind::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeConfig {
    pub kind: ProbeKind,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive failed probes that open a closed circuit.
    pub failure_threshold: u32,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            kind: ProbeKind::Models,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            failure_threshold: 2,
        }
    }
}

/// `[health.smart]`: the confidence the `smart` strategy weighs backends by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmartConfig {
    /// Where confidence starts and what it recovers toward.
    pub initial_confidence: f64,
    /// The floor, so a backend always keeps a little traffic.
    pub min_confidence: f64,
    pub success_reward: f64,
    /// Time for half of the distance to `initial_confidence` to be recovered.
    pub recovery_half_life: Duration,
    /// Share of picks made uniformly at random, so a recovered backend earns its way back.
    pub explore_ratio: f64,
    pub penalties: Penalties,
}

impl Default for SmartConfig {
    fn default() -> Self {
        SmartConfig {
            initial_confidence: 1.0,
            min_confidence: 0.05,
            success_reward: 0.1,
            recovery_half_life: Duration::from_secs(60),
            explore_ratio: 0.1,
            penalties: Penalties::default(),
        }
    }
}

/// How much confidence one failure of each class costs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Penalties {
    pub auth: f64,
    pub connect: f64,
    pub timeout: f64,
    pub server_error: f64,
    pub rate_limited: f64,
    pub stream_broken: f64,
}

impl Default for Penalties {
    fn default() -> Self {
        Penalties {
            auth: 0.5,
            connect: 0.3,
            timeout: 0.3,
            server_error: 0.2,
            rate_limited: 0.1,
            stream_broken: 0.2,
        }
    }
}

/// `settings.all_backends_down`: what a request does when every backend of
/// its model is open, cooling down or waiting on a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllDownPolicy {
    /// Try the backend whose cooldown ends first.
    TryAnyway,
    /// Answer 503 at once.
    Fail,
}

impl AllDownPolicy {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "try_anyway" => Some(AllDownPolicy::TryAnyway),
            "fail" => Some(AllDownPolicy::Fail),
            _ => None,
        }
    }
}
