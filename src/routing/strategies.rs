//! The strategies themselves: pure functions over the eligible candidates.

use super::Candidate;

/// Share of `least_latency` picks that explore a random backend, so one that
/// was slow once (or has recovered) gets measured again.
pub const EXPLORE_RATIO: f64 = 0.05;

pub fn weighted_random(cands: &[Candidate], rng: &mut fastrand::Rng) -> usize {
    let total: f64 = cands.iter().map(|c| c.weight).sum();
    let mut point = rng.f64() * total;
    for (i, c) in cands.iter().enumerate() {
        point -= c.weight;
        if point < 0.0 {
            return i;
        }
    }
    cands.len() - 1
}

/// nginx's smooth weighted round robin: weights 5,1,1 give a,a,b,a,c,a,a
/// rather than a,a,a,a,a,b,c. Backends not eligible now keep their counters.
pub fn smooth_weighted(cands: &[Candidate], current: &mut [f64]) -> usize {
    let total: f64 = cands.iter().map(|c| c.weight).sum();
    let mut best = 0;
    for (i, c) in cands.iter().enumerate() {
        current[c.index] += c.weight;
        if current[c.index] > current[cands[best].index] {
            best = i;
        }
    }
    current[cands[best].index] -= total;
    best
}

/// Lowest `priority` value first; ties go to the one listed first.
pub fn failover(cands: &[Candidate]) -> usize {
    let mut best = 0;
    for (i, c) in cands.iter().enumerate() {
        if c.backend.priority < cands[best].backend.priority {
            best = i;
        }
    }
    best
}

/// Weighted random within the best priority tier still eligible.
pub fn weighted_failover(cands: &[Candidate], rng: &mut fastrand::Rng) -> usize {
    let top = cands.iter().map(|c| c.backend.priority).min().unwrap_or(0);
    let tier: Vec<usize> = (0..cands.len())
        .filter(|&i| cands[i].backend.priority == top)
        .collect();
    let total: f64 = tier.iter().map(|&i| cands[i].weight).sum();
    let mut point = rng.f64() * total;
    for &i in &tier {
        point -= cands[i].weight;
        if point < 0.0 {
            return i;
        }
    }
    tier[tier.len() - 1]
}

/// Lowest moving-average latency; a backend never measured counts as fastest
/// so it gets measured. A few picks explore at random.
pub fn least_latency(cands: &[Candidate], rng: &mut fastrand::Rng) -> usize {
    if rng.f64() < EXPLORE_RATIO {
        return rng.usize(..cands.len());
    }
    let latency = |c: &Candidate| c.stats.latency().map_or(0, |d| d.as_micros());
    min_by_key_random_tie(cands, rng, latency)
}

/// Fewest requests in flight; ties broken at random so load spreads.
pub fn least_busy(cands: &[Candidate], rng: &mut fastrand::Rng) -> usize {
    min_by_key_random_tie(cands, rng, |c| c.stats.inflight() as u128)
}

fn min_by_key_random_tie(
    cands: &[Candidate],
    rng: &mut fastrand::Rng,
    key: impl Fn(&Candidate) -> u128,
) -> usize {
    let mut best = 0;
    let mut ties = 1;
    for i in 1..cands.len() {
        let (k, b) = (key(&cands[i]), key(&cands[best]));
        if k < b {
            best = i;
            ties = 1;
        } else if k == b {
            // Reservoir sampling: each tied candidate ends up chosen with equal odds.
            ties += 1;
            if rng.usize(..ties) == 0 {
                best = i;
            }
        }
    }
    best
}
