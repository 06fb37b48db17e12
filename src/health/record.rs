//! How outcomes move a backend's circuit, cooldown and confidence, and the
//! one log line each transition gets (target `switchyard::health`).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::circuit::{CircuitState, TrialToken};
use super::cooldown::CooldownReason;
use super::outcome::{Failure, Target};
use super::stats::BackendStats;
use crate::config::HealthConfig;

/// Whether a backend may take traffic now (cheap: a few atomic loads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Up,
    /// The circuit is half-open and its one trial is free.
    Trial,
    /// Open, cooling down, or half-open with a trial in flight, until about `until` (clock ms).
    Down {
        until: u64,
    },
}

/// Holds a half-open circuit's one trial; frees it on drop if no outcome did.
pub struct TrialGuard {
    stats: Arc<BackendStats>,
    token: TrialToken,
}

impl Drop for TrialGuard {
    fn drop(&mut self) {
        self.stats.circuit.release_trial(self.token);
    }
}

impl BackendStats {
    pub fn availability(&self, now: u64) -> Availability {
        let cooling = self.cooldown.until();
        match self.circuit.state() {
            CircuitState::Closed if cooling <= now => Availability::Up,
            CircuitState::Closed => Availability::Down { until: cooling },
            CircuitState::Open { retry_at } if retry_at > now || cooling > now => {
                Availability::Down {
                    until: retry_at.max(cooling),
                }
            }
            CircuitState::Open { .. } | CircuitState::HalfOpen { trial: false }
                if cooling <= now =>
            {
                Availability::Trial
            }
            CircuitState::Open { .. } | CircuitState::HalfOpen { .. } => Availability::Down {
                until: cooling.max(now),
            },
        }
    }

    /// As [`availability`](Self::availability), and down until its quota
    /// resets for a request of `tokens` when the upstream reported fewer left.
    pub fn availability_for(&self, now: u64, tokens: u64) -> Availability {
        match self.availability(now) {
            Availability::Up | Availability::Trial if self.quota.short_of(tokens, now) => {
                Availability::Down {
                    until: self.quota.until(),
                }
            }
            a => a,
        }
    }

    /// Takes the half-open trial, if it is free.
    pub fn try_trial(self: &Arc<Self>, now: u64, t: Target) -> Option<TrialGuard> {
        let (token, entered) = self.circuit.try_trial(now)?;
        if entered {
            tracing::info!(target: "switchyard::health", backend = %t.backend.id, model = t.model,
                provider = %t.backend.provider.id, "circuit half-open: letting one trial through");
        }
        Some(TrialGuard {
            stats: self.clone(),
            token,
        })
    }

    /// A request that succeeded: it closes the circuit whatever its state.
    pub fn on_success(
        &self,
        cfg: &HealthConfig,
        t: Target,
        latency: Duration,
        ttft: Option<Duration>,
    ) {
        let now = crate::clock::now_ms();
        self.count_success(latency, ttft);
        self.last_success_ms.store(now, Relaxed);
        self.probe_failures.store(0, Relaxed);
        self.window.record(now, cfg.window, false);
        self.confidence
            .adjust(now, &cfg.smart, cfg.smart.success_reward);
        if self.cooldown.end_auth(now) {
            log_recovered(t, "a request was accepted: auth cooldown ended");
        }
        self.close(t, true, "a request succeeded");
    }

    /// A request that failed because of the backend; `detail` is a
    /// secret-free summary for `last_error`.
    pub fn on_failure(&self, cfg: &HealthConfig, t: Target, failure: Failure, detail: &str) {
        let now = crate::clock::now_ms();
        let in_a_row = self.count_failure(failure.counts_for_circuit());
        self.confidence
            .adjust(now, &cfg.smart, -failure.penalty(&cfg.smart.penalties));
        let detail = t.scrub(detail);
        self.note_error(&detail);
        self.cool_down(cfg, t, failure, now);
        if !failure.counts_for_circuit() {
            return;
        }
        self.window.record(now, cfg.window, true);
        let reason = match self.circuit.state() {
            CircuitState::Closed => self.trip_reason(cfg, now, in_a_row),
            CircuitState::HalfOpen { .. } => Some("the trial failed".to_string()),
            CircuitState::Open { .. } => None,
        };
        if let Some(reason) = reason {
            self.open(cfg, t, now, &format!("{reason}; last error: {detail}"));
        }
    }

    fn trip_reason(&self, cfg: &HealthConfig, now: u64, in_a_row: u32) -> Option<String> {
        if in_a_row >= cfg.failure_threshold {
            return Some(format!("{in_a_row} consecutive failures"));
        }
        let (n, bad) = self.window.totals(now, cfg.window);
        let rate = if n == 0 { 0.0 } else { bad as f64 / n as f64 };
        (n >= u64::from(cfg.min_requests) && rate >= cfg.error_rate_threshold)
            .then(|| format!("error rate {:.0}% over the last {n} requests", rate * 100.0))
    }

    /// Opens a closed circuit or re-opens a half-open one, logging once.
    pub(super) fn open(&self, cfg: &HealthConfig, t: Target, now: u64, reason: &str) {
        let (cooldown, what) = match self.circuit.state() {
            CircuitState::HalfOpen { .. } => (self.circuit.reopen(now, cfg), "circuit re-opened"),
            _ => (self.circuit.trip(now, cfg), "circuit opened"),
        };
        let Some(cooldown) = cooldown else { return };
        self.announce(cooldown, CooldownReason::CircuitOpen);
        let cooldown_ms = cooldown.as_millis() as u64;
        tracing::warn!(target: "switchyard::health", backend = %t.backend.id, model = t.model,
            provider = %t.backend.provider.id, reason, cooldown_ms, "{what}");
    }

    /// Closes the circuit, logging if it was not closed.
    pub(super) fn close(&self, t: Target, real_success: bool, reason: &str) {
        if self.circuit.close(real_success) {
            self.consecutive_failures.store(0, Relaxed);
            self.window.clear();
            tracing::info!(target: "switchyard::health", backend = %t.backend.id, model = t.model,
                provider = %t.backend.provider.id, reason, "circuit closed");
        }
    }

    /// Starts the cooldown a 429 or 401/403 calls for, logging when one begins.
    pub(super) fn cool_down(&self, cfg: &HealthConfig, t: Target, failure: Failure, now: u64) {
        let (b, p) = (&t.backend.id, &t.backend.provider.id);
        let (d, reason) = match failure {
            Failure::Auth { .. } => (cfg.auth_cooldown, CooldownReason::Auth),
            Failure::RateLimited { retry_after } => (
                retry_after
                    .unwrap_or(cfg.rate_limit_cooldown)
                    .min(cfg.max_cooldown),
                CooldownReason::RateLimited,
            ),
            _ => return,
        };
        if !self.cooldown.start(now, d, reason) {
            return;
        }
        self.announce(d, reason);
        let cooldown_ms = d.as_millis() as u64;
        match failure {
            Failure::Auth { status } => tracing::warn!(target: "switchyard::health", backend = %b,
                model = t.model, provider = %p, cooldown_ms,
                "backend {b} of model {} got HTTP {status}: check the API key of provider {p}",
                t.model),
            _ => tracing::warn!(target: "switchyard::health", backend = %b, model = t.model,
                provider = %p, cooldown_ms, "backend rate limited (HTTP 429): cooling down"),
        }
    }

    /// Reads an answer's rate-limit headers: the backend's weight follows the
    /// share of its quota left, and a backend with no requests left cools
    /// down until its reset (announced like any cooldown), before any 429.
    pub fn observe_quota(&self, t: Target, headers: &axum::http::HeaderMap) {
        let Some(reading) = super::quota::read(headers) else {
            return;
        };
        let now = crate::clock::now_ms();
        let Some(wait) = self.quota.observe(&reading, now) else {
            return;
        };
        if self.cooldown.start(now, wait, CooldownReason::Quota) {
            self.announce(wait, CooldownReason::Quota);
            tracing::warn!(target: "switchyard::health", backend = %t.backend.id, model = t.model,
                provider = %t.backend.provider.id, cooldown_ms = wait.as_millis() as u64,
                "backend reported no requests left: routing around it until its reset");
        }
    }

    /// The share of its quota the backend reported left (1.0 when unknown).
    pub fn quota_share(&self, now: u64) -> f64 {
        self.quota.share(now)
    }

    /// Whether the backend reported fewer tokens left than `needed`.
    pub fn short_of_tokens(&self, needed: u64, now: u64) -> bool {
        self.quota.short_of(needed, now)
    }

    /// Keeps a secret-free (already scrubbed) error summary for `/admin/backends`.
    pub(super) fn note_error(&self, detail: &str) {
        self.lock_notes().last_error = Some((detail.to_string(), SystemTime::now()));
    }
}

pub(super) fn log_recovered(t: Target, reason: &str) {
    tracing::info!(target: "switchyard::health", backend = %t.backend.id, model = t.model,
        provider = %t.backend.provider.id, reason, "backend recovered");
}
