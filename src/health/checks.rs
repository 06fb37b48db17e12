//! What an active check's result does to a backend, and when the next
//! check is due. Sending the checks is the prober's work (`crate::prober`).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use super::circuit::CircuitState;
use super::cooldown::CooldownReason;
use super::outcome::{Failure, Target};
use super::record::{log_recovered, Availability, TrialGuard};
use super::stats::{BackendStats, ProbeCheck};
use super::State;
use crate::clock;
use crate::config::{HealthConfig, ProbeKind};

/// What a probe showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The upstream answered and took the key (any status but 401/403/408/429/5xx:
    /// a relay without `/models` still shows it is up).
    Ok,
    Failed(Failure),
    /// The probe could not be built; it says nothing about the backend.
    Inconclusive,
}

impl BackendStats {
    /// Applies a probe's result. `trial` says the probe held the half-open
    /// trial; `threshold` is the probe failures in a row that open the circuit.
    pub fn on_probe(
        &self,
        cfg: &HealthConfig,
        t: Target,
        (outcome, check): (ProbeOutcome, ProbeCheck),
        trial: bool,
        threshold: u32,
    ) {
        let now = crate::clock::now_ms();
        let (kind, detail) = (check.kind, t.scrub(&check.detail));
        self.lock_notes().last_check = Some(ProbeCheck {
            detail: detail.clone(),
            ..check
        });
        match outcome {
            ProbeOutcome::Inconclusive => {}
            ProbeOutcome::Ok => {
                self.probe_failures.store(0, Relaxed);
                if self.cooldown.end_auth(now) {
                    log_recovered(t, "a probe was accepted: auth cooldown ended");
                }
                if trial {
                    // A models probe shows the upstream is up, not that completions work:
                    // it closes the circuit but keeps the re-open backoff.
                    let real = kind == ProbeKind::Chat;
                    self.close(t, real, &format!("{} probe succeeded", kind.name()));
                }
            }
            ProbeOutcome::Failed(f) => {
                self.note_error(&format!("{} probe: {detail}", kind.name()));
                self.cool_down(cfg, t, f, now);
                if !f.counts_for_circuit() {
                    return;
                }
                let n = self.probe_failures.fetch_add(1, Relaxed) + 1;
                let closed = self.circuit.state() == CircuitState::Closed;
                if trial {
                    self.open(cfg, t, now, &format!("the trial probe failed: {detail}"));
                } else if closed && n >= threshold {
                    let reason = format!("{n} consecutive probe failures; last: {detail}");
                    self.open(cfg, t, now, &reason);
                }
            }
        }
    }
}

/// Whether a probe is due now.
pub enum Due {
    /// Not now: look again after this long.
    Later(Duration),
    /// Probe now; the guard holds the half-open circuit's trial if it took it.
    Now(Option<TrialGuard>),
}

impl BackendStats {
    /// A probe runs every interval whatever the circuit's state, because its
    /// job is to notice a dead backend before users do (and the default
    /// `models` probe is free). It is skipped while a rate-limit cooldown
    /// runs, and while the circuit is open it waits for the cooldown's end
    /// to take the trial. It is also skipped when live traffic succeeded
    /// within the interval: that already shows what a probe would.
    pub fn probe_due(self: &Arc<Self>, interval: Duration, t: Target) -> Due {
        let now = clock::now_ms();
        match self.availability(now) {
            Availability::Up => {
                let last = self.last_success_ms.load(Relaxed);
                if last != 0 && now.saturating_sub(last) < interval.as_millis() as u64 {
                    return Due::Later(interval);
                }
                Due::Now(None)
            }
            Availability::Trial => match self.try_trial(now, t) {
                Some(guard) => Due::Now(Some(guard)),
                None => Due::Later(interval),
            },
            Availability::Down { until } => {
                let auth = self.cooldown.active(now) == Some(CooldownReason::Auth);
                let closed = self.state(now) == State::CoolingDown;
                if auth && closed {
                    // Only a probe can show that a fixed key works again.
                    return Due::Now(None);
                }
                // Wake when the circuit lets a trial through, if that is sooner.
                let left = Duration::from_millis(clock::until(now, until));
                Due::Later(if left.is_zero() {
                    interval
                } else {
                    left.min(interval)
                })
            }
        }
    }
}
