//! Lock-free counters and moving averages for one backend, next to its
//! circuit, cooldown and confidence (their transitions are in `record`).

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::circuit::Circuit;
use super::confidence::Confidence;
use super::cooldown::Cooldown;
use super::window::Window;
use crate::config::{ProbeKind, SmartConfig};

/// Weight of a new sample in the moving averages (1/8, as TCP's SRTT).
const EWMA_SHIFT: u32 = 3;

#[derive(Debug, Default)]
pub struct BackendStats {
    inflight: AtomicI64,
    /// Microseconds; 0 means no sample yet.
    ewma_latency_us: AtomicU64,
    ewma_ttft_us: AtomicU64,
    successes: AtomicU64,
    failures: AtomicU64,
    /// Failures in a row that count for the circuit (not 429s or auth errors).
    pub(super) consecutive_failures: AtomicU32,
    pub(super) probe_failures: AtomicU32,
    /// When live traffic last succeeded (clock ms; 0 = never).
    pub(super) last_success_ms: AtomicU64,
    pub(super) circuit: Circuit,
    pub(super) cooldown: Cooldown,
    pub(super) window: Window,
    pub(super) confidence: Confidence,
    /// What the upstream's rate-limit headers said is left.
    pub(super) quota: super::quota::Quota,
    latencies: super::latency::Latencies,
    /// Written on failures and probes only, never on the success path.
    notes: Mutex<Notes>,
    /// Set once by the registry: which backend this is, for other instances.
    pub(super) origin: super::announce::OriginCell,
}

/// What an operator wants to read about the last things that went wrong.
#[derive(Debug, Default, Clone)]
pub struct Notes {
    pub last_error: Option<(String, SystemTime)>,
    pub last_check: Option<ProbeCheck>,
}

/// The result of the last active check.
#[derive(Debug, Clone)]
pub struct ProbeCheck {
    pub at: SystemTime,
    pub kind: ProbeKind,
    pub ok: bool,
    /// The status or error, secret-free.
    pub detail: String,
    pub latency: Duration,
}

impl BackendStats {
    /// Counts a request as in flight until the guard drops.
    pub fn start(self: &Arc<Self>) -> InflightGuard {
        self.inflight.fetch_add(1, Relaxed);
        InflightGuard(self.clone())
    }

    pub fn inflight(&self) -> i64 {
        self.inflight.load(Relaxed)
    }

    /// Average latency, `None` before the first success.
    pub fn latency(&self) -> Option<Duration> {
        micros(self.ewma_latency_us.load(Relaxed))
    }

    /// The 95th percentile of recent latencies (as counted by successes).
    pub fn p95_latency(&self) -> Option<Duration> {
        self.latencies.quantile(0.95)
    }

    pub fn ttft(&self) -> Option<Duration> {
        micros(self.ewma_ttft_us.load(Relaxed))
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures.load(Relaxed)
    }

    pub fn totals(&self) -> (u64, u64) {
        (self.successes.load(Relaxed), self.failures.load(Relaxed))
    }

    /// Counts a success: `latency` to the full response (or to the first
    /// token for streams, which is what a client waits on).
    pub(super) fn count_success(&self, latency: Duration, ttft: Option<Duration>) {
        self.successes.fetch_add(1, Relaxed);
        self.consecutive_failures.store(0, Relaxed);
        update_ewma(&self.ewma_latency_us, latency);
        self.latencies.record(latency);
        if let Some(t) = ttft {
            update_ewma(&self.ewma_ttft_us, t);
        }
    }

    /// Counts a failure; returns the failures in a row when it counts for the circuit.
    pub(super) fn count_failure(&self, for_circuit: bool) -> u32 {
        self.failures.fetch_add(1, Relaxed);
        if for_circuit {
            self.consecutive_failures.fetch_add(1, Relaxed) + 1
        } else {
            self.consecutive_failures.load(Relaxed)
        }
    }

    /// The `smart` strategy's confidence now, in [min_confidence, 1].
    pub fn confidence(&self, now: u64, cfg: &SmartConfig) -> f64 {
        self.confidence.get(now, cfg)
    }

    pub fn notes(&self) -> Notes {
        self.lock_notes().clone()
    }

    pub(super) fn lock_notes(&self) -> MutexGuard<'_, Notes> {
        self.notes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn micros(us: u64) -> Option<Duration> {
    (us > 0).then(|| Duration::from_micros(us))
}

fn update_ewma(cell: &AtomicU64, sample: Duration) {
    let sample = (sample.as_micros() as u64).max(1);
    let _ = cell.fetch_update(Relaxed, Relaxed, |old| {
        Some(if old == 0 {
            sample
        } else {
            // old + (sample - old) / 8, in signed arithmetic.
            (old as i64 + ((sample as i64 - old as i64) >> EWMA_SHIFT)).max(1) as u64
        })
    });
}

/// Decrements the in-flight count when the request ends, however it ends.
#[derive(Debug)]
pub struct InflightGuard(Arc<BackendStats>);

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_moves_toward_samples_and_guard_counts() {
        let s = Arc::new(BackendStats::default());
        assert_eq!(s.latency(), None);
        s.count_success(Duration::from_millis(80), None);
        assert_eq!(s.latency(), Some(Duration::from_millis(80)));
        for _ in 0..50 {
            s.count_success(Duration::from_millis(8), None);
        }
        let l = s.latency().unwrap();
        assert!(l < Duration::from_millis(10), "{l:?}");
        s.count_failure(true);
        s.count_failure(false);
        assert_eq!(s.count_failure(true), 2);
        assert_eq!(s.consecutive_failures(), 2);
        let g1 = s.start();
        let g2 = s.start();
        assert_eq!(s.inflight(), 2);
        drop((g1, g2));
        assert_eq!(s.inflight(), 0);
    }
}
