//! The circuit breaker of one backend, in a single atomic word so every
//! transition is one compare-and-swap and a reader never sees half of one.
//!
//! closed --(failures)--> open --(cooldown over, one trial taken)--> half-open
//! half-open --(success)--> closed; half-open --(failure)--> open, longer.

use std::sync::atomic::{
    AtomicU32, AtomicU64, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed,
};
use std::time::Duration;

use crate::config::HealthConfig;

const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;
const STATE_MASK: u64 = 0b11;
const TRIAL: u64 = 0b100;
const TIME_SHIFT: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    /// No traffic until `retry_at` (ms, see [`super::clock`]); then one trial.
    Open {
        retry_at: u64,
    },
    /// Waiting for a trial's outcome, or for a trial when `trial` is false.
    HalfOpen {
        trial: bool,
    },
}

fn decode(word: u64) -> CircuitState {
    match word & STATE_MASK {
        OPEN => CircuitState::Open {
            retry_at: word >> TIME_SHIFT,
        },
        HALF_OPEN => CircuitState::HalfOpen {
            trial: word & TRIAL != 0,
        },
        _ => CircuitState::Closed,
    }
}

fn open_word(retry_at: u64) -> u64 {
    (retry_at << TIME_SHIFT) | OPEN
}

/// Proof of holding the one trial; hand it back with [`Circuit::release_trial`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrialToken(u64);

#[derive(Debug, Default)]
pub struct Circuit {
    word: AtomicU64,
    /// Opens since the last real success: each one doubles the open cooldown.
    reopens: AtomicU32,
}

impl Circuit {
    pub fn state(&self) -> CircuitState {
        decode(self.word.load(Acquire))
    }

    /// closed -> open. Returns the cooldown when this call opened it.
    pub fn trip(&self, now: u64, cfg: &HealthConfig) -> Option<Duration> {
        self.open_if(CLOSED, now, cfg)
    }

    /// half-open -> open, after a failed trial. Returns the (longer) cooldown.
    pub fn reopen(&self, now: u64, cfg: &HealthConfig) -> Option<Duration> {
        self.open_if(HALF_OPEN, now, cfg)
    }

    /// Opens the circuit if it is in state `from`; only one caller wins.
    fn open_if(&self, from: u64, now: u64, cfg: &HealthConfig) -> Option<Duration> {
        let n = self.reopens.load(Relaxed);
        let cooldown = backoff(cfg.open_cooldown, cfg.max_open_cooldown, n);
        let to = open_word(crate::clock::after(now, cooldown));
        self.word
            .fetch_update(AcqRel, Acquire, |w| (w & STATE_MASK == from).then_some(to))
            .ok()?;
        self.reopens.fetch_add(1, Relaxed);
        Some(cooldown)
    }

    /// Takes the one trial of an open circuit whose cooldown is over (or of
    /// a half-open one nobody is trying). The flag says whether this call
    /// moved the circuit to half-open.
    pub fn try_trial(&self, now: u64) -> Option<(TrialToken, bool)> {
        let mut entered = false;
        let prev = self
            .word
            .fetch_update(AcqRel, Acquire, |w| match decode(w) {
                CircuitState::Open { retry_at } if retry_at <= now => {
                    entered = true;
                    Some(w & !STATE_MASK | HALF_OPEN | TRIAL)
                }
                CircuitState::HalfOpen { trial: false } => {
                    entered = false;
                    Some(w | TRIAL)
                }
                _ => None,
            })
            .ok()?;
        let held = prev & !STATE_MASK | HALF_OPEN | TRIAL;
        Some((TrialToken(held), entered))
    }

    /// Frees the trial if the circuit is still where the trial left it (an
    /// outcome already moved it on otherwise, and a later trial is not ours).
    pub fn release_trial(&self, token: TrialToken) {
        let _ = self
            .word
            .compare_exchange(token.0, token.0 & !TRIAL, AcqRel, Acquire);
    }

    /// Any state -> closed. Returns true when it was not closed. A real
    /// success (not just a reachable upstream) also forgets past re-opens.
    pub fn close(&self, real_success: bool) -> bool {
        if real_success {
            self.reopens.store(0, Relaxed);
        }
        self.word.swap(CLOSED, AcqRel) & STATE_MASK != CLOSED
    }
}

/// `base * 2^n`, capped.
fn backoff(base: Duration, cap: Duration, n: u32) -> Duration {
    base.checked_mul(1u32 << n.min(20)).unwrap_or(cap).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HealthConfig {
        HealthConfig {
            open_cooldown: Duration::from_millis(100),
            max_open_cooldown: Duration::from_millis(350),
            ..HealthConfig::default()
        }
    }

    #[test]
    fn trips_once_then_lets_one_trial_through_after_cooldown() {
        let (c, cfg) = (Circuit::default(), cfg());
        assert_eq!(c.state(), CircuitState::Closed);
        assert_eq!(c.trip(1000, &cfg), Some(Duration::from_millis(100)));
        assert_eq!(
            c.trip(1000, &cfg),
            None,
            "a second trip is not a transition"
        );
        assert_eq!(c.state(), CircuitState::Open { retry_at: 1100 });
        assert_eq!(c.try_trial(1099), None, "still cooling down");
        let (token, entered) = c.try_trial(1100).unwrap();
        assert!(entered);
        assert_eq!(c.try_trial(1100), None, "exactly one trial at a time");
        c.release_trial(token);
        assert_eq!(c.state(), CircuitState::HalfOpen { trial: false });
        let (_, entered) = c.try_trial(1101).unwrap();
        assert!(!entered, "already half-open");
        assert!(c.close(true));
        assert!(!c.close(true));
        assert_eq!(c.state(), CircuitState::Closed);
    }

    #[test]
    fn failed_trials_back_off_up_to_the_cap_and_real_success_resets() {
        let (c, cfg) = (Circuit::default(), cfg());
        c.trip(0, &cfg);
        let mut cooldowns = vec![];
        let mut now = 0;
        for _ in 0..4 {
            let CircuitState::Open { retry_at } = c.state() else {
                panic!("{:?}", c.state())
            };
            now = retry_at;
            c.try_trial(now).unwrap();
            cooldowns.push(c.reopen(now, &cfg).unwrap().as_millis());
        }
        assert_eq!(cooldowns, vec![200, 350, 350, 350]);
        c.try_trial(now + 350).unwrap();
        c.close(false);
        assert_eq!(
            c.trip(now, &cfg),
            Some(Duration::from_millis(350)),
            "a probe does not reset backoff"
        );
        c.close(true);
        assert_eq!(c.trip(now, &cfg), Some(Duration::from_millis(100)));
    }

    #[test]
    fn a_stale_trial_release_does_not_free_a_newer_trial() {
        let (c, cfg) = (Circuit::default(), cfg());
        c.trip(0, &cfg);
        let (old, _) = c.try_trial(100).unwrap();
        c.reopen(100, &cfg).unwrap();
        let CircuitState::Open { retry_at } = c.state() else {
            panic!()
        };
        let (_new, _) = c.try_trial(retry_at).unwrap();
        c.release_trial(old);
        assert_eq!(c.state(), CircuitState::HalfOpen { trial: true });
        assert!(c.reopen(0, &cfg).is_some());
    }

    #[test]
    fn concurrent_callers_get_exactly_one_trial() {
        let (c, cfg) = (std::sync::Arc::new(Circuit::default()), cfg());
        c.trip(0, &cfg);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (c, barrier) = (c.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    c.try_trial(1_000).is_some()
                })
            })
            .collect();
        let won = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&won| won)
            .count();
        assert_eq!(won, 1);
    }
}
