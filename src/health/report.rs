//! A backend's health as `/admin/backends` shows it: no secrets, only
//! counters, states and secret-free error summaries.

use std::sync::atomic::Ordering::Relaxed;
use std::time::SystemTime;

use serde::Serialize;

use super::circuit::CircuitState;
use super::cooldown::CooldownReason;
use super::stats::BackendStats;
use crate::clock;
use crate::config::HealthConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Healthy,
    Open,
    HalfOpen,
    CoolingDown,
    Disabled,
}

impl State {
    /// The `switchyard_circuit_state` gauge's value.
    pub fn code(self) -> i64 {
        match self {
            State::Healthy => 0,
            State::HalfOpen => 1,
            State::Open => 2,
            State::CoolingDown => 3,
            State::Disabled => 4,
        }
    }
}

/// What a backend is doing now, beside its circuit state: the circuit stays
/// closed until failures add up to a threshold, and meanwhile `state`
/// alone calls a backend whose every request fails healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recent {
    /// Its last request, and its last active check, succeeded.
    Ok,
    /// Its last request, or its last active check, failed.
    Failing,
    /// Nothing has been sent to it yet.
    Unknown,
}

/// One (model, backend) pair as `/admin/backends`, the status page and the
/// gauges show it.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub model: &'a str,
    pub backend: &'a str,
    pub provider: &'a str,
    pub upstream_model: &'a str,
    /// "config" or "admin" when the backend is out of rotation.
    pub disabled_by: Option<&'static str>,
    #[serde(flatten)]
    pub health: BackendReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub at: String,
    pub probe: &'static str,
    pub ok: bool,
    pub detail: String,
    pub latency_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackendReport {
    pub state: State,
    /// May take traffic: `state` is `healthy`.
    pub healthy: bool,
    pub recent: Recent,
    pub consecutive_failures: u32,
    /// Failure share over `[health].window`.
    pub error_rate: f64,
    pub window_requests: u64,
    pub ewma_latency_ms: Option<f64>,
    pub ewma_ttft_ms: Option<f64>,
    pub inflight: i64,
    pub confidence: f64,
    pub successes: u64,
    pub failures: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub last_check: Option<CheckReport>,
    /// Until the circuit lets a trial through or the cooldown ends, whichever is later.
    pub cooldown_remaining_ms: u64,
    pub cooldown_reason: Option<&'static str>,
    /// The share of its quota the upstream's headers said is left (1 when
    /// they said nothing, or their reading expired).
    pub quota_share: f64,
    pub quota_tokens_left: Option<u64>,
    /// Observed 95th-percentile latency (to the full answer, or a stream's
    /// first token), what `hedge_after = "p95"` waits.
    pub p95_latency_ms: Option<f64>,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn ms(d: Option<std::time::Duration>) -> Option<f64> {
    d.map(|d| (d.as_secs_f64() * 100_000.0).round() / 100.0)
}

impl BackendStats {
    /// The state, leaving out the runtime and config switches.
    pub fn state(&self, now: u64) -> State {
        match self.circuit.state() {
            CircuitState::Open { retry_at } if retry_at > now => State::Open,
            CircuitState::Open { .. } | CircuitState::HalfOpen { .. } => State::HalfOpen,
            CircuitState::Closed if self.cooldown.active(now).is_some() => State::CoolingDown,
            CircuitState::Closed => State::Healthy,
        }
    }

    pub fn recent(&self, checked: bool) -> Recent {
        let (successes, failures) = self.totals();
        if self.consecutive_failures() > 0 || self.probe_failures.load(Relaxed) > 0 {
            Recent::Failing
        } else if successes + failures == 0 && !checked {
            Recent::Unknown
        } else {
            Recent::Ok
        }
    }

    pub fn report(&self, cfg: &HealthConfig, now: u64) -> BackendReport {
        let state = self.state(now);
        let (window_requests, bad) = self.window.totals(now, cfg.window);
        let open_until = match self.circuit.state() {
            CircuitState::Open { retry_at } => retry_at,
            _ => 0,
        };
        let notes = self.notes();
        let (successes, failures) = self.totals();
        BackendReport {
            state,
            healthy: state == State::Healthy,
            recent: self.recent(notes.last_check.is_some()),
            consecutive_failures: self.consecutive_failures(),
            error_rate: if window_requests == 0 {
                0.0
            } else {
                bad as f64 / window_requests as f64
            },
            window_requests,
            ewma_latency_ms: ms(self.latency()),
            ewma_ttft_ms: ms(self.ttft()),
            inflight: self.inflight(),
            confidence: (self.confidence.get(now, &cfg.smart) * 1000.0).round() / 1000.0,
            successes,
            failures,
            last_error: notes.last_error.as_ref().map(|(m, _)| m.clone()),
            last_error_at: notes.last_error.as_ref().map(|(_, t)| rfc3339(*t)),
            last_check: notes.last_check.map(|c| CheckReport {
                at: rfc3339(c.at),
                probe: c.kind.name(),
                ok: c.ok,
                detail: c.detail,
                latency_ms: ms(Some(c.latency)).unwrap_or(0.0),
            }),
            cooldown_remaining_ms: clock::until(now, open_until.max(self.cooldown.until())),
            cooldown_reason: self.cooldown.active(now).map(CooldownReason::name),
            quota_share: (self.quota.reported(now) * 1000.0).round() / 1000.0,
            quota_tokens_left: self.quota.tokens_left(now),
            p95_latency_ms: ms(self.p95_latency()),
        }
    }
}
