//! Transitions other gateway instances should hear about (a circuit opened,
//! a cooldown started), and applying those heard from them. The transport
//! (Redis) lives in `crate::shared`; here are only the hooks, so a backend's
//! state never waits on the network.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;

use super::cooldown::CooldownReason;
use super::stats::BackendStats;
use crate::clock;

/// A backend that should get no traffic for `ttl`, as one instance saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub provider: Arc<str>,
    pub upstream_model: Arc<str>,
    pub ttl: Duration,
    pub reason: CooldownReason,
}

/// Receives announcements; set when the state store is shared.
pub type Sink = dyn Fn(Announcement) + Send + Sync;

/// The registry-wide slot for the sink, shared by every backend's stats.
pub type SinkSlot = Arc<ArcSwapOption<Box<Sink>>>;

/// Which backend a [`BackendStats`] belongs to, and where to announce.
#[derive(Clone)]
pub(super) struct Origin {
    pub provider: Arc<str>,
    pub upstream_model: Arc<str>,
    pub sink: SinkSlot,
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.provider, self.upstream_model)
    }
}

impl BackendStats {
    pub(super) fn set_origin(&self, origin: Origin) {
        let _ = self.origin.set(origin);
    }

    /// Tells other instances, if the store is shared. Only called on transitions.
    pub(super) fn announce(&self, ttl: Duration, reason: CooldownReason) {
        let Some(origin) = self.origin.get() else {
            return;
        };
        if let Some(sink) = origin.sink.load().as_ref() {
            sink(Announcement {
                provider: origin.provider.clone(),
                upstream_model: origin.upstream_model.clone(),
                ttl,
                reason,
            });
        }
    }

    /// Cools the backend down because another instance found it down; never
    /// announced again. True when it was not cooling down before.
    pub fn apply_shared(&self, ttl: Duration, reason: CooldownReason) -> bool {
        let now = clock::now_ms();
        self.cooldown.start(now, ttl, reason)
    }
}

/// `OnceLock` for the field in `BackendStats`.
pub(super) type OriginCell = OnceLock<Origin>;

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::super::{Failure, HealthRegistry, State, Target};
    use super::*;

    #[test]
    fn transitions_are_announced_once_and_shared_ones_are_not_echoed() {
        let text = "[providers.p]\nbase_url = \"http://h\"\n[[models.m.backends]]\nprovider = \"p\"\nmodel = \"up\"\n[users.u]\ntoken = \"t\"\n";
        let config = crate::config::parse(text, &|_| None).unwrap();
        let backend = &config.models["m"].backends[0];
        let t = Target {
            model: "m",
            backend,
        };
        let reg = HealthRegistry::default();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let keep = heard.clone();
        reg.announce_to(Box::new(move |a| keep.lock().unwrap().push(a)));
        let s = reg.stats_for("p", "up");
        let cfg = crate::config::HealthConfig {
            failure_threshold: 2,
            ..Default::default()
        };
        let limited = Failure::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
        };
        s.on_failure(&cfg, t, limited, "429");
        s.on_failure(&cfg, t, limited, "429");
        for _ in 0..3 {
            s.on_failure(&cfg, t, Failure::Connect, "refused");
        }
        let heard: Vec<(String, Duration, CooldownReason)> = heard
            .lock()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    format!("{}/{}", a.provider, a.upstream_model),
                    a.ttl,
                    a.reason,
                )
            })
            .collect();
        assert_eq!(
            heard,
            vec![
                (
                    "p/up".into(),
                    Duration::from_secs(7),
                    CooldownReason::RateLimited
                ),
                (
                    "p/up".into(),
                    cfg.open_cooldown,
                    CooldownReason::CircuitOpen
                ),
            ]
        );
        let other = reg.stats_for("p", "other");
        assert!(other.apply_shared(Duration::from_secs(5), CooldownReason::CircuitOpen));
        assert!(!other.apply_shared(Duration::from_secs(1), CooldownReason::CircuitOpen));
        assert_eq!(other.state(clock::now_ms()), State::CoolingDown);
        assert_eq!(
            other.report(&cfg, clock::now_ms()).cooldown_reason,
            Some("circuit_open")
        );
    }
}
