//! Load balancing: which backend of a model serves the next attempt.
//!
//! Dispatch hands [`Balancer::pick`] the backends still eligible for this
//! attempt (visible to the user, enabled, not yet tried, and healthy unless
//! none is); strategies only choose among them. All but `round_robin` are
//! lock-free; round robin keeps one small per-model lock for its smooth
//! weighted counters. `weighted_random` and `random` first draw a few
//! backends from all of them ([`Balancer::draw`], `draw.rs`) and keep the
//! first eligible one, with the same odds as the pick, so a request does
//! not look at every backend of a large model; the other strategies need
//! every candidate and scan.

pub mod affinity;
pub mod conversation;
mod draw;
mod route;
mod smart;
mod strategies;

pub use affinity::{Affinities, Key, Known};
pub use route::{Route, Slot};

use std::sync::Mutex;

use crate::clock;
use crate::config::{Backend, SmartConfig, Strategy};
use crate::health::BackendStats;

/// A backend the strategy may choose for this attempt.
pub struct Candidate<'a> {
    /// Position in the model's backend list (stable across picks).
    pub index: usize,
    pub backend: &'a Backend,
    pub stats: &'a BackendStats,
    /// The configured weight times the share of its quota the upstream
    /// says is left: a backend running out gets less traffic before it
    /// runs out.
    pub weight: f64,
}

impl<'a> Candidate<'a> {
    pub fn new(index: usize, backend: &'a Backend, stats: &'a BackendStats, now: u64) -> Self {
        Candidate {
            index,
            backend,
            stats,
            weight: backend.weight * stats.quota_share(now),
        }
    }
}

/// Per-model routing state.
pub struct Balancer {
    strategy: Strategy,
    /// Smooth weighted round robin's current weights, by backend index.
    current: Mutex<Vec<f64>>,
    smart: SmartConfig,
    /// For `weighted_random` and `random`: draws over all backends.
    draws: Option<draw::Draws>,
}

impl Balancer {
    pub fn new(strategy: Strategy, backends: usize) -> Self {
        Balancer {
            strategy,
            current: Mutex::new(vec![0.0; backends]),
            smart: SmartConfig::default(),
            draws: None,
        }
    }

    /// The `smart` strategy's settings (defaults otherwise).
    pub fn with_smart(mut self, smart: SmartConfig) -> Self {
        self.smart = smart;
        self
    }

    /// The backends' configured weights, for [`draw`](Self::draw).
    pub fn with_weights(mut self, weights: impl Iterator<Item = f64>) -> Self {
        self.draws = match self.strategy {
            Strategy::WeightedRandom => draw::Draws::new(weights),
            Strategy::Random => draw::Draws::new(weights.map(|_| 1.0)),
            _ => None,
        };
        self
    }

    /// A backend index drawn as the strategy would pick among all backends
    /// (`weighted_random` by weight before its quota share, `random`
    /// evenly); `None` when the strategy must see every candidate.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> Option<usize> {
        self.draws.as_ref().map(|d| d.draw(rng))
    }

    /// The pick weighs candidates by their quota share (see [`Candidate`]).
    pub fn weighs_quota(&self) -> bool {
        self.strategy == Strategy::WeightedRandom
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Returns the position in `cands` of the chosen backend.
    pub fn pick(&self, cands: &[Candidate], rng: &mut fastrand::Rng) -> Option<usize> {
        if cands.len() <= 1 {
            return if cands.is_empty() { None } else { Some(0) };
        }
        use strategies as s;
        Some(match self.strategy {
            Strategy::WeightedRandom => s::weighted_random(cands, rng),
            Strategy::Random => rng.usize(..cands.len()),
            Strategy::RoundRobin => {
                let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
                s::smooth_weighted(cands, &mut current)
            }
            Strategy::Failover => s::failover(cands),
            Strategy::WeightedFailover => s::weighted_failover(cands, rng),
            Strategy::LeastLatency => s::least_latency(cands, rng),
            Strategy::LeastBusy => s::least_busy(cands, rng),
            Strategy::Smart => smart::smart(cands, &self.smart, clock::now_ms(), rng),
        })
    }
}

#[cfg(test)]
mod tests;
