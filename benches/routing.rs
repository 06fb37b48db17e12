//! A strategy's pick among a model's backends: runs once per attempt.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard::config::Strategy;
use switchyard::health::BackendStats;
use switchyard::routing::{Balancer, Candidate};

mod support;

fn pick(c: &mut Criterion) {
    let config = support::config();
    let model = &config.models["m"];
    let stats: Vec<Arc<BackendStats>> = (0..model.backends.len())
        .map(|_| Arc::new(BackendStats::default()))
        .collect();
    let cands: Vec<Candidate> = model
        .backends
        .iter()
        .enumerate()
        .map(|(index, backend)| Candidate::new(index, backend, &stats[index], 1))
        .collect();
    let mut group = c.benchmark_group("balancer_pick_4_backends");
    for strategy in [
        Strategy::WeightedRandom,
        Strategy::RoundRobin,
        Strategy::Failover,
        Strategy::WeightedFailover,
        Strategy::LeastLatency,
        Strategy::LeastBusy,
    ] {
        let balancer = Balancer::new(strategy, cands.len());
        let mut rng = fastrand::Rng::with_seed(7);
        group.bench_function(strategy.name(), |b| {
            b.iter(|| balancer.pick(black_box(&cands), &mut rng))
        });
    }
    group.finish();
}

criterion_group!(benches, pick);
criterion_main!(benches);
