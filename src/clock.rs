//! A cheap monotonic clock for per-backend atomics: milliseconds on one
//! process-wide scale, so an instant fits in a `u64` and compares lock-free.
//!
//! It reads Tokio's clock, so a test on a paused runtime
//! (`start_paused`, `tokio::time::advance`) moves cooldowns, windows and
//! limits without sleeping. Without Tokio's `test-util` feature (the
//! production build) that clock is `std::time::Instant` itself.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where the scale puts the epoch. Each test thread runs its own runtime,
/// and a paused one can read a time from before the epoch (its clock froze
/// before the first reading anywhere set the epoch): readings are signed
/// around the epoch, and this keeps them positive for 49 days behind it, far
/// longer than any test run, while leaving the packed atomics the bits they
/// need (the circuit's word keeps 61).
const EPOCH_MS: u64 = 1 << 32;

/// Real time, never a runtime's: a paused runtime must not move it.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Now, in milliseconds; never 0, so 0 can mean "never". Monotonic for
/// callers on one runtime (or none); two runtimes with paused clocks each
/// keep their own time.
pub fn now_ms() -> u64 {
    on_scale(tokio::time::Instant::now().into_std(), epoch())
}

fn on_scale(now: Instant, epoch: Instant) -> u64 {
    let nanos = match now.checked_duration_since(epoch) {
        Some(ahead) => ahead.as_nanos() as i128,
        None => -(epoch.duration_since(now).as_nanos() as i128),
    };
    // Rounded down, not toward zero: a runtime whose clock crosses the
    // epoch must not lose a millisecond there.
    let ms = i128::from(EPOCH_MS) + nanos.div_euclid(1_000_000);
    ms.clamp(1, i128::from(u64::MAX)) as u64
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

/// `now + d` in the same unit, saturating.
pub fn after(now: u64, d: Duration) -> u64 {
    now.saturating_add(millis(d))
}

/// Milliseconds from `now` until `at`, zero when `at` has passed.
pub fn until(now: u64, at: u64) -> u64 {
    at.saturating_sub(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_a_paused_runtime_exactly() {
        let t0 = now_ms();
        assert_eq!(now_ms(), t0, "a paused clock stands still");
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(now_ms(), t0 + 1500);
    }

    /// A runtime whose paused clock is behind the epoch (another thread set
    /// it later) still ticks, instead of reading one constant until it
    /// catches up.
    #[test]
    fn readings_behind_the_epoch_still_tick() {
        let base = Instant::now();
        let epoch = base + Duration::from_secs(3600);
        let behind = on_scale(base, epoch);
        assert_eq!(behind, EPOCH_MS - 3_600_000);
        assert_eq!(on_scale(base + Duration::from_millis(7), epoch), behind + 7);
        assert_eq!(
            on_scale(epoch + Duration::from_millis(7), epoch),
            EPOCH_MS + 7
        );
        let (just_before, epoch) = (base, base + Duration::from_micros(400));
        let crossed = on_scale(just_before + Duration::from_millis(1), epoch);
        assert_eq!(
            crossed,
            on_scale(just_before, epoch) + 1,
            "across the epoch"
        );
        let far_behind = on_scale(base, base + Duration::from_millis(EPOCH_MS + 5));
        assert_eq!(far_behind, 1, "never 0, which means never");
    }
}
