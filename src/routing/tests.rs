//! Distribution and order of every strategy over many picks.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::{BillingMode, HealthConfig, Provider, Timeouts};
use crate::health::{Failure, Target};

fn backend(id: &str, weight: f64, priority: u32) -> Backend {
    let provider = Arc::new(Provider {
        id: id.into(),
        name: id.into(),
        protocol: (crate::protocol::PROTOCOLS[0].new)(&mut crate::protocol::Options::new(
            &Default::default(),
        )),
        base_url: "http://x/v1".into(),
        api_key: None,
        headers: vec![],
        models: vec![],
        timeouts: Timeouts::default(),
        enabled: true,
    });
    Backend {
        id: id.into(),
        id_header: None,
        provider,
        upstream_model: "m".into(),
        address: "m".into(),
        weight,
        priority,
        tags: vec![],
        billing_mode: BillingMode::PerToken,
        enabled: true,
        price: None,
    }
}

struct Fixture {
    backends: Vec<Backend>,
    stats: Vec<Arc<BackendStats>>,
}

impl Fixture {
    fn new(spec: &[(f64, u32)]) -> Self {
        let backends = spec
            .iter()
            .enumerate()
            .map(|(i, &(w, p))| backend(&format!("b{i}"), w, p))
            .collect();
        let stats = spec
            .iter()
            .map(|_| Arc::new(BackendStats::default()))
            .collect();
        Fixture { backends, stats }
    }

    fn cands(&self, skip: &[usize]) -> Vec<Candidate<'_>> {
        (0..self.backends.len())
            .filter(|i| !skip.contains(i))
            .map(|i| Candidate::new(i, &self.backends[i], &self.stats[i], clock::now_ms()))
            .collect()
    }

    fn succeed(&self, i: usize, latency: Duration) {
        let t = Target {
            model: "m",
            backend: &self.backends[i],
        };
        self.stats[i].on_success(&HealthConfig::default(), t, latency, None);
    }

    fn fail(&self, i: usize, cfg: &HealthConfig) {
        let t = Target {
            model: "m",
            backend: &self.backends[i],
        };
        self.stats[i].on_failure(cfg, t, Failure::Server { status: 500 }, "HTTP 500");
    }

    /// Picks `n` times with all backends eligible; counts by backend index.
    fn counts(&self, strategy: Strategy, n: usize) -> Vec<usize> {
        self.counts_with(Balancer::new(strategy, self.backends.len()), n)
    }

    fn counts_with(&self, balancer: Balancer, n: usize) -> Vec<usize> {
        let mut rng = fastrand::Rng::with_seed(7);
        let cands = self.cands(&[]);
        let mut counts = vec![0; self.backends.len()];
        for _ in 0..n {
            counts[cands[balancer.pick(&cands, &mut rng).unwrap()].index] += 1;
        }
        counts
    }
}

fn assert_share(count: usize, n: usize, expected: f64) {
    let share = count as f64 / n as f64;
    assert!(
        (share - expected).abs() < 0.02,
        "share {share:.3}, expected {expected:.3}"
    );
}

#[test]
fn weighted_random_follows_weights() {
    let f = Fixture::new(&[(3.0, 1), (1.0, 1)]);
    let c = f.counts(Strategy::WeightedRandom, 20_000);
    assert_share(c[0], 20_000, 0.75);
}

#[test]
fn random_is_uniform_whatever_the_weights() {
    let f = Fixture::new(&[(9.0, 1), (1.0, 1), (1.0, 1)]);
    let c = f.counts(Strategy::Random, 30_000);
    for n in c {
        assert_share(n, 30_000, 1.0 / 3.0);
    }
}

#[test]
fn round_robin_is_smooth_and_exact() {
    let f = Fixture::new(&[(5.0, 1), (1.0, 1), (1.0, 1)]);
    let balancer = Balancer::new(Strategy::RoundRobin, 3);
    let mut rng = fastrand::Rng::with_seed(1);
    let cands = f.cands(&[]);
    let order: Vec<usize> = (0..7)
        .map(|_| cands[balancer.pick(&cands, &mut rng).unwrap()].index)
        .collect();
    assert_eq!(order, vec![0, 0, 1, 0, 2, 0, 0]);
    assert_eq!(f.counts(Strategy::RoundRobin, 700), vec![500, 100, 100]);
}

#[test]
fn failover_takes_lowest_priority_then_next() {
    let f = Fixture::new(&[(1.0, 2), (1.0, 1), (1.0, 3)]);
    assert_eq!(f.counts(Strategy::Failover, 100), vec![0, 100, 0]);
    let balancer = Balancer::new(Strategy::Failover, 3);
    let mut rng = fastrand::Rng::with_seed(1);
    let without_b1 = f.cands(&[1]);
    assert_eq!(
        without_b1[balancer.pick(&without_b1, &mut rng).unwrap()].index,
        0
    );
    let only_b2 = f.cands(&[0, 1]);
    assert_eq!(only_b2[balancer.pick(&only_b2, &mut rng).unwrap()].index, 2);
}

#[test]
fn weighted_failover_weighs_within_the_best_tier() {
    let f = Fixture::new(&[(1.0, 1), (3.0, 1), (100.0, 2)]);
    let c = f.counts(Strategy::WeightedFailover, 20_000);
    assert_eq!(
        c[2], 0,
        "the second tier serves only when the first is gone"
    );
    assert_share(c[1], 20_000, 0.75);
    let balancer = Balancer::new(Strategy::WeightedFailover, 3);
    let mut rng = fastrand::Rng::with_seed(3);
    let second_tier = f.cands(&[0, 1]);
    assert_eq!(
        second_tier[balancer.pick(&second_tier, &mut rng).unwrap()].index,
        2
    );
}

#[test]
fn least_latency_prefers_fastest_and_explores() {
    let f = Fixture::new(&[(1.0, 1), (1.0, 1), (1.0, 1)]);
    f.succeed(0, Duration::from_millis(300));
    f.succeed(1, Duration::from_millis(20));
    f.succeed(2, Duration::from_millis(900));
    let c = f.counts(Strategy::LeastLatency, 20_000);
    let explore_each = strategies::EXPLORE_RATIO / 3.0;
    assert_share(c[1], 20_000, 1.0 - 2.0 * explore_each);
    assert_share(c[0], 20_000, explore_each);
    assert!(
        c[0] > 0 && c[2] > 0,
        "slow backends still get explored: {c:?}"
    );
}

#[test]
fn least_latency_measures_unmeasured_backends_first() {
    let f = Fixture::new(&[(1.0, 1), (1.0, 1)]);
    f.succeed(0, Duration::from_millis(5));
    let c = f.counts(Strategy::LeastLatency, 1_000);
    assert!(c[1] > 950, "{c:?}");
}

#[test]
fn least_busy_picks_fewest_inflight_and_spreads_ties() {
    let f = Fixture::new(&[(1.0, 1), (1.0, 1), (1.0, 1)]);
    let _busy = (f.stats[0].start(), f.stats[0].start(), f.stats[2].start());
    assert_eq!(f.counts(Strategy::LeastBusy, 1_000), vec![0, 1_000, 0]);
    let _more = f.stats[1].start();
    let c = f.counts(Strategy::LeastBusy, 20_000);
    assert_eq!(c[0], 0);
    assert_share(c[1], 20_000, 0.5);
    assert_share(c[2], 20_000, 0.5);
}

#[test]
fn no_candidates_means_no_pick() {
    let balancer = Balancer::new(Strategy::WeightedRandom, 0);
    assert_eq!(balancer.pick(&[], &mut fastrand::Rng::with_seed(1)), None);
}

/// Settings where confidence does not recover during a test.
fn smart_cfg() -> HealthConfig {
    let mut cfg = HealthConfig::default();
    cfg.smart.recovery_half_life = Duration::from_secs(3600);
    cfg
}

#[test]
fn smart_weighs_by_confidence_and_explores() {
    let f = Fixture::new(&[(1.0, 1), (1.0, 1)]);
    let cfg = smart_cfg();
    for _ in 0..3 {
        f.fail(1, &cfg); // 1.0 - 3 x 0.2 = 0.4
    }
    let now = crate::clock::now_ms();
    assert!((f.stats[1].confidence(now, &cfg.smart) - 0.4).abs() < 1e-3);
    let balancer = Balancer::new(Strategy::Smart, 2).with_smart(cfg.smart);
    let c = f.counts_with(balancer, 20_000);
    // 90% weighted 1.0 : 0.4, 10% uniform.
    let expected = 0.9 * (1.0 / 1.4) + 0.1 * 0.5;
    assert_share(c[0], 20_000, expected);
}

#[test]
fn smart_without_failures_follows_weights_and_a_floored_backend_keeps_exploration() {
    let f = Fixture::new(&[(3.0, 1), (1.0, 1)]);
    let cfg = smart_cfg();
    let balancer = Balancer::new(Strategy::Smart, 2).with_smart(cfg.smart);
    // 90% by weight 3:1, 10% uniform.
    assert_share(
        f.counts_with(balancer, 20_000)[0],
        20_000,
        0.9 * 0.75 + 0.1 * 0.5,
    );
    for _ in 0..20 {
        f.fail(0, &cfg);
    }
    let now = crate::clock::now_ms();
    assert!((f.stats[0].confidence(now, &cfg.smart) - cfg.smart.min_confidence).abs() < 1e-3);
    let balancer = Balancer::new(Strategy::Smart, 2).with_smart(cfg.smart);
    let c = f.counts_with(balancer, 20_000);
    // Weighted: 3 x 0.05 = 0.15 against 1.0; plus half of the 10% exploration.
    let expected = 0.9 * (0.15 / 1.15) + 0.1 * 0.5;
    assert_share(c[0], 20_000, expected);
}
