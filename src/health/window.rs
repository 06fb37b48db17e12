//! Outcomes over a sliding time window, lock-free: a ring of buckets, each
//! one atomic word holding (bucket number, successes, failures).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

const BUCKETS: u64 = 10;
const COUNT_MAX: u64 = 0xFFFF;

#[derive(Debug, Default)]
pub struct Window {
    buckets: [AtomicU64; BUCKETS as usize],
}

/// (bucket number: 32 bits, successes: 16, failures: 16); counts saturate.
fn pack(seq: u64, ok: u64, failed: u64) -> u64 {
    ((seq & 0xFFFF_FFFF) << 32) | (ok.min(COUNT_MAX) << 16) | failed.min(COUNT_MAX)
}

fn unpack(word: u64) -> (u64, u64, u64) {
    (word >> 32, (word >> 16) & COUNT_MAX, word & COUNT_MAX)
}

fn bucket_ms(window: Duration) -> u64 {
    (window.as_millis() as u64 / BUCKETS).max(1)
}

impl Window {
    pub fn record(&self, now: u64, window: Duration, failed: bool) {
        let seq = (now / bucket_ms(window)) & 0xFFFF_FFFF;
        let cell = &self.buckets[(seq % BUCKETS) as usize];
        let _ = cell.fetch_update(Relaxed, Relaxed, |w| {
            let (s, ok, bad) = unpack(w);
            let (ok, bad) = if s == seq && w != 0 {
                (ok, bad)
            } else {
                (0, 0)
            };
            Some(pack(seq, ok + u64::from(!failed), bad + u64::from(failed)))
        });
    }

    /// (requests, failures) in the last `window`.
    pub fn totals(&self, now: u64, window: Duration) -> (u64, u64) {
        let seq = (now / bucket_ms(window)) & 0xFFFF_FFFF;
        let mut total = (0, 0);
        for cell in &self.buckets {
            let (s, ok, bad) = unpack(cell.load(Relaxed));
            if seq.wrapping_sub(s) & 0xFFFF_FFFF < BUCKETS && (ok + bad) > 0 {
                total.0 += ok + bad;
                total.1 += bad;
            }
        }
        total
    }

    /// Forgets everything, so a closed circuit starts with a clean slate.
    pub fn clear(&self) {
        for cell in &self.buckets {
            cell.store(0, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_within_the_window_and_forgets_older_buckets() {
        let w = Window::default();
        let win = Duration::from_millis(1000);
        for t in [0, 50, 150] {
            w.record(t, win, true);
        }
        w.record(160, win, false);
        assert_eq!(w.totals(200, win), (4, 3));
        // At 1050 the bucket of 0..100 has slid out; 100..200 is still in.
        assert_eq!(w.totals(1050, win), (2, 1));
        assert_eq!(w.totals(5000, win), (0, 0));
        w.record(5000, win, false);
        assert_eq!(
            w.totals(5000, win),
            (1, 0),
            "a reused bucket starts from zero"
        );
        w.clear();
        assert_eq!(w.totals(5000, win), (0, 0));
    }
}
