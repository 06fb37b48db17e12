//! One active check: send the probe, classify the answer, apply it.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime};

use super::circuit::CircuitState;
use super::cooldown::rate_limit_delay;
use super::outcome::{Failure, Target};
use super::record::log_recovered;
use super::stats::{BackendStats, ProbeCheck};
use crate::config::{Backend, HealthConfig, ProbeKind};
use crate::providers;
use crate::upstream::{self, SendError, UpstreamClient};

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

/// Sends the probe of `kind` to `backend`, bounded by `timeout`.
pub async fn run(
    client: &UpstreamClient,
    backend: &Backend,
    kind: ProbeKind,
    timeout: Duration,
) -> (ProbeOutcome, ProbeCheck) {
    let started = Instant::now();
    let (outcome, detail) = match tokio::time::timeout(timeout, send(client, backend, kind)).await {
        Ok(result) => result,
        Err(_) => (
            ProbeOutcome::Failed(Failure::Timeout),
            format!("timed out after {timeout:?}"),
        ),
    };
    let check = ProbeCheck {
        at: SystemTime::now(),
        kind,
        ok: outcome == ProbeOutcome::Ok,
        detail,
        latency: started.elapsed(),
    };
    (outcome, check)
}

async fn send(
    client: &UpstreamClient,
    backend: &Backend,
    kind: ProbeKind,
) -> (ProbeOutcome, String) {
    let probe = match providers::probe_request(backend, kind) {
        Ok(Some(p)) => p,
        Ok(None) => return (ProbeOutcome::Inconclusive, "no probe".into()),
        Err(e) => {
            return (
                ProbeOutcome::Inconclusive,
                format!("cannot build the probe: {e}"),
            )
        }
    };
    let up = probe.upstream;
    let sent = match upstream::request(
        probe.method,
        &up.url,
        up.headers,
        &backend.provider,
        up.body,
    ) {
        Ok(req) => client.send(req).await,
        Err(e) => return (ProbeOutcome::Inconclusive, e.to_string()),
    };
    let resp = match sent {
        Ok(r) => r,
        Err(SendError::ConnectTimeout) => {
            return (ProbeOutcome::Failed(Failure::Timeout), "timed out".into())
        }
        Err(e) => {
            return (
                ProbeOutcome::Failed(Failure::Connect),
                format!("connect error: {e}"),
            )
        }
    };
    let status = resp.status().as_u16();
    let retry_after = rate_limit_delay(resp.headers());
    let body = upstream::read_error_body(resp.into_body()).await;
    let failure = match status {
        200..=299 => return (ProbeOutcome::Ok, format!("HTTP {status}")),
        401 | 403 => Failure::Auth { status },
        429 => Failure::RateLimited { retry_after },
        408 | 500..=599 => Failure::Server { status },
        _ => return (ProbeOutcome::Ok, format!("HTTP {status} (reachable)")),
    };
    let detail = format!("HTTP {status}: {}", providers::error_summary(&body));
    (ProbeOutcome::Failed(failure), detail)
}

impl BackendStats {
    /// Applies a probe's result. `trial` says the probe held the half-open
    /// trial; `threshold` is the probe failures in a row that open the circuit.
    pub(super) fn on_probe(
        &self,
        cfg: &HealthConfig,
        t: Target,
        (outcome, check): (ProbeOutcome, ProbeCheck),
        trial: bool,
        threshold: u32,
    ) {
        let now = super::clock::now_ms();
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
