//! A latency distribution per backend, for percentiles: counts in
//! log-spaced buckets (four per doubling, from 1 ms to about 18 minutes),
//! one atomic each, halved now and then so old samples fade.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::Duration;

const PER_DOUBLING: f64 = 4.0;
const BUCKETS: usize = 80;
/// After this many samples every bucket is halved: recent latency counts most.
const HALF_LIFE: u32 = 1024;

#[derive(Debug)]
pub struct Latencies {
    buckets: [AtomicU32; BUCKETS],
    samples: AtomicU32,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            buckets: std::array::from_fn(|_| AtomicU32::new(0)),
            samples: AtomicU32::new(0),
        }
    }
}

fn bucket(d: Duration) -> usize {
    let ms = d.as_secs_f64() * 1000.0;
    if ms <= 1.0 {
        return 0;
    }
    ((ms.log2() * PER_DOUBLING).ceil() as usize).min(BUCKETS - 1)
}

/// The upper bound of bucket `i`.
fn bound(i: usize) -> Duration {
    Duration::from_secs_f64((i as f64 / PER_DOUBLING).exp2() / 1000.0)
}

impl Latencies {
    pub fn record(&self, d: Duration) {
        self.buckets[bucket(d)].fetch_add(1, Relaxed);
        if self.samples.fetch_add(1, Relaxed) + 1 >= HALF_LIFE {
            self.samples.store(0, Relaxed);
            for b in &self.buckets {
                let _ = b.fetch_update(Relaxed, Relaxed, |n| Some(n / 2));
            }
        }
    }

    /// The `q` quantile (0..1), within a bucket's width (19%); `None` before
    /// the first sample.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let counts: Vec<u32> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return Some(bound(i));
            }
        }
        Some(bound(BUCKETS - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_is_within_a_bucket_of_the_truth() {
        let l = Latencies::default();
        assert_eq!(l.quantile(0.95), None);
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        let p95 = l.quantile(0.95).unwrap().as_secs_f64() * 1000.0;
        assert!((95.0..=95.0 * 1.19).contains(&p95), "{p95}");
        let p50 = l.quantile(0.5).unwrap().as_secs_f64() * 1000.0;
        assert!((50.0..=50.0 * 1.19).contains(&p50), "{p50}");
    }

    #[test]
    fn old_samples_fade() {
        let l = Latencies::default();
        for _ in 0..HALF_LIFE * 4 {
            l.record(Duration::from_secs(10));
        }
        for _ in 0..HALF_LIFE * 8 {
            l.record(Duration::from_millis(5));
        }
        let p95 = l.quantile(0.95).unwrap();
        assert!(p95 < Duration::from_millis(10), "{p95:?}");
    }
}
