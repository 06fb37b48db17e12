//! The `smart` strategy: weighted random by `weight x confidence`, where the
//! confidence (see `health::confidence`) follows each backend's outcomes.
//! A share of picks explores uniformly, so a recovered backend is tried,
//! succeeds, and earns its way back.

use super::Candidate;
use crate::config::SmartConfig;

pub fn smart(cands: &[Candidate], cfg: &SmartConfig, now: u64, rng: &mut fastrand::Rng) -> usize {
    if rng.f64() < cfg.explore_ratio {
        return rng.usize(..cands.len());
    }
    let score = |c: &Candidate| c.weight * c.stats.confidence(now, cfg);
    let total: f64 = cands.iter().map(score).sum();
    let mut point = rng.f64() * total;
    for (i, c) in cands.iter().enumerate() {
        point -= score(c);
        if point < 0.0 {
            return i;
        }
    }
    cands.len() - 1
}
