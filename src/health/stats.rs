//! Lock-free counters and moving averages for one backend.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

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
    consecutive_failures: AtomicU32,
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

    pub fn ttft(&self) -> Option<Duration> {
        micros(self.ewma_ttft_us.load(Relaxed))
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures.load(Relaxed)
    }

    pub fn totals(&self) -> (u64, u64) {
        (self.successes.load(Relaxed), self.failures.load(Relaxed))
    }

    /// A successful attempt: `latency` to the full response (or to the first
    /// token for streams, which is what a client waits on).
    pub fn record_success(&self, latency: Duration, ttft: Option<Duration>) {
        self.successes.fetch_add(1, Relaxed);
        self.consecutive_failures.store(0, Relaxed);
        update_ewma(&self.ewma_latency_us, latency);
        if let Some(t) = ttft {
            update_ewma(&self.ewma_ttft_us, t);
        }
    }

    pub fn record_failure(&self) {
        self.failures.fetch_add(1, Relaxed);
        self.consecutive_failures.fetch_add(1, Relaxed);
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
        s.record_success(Duration::from_millis(80), None);
        assert_eq!(s.latency(), Some(Duration::from_millis(80)));
        for _ in 0..50 {
            s.record_success(Duration::from_millis(8), None);
        }
        let l = s.latency().unwrap();
        assert!(l < Duration::from_millis(10), "{l:?}");
        s.record_failure();
        s.record_failure();
        assert_eq!(s.consecutive_failures(), 2);
        let g1 = s.start();
        let g2 = s.start();
        assert_eq!(s.inflight(), 2);
        drop((g1, g2));
        assert_eq!(s.inflight(), 0);
    }
}
