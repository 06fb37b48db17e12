//! Per-model routing options beyond the strategy: conversation affinity and
//! hedged requests.

use std::time::Duration;

/// Which requests of a model stick to the backend their conversation used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AffinityMode {
    Off,
    /// Requests that name their conversation: the `x-switchyard-session`
    /// header, `prompt_cache_key`, Anthropic's `metadata.user_id`, `user`.
    Session,
    /// As `session`, and otherwise a hash of the prompt's stable start.
    Prefix,
}

impl AffinityMode {
    pub const NAMES: &'static str = "off, session, prefix";

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "off" => Some(AffinityMode::Off),
            "session" => Some(AffinityMode::Session),
            "prefix" => Some(AffinityMode::Prefix),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Affinity {
    pub mode: AffinityMode,
    /// A conversation unused this long goes back to normal routing.
    pub ttl: Duration,
}

impl Default for Affinity {
    fn default() -> Self {
        Affinity {
            mode: AffinityMode::Session,
            ttl: Duration::from_secs(600),
        }
    }
}

/// When a second attempt races a slow first one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hedge {
    After(Duration),
    /// The first backend's observed 95th-percentile latency.
    P95,
}
