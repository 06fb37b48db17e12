//! A cheap monotonic clock for per-backend atomics: milliseconds since the
//! process first asked, so an instant fits in a `u64` and compares lock-free.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Now, in milliseconds since the process epoch; never 0, so 0 can mean "never".
pub fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

/// `now + d` in the same unit, saturating.
pub fn after(now: u64, d: Duration) -> u64 {
    now.saturating_add(d.as_millis().min(u128::from(u64::MAX)) as u64)
}

/// Milliseconds from `now` until `at`, zero when `at` has passed.
pub fn until(now: u64, at: u64) -> u64 {
    at.saturating_sub(now)
}
