//! A backend's confidence for the `smart` strategy: it falls on failures,
//! rises on successes, and recovers toward its start value with a half-life.
//! Recovery is computed when read, so no background task is needed.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::config::SmartConfig;

/// Timestamps are stored in 10 ms units in 32 bits (497 days before they wrap).
const TICK_MS: u64 = 10;

/// (confidence as f32 bits: 32, time of the last change in ticks: 32).
/// Zero means "never changed": the start value.
#[derive(Debug, Default)]
pub struct Confidence(AtomicU64);

fn pack(value: f64, now: u64) -> u64 {
    (u64::from((value as f32).to_bits()) << 32) | ((now / TICK_MS) & 0xFFFF_FFFF)
}

/// The value stored in `word`, recovered toward the start value until `now`.
fn current(word: u64, now: u64, cfg: &SmartConfig) -> f64 {
    if word == 0 {
        return cfg.initial_confidence;
    }
    let value = f64::from(f32::from_bits((word >> 32) as u32));
    let then = word & 0xFFFF_FFFF;
    let elapsed_ms = ((now / TICK_MS).wrapping_sub(then) & 0xFFFF_FFFF) * TICK_MS;
    let half_life = cfg.recovery_half_life.as_millis().max(1) as f64;
    let remaining = 0.5f64.powf(elapsed_ms as f64 / half_life);
    let start = cfg.initial_confidence;
    (start + (value - start) * remaining).clamp(cfg.min_confidence, 1.0)
}

impl Confidence {
    pub fn get(&self, now: u64, cfg: &SmartConfig) -> f64 {
        current(self.0.load(Relaxed), now, cfg)
    }

    /// Adds `delta` (negative for a penalty) to the recovered value.
    pub fn adjust(&self, now: u64, cfg: &SmartConfig, delta: f64) {
        let _ = self.0.fetch_update(Relaxed, Relaxed, |w| {
            let value = (current(w, now, cfg) + delta).clamp(cfg.min_confidence, 1.0);
            Some(pack(value, now))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn falls_rises_clamps_and_recovers_by_half_lives() {
        let cfg = SmartConfig {
            recovery_half_life: Duration::from_secs(10),
            ..SmartConfig::default()
        };
        let c = Confidence::default();
        assert_eq!(c.get(0, &cfg), 1.0);
        c.adjust(1_000, &cfg, -0.5);
        assert!((c.get(1_000, &cfg) - 0.5).abs() < 1e-6);
        assert!((c.get(11_000, &cfg) - 0.75).abs() < 1e-3, "one half-life");
        assert!((c.get(21_000, &cfg) - 0.875).abs() < 1e-3, "two half-lives");
        for _ in 0..10 {
            c.adjust(1_000, &cfg, -0.3);
        }
        assert!((c.get(1_000, &cfg) - cfg.min_confidence).abs() < 1e-6);
        c.adjust(1_000, &cfg, 0.1);
        assert!((c.get(1_000, &cfg) - 0.15).abs() < 1e-6);
        c.adjust(1_000, &cfg, 5.0);
        assert_eq!(c.get(1_000, &cfg), 1.0);
    }
}
