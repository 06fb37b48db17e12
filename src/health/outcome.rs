//! What one attempt or probe told us about a backend.

use std::time::Duration;

use crate::config::{Backend, Penalties};

/// A failure that says something about the backend (a request the client
/// got wrong says nothing and is never recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 401/403: the key is wrong or lacks access.
    Auth {
        status: u16,
    },
    /// 429, with how long the upstream asked us to wait.
    RateLimited {
        retry_after: Option<Duration>,
    },
    Connect,
    Timeout,
    /// 5xx, or another status that means the upstream is unwell.
    Server {
        status: u16,
    },
    /// Broken, stalled or unreadable stream or body.
    StreamBroken,
}

impl Failure {
    /// Rate limits and auth errors get cooldowns instead: they do not mean
    /// the backend is down, so they neither open nor re-open the circuit.
    pub fn counts_for_circuit(self) -> bool {
        !matches!(self, Failure::Auth { .. } | Failure::RateLimited { .. })
    }

    pub fn penalty(self, p: &Penalties) -> f64 {
        match self {
            Failure::Auth { .. } => p.auth,
            Failure::RateLimited { .. } => p.rate_limited,
            Failure::Connect => p.connect,
            Failure::Timeout => p.timeout,
            Failure::Server { .. } => p.server_error,
            Failure::StreamBroken => p.stream_broken,
        }
    }
}

/// The backend an outcome belongs to, with the model it was used for: stats
/// are shared by every model using the same provider and upstream model, and
/// log lines name the one at hand.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub model: &'a str,
    pub backend: &'a Backend,
}

impl Target<'_> {
    /// Removes the provider's secrets from an upstream message, in case one echoes them.
    pub fn scrub(&self, message: &str) -> String {
        self.backend.provider.scrub(message)
    }
}
