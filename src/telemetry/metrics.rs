//! Prometheus metrics. Every label is bounded: model and backend names come
//! from the config (`_unknown` for a model not in it, `_none` where a request
//! had none), outcomes and status classes are fixed sets; no tokens, no free
//! text, no request ids.

use std::sync::atomic::AtomicU64;

use crate::health::Entry;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub model: String,
    pub backend: String,
    /// The front door: `chat_completions`, or `_none` outside the pipeline.
    pub endpoint: &'static str,
    pub status_class: &'static str,
    /// Whose fault a failure was (`client`, `upstream`, `internal`); `none`.
    pub fault: &'static str,
    pub pinned: &'static str,
    pub stream: &'static str,
    /// How the response ended: `completed`, `client_disconnected`, or for a
    /// stream the gateway ended with an error event `stream_broken`
    /// (upstream) or `shutdown` (the grace period ran out).
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub model: String,
    pub backend: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    pub backend: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub model: String,
    pub backend: String,
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UserLabels {
    pub user: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AffinityLabels {
    pub model: String,
    /// hit, new, moved, expired (affinity); won, lost, failed (hedges).
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    pub backend: String,
}

fn seconds_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    ])
}

fn overhead_histogram() -> Histogram {
    Histogram::new([
        0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    ])
}

/// Every metric the gateway exports, registered once at start.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub ttft: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub overhead: Histogram,
    pub attempts: Family<AttemptLabels, Counter>,
    pub failovers: Family<ModelLabels, Counter>,
    pub tokens: Family<TokenLabels, Counter>,
    pub cost: Family<RouteLabels, Counter<f64, AtomicU64>>,
    /// Ledger rows lost: the queue was full while the store was unreachable.
    pub usage_rows_dropped: Counter,
    pub rate_limited: Family<UserLabels, Counter>,
    pub budget_exceeded: Family<UserLabels, Counter>,
    pub config_reloads: Family<ResultLabels, Counter>,
    pub state_errors: Counter,
    pub backend_up: Family<RouteLabels, Gauge>,
    pub circuit_state: Family<BackendLabels, Gauge>,
    pub inflight: Family<BackendLabels, Gauge>,
    pub affinity: Family<AffinityLabels, Counter>,
    pub hedges: Family<AffinityLabels, Counter>,
    /// Per mille of its quota a backend's headers said is left.
    pub quota: Family<RouteLabels, Gauge>,
    /// The request path's series, found without the families' locks.
    pub(super) hot: super::observe::Hot,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("switchyard"),
            requests: Family::default(),
            duration: Family::new_with_constructor(seconds_histogram),
            ttft: Family::new_with_constructor(seconds_histogram),
            overhead: overhead_histogram(),
            attempts: Family::default(),
            failovers: Family::default(),
            tokens: Family::default(),
            cost: Family::default(),
            usage_rows_dropped: Counter::default(),
            rate_limited: Family::default(),
            budget_exceeded: Family::default(),
            config_reloads: Family::default(),
            state_errors: Counter::default(),
            backend_up: Family::default(),
            circuit_state: Family::default(),
            inflight: Family::default(),
            affinity: Family::default(),
            hedges: Family::default(),
            quota: Family::default(),
            hot: Default::default(),
        };
        m.register();
        m
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        r.register(
            "requests",
            "Requests by model, backend, endpoint, status class, fault, pinned and stream",
            self.requests.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Whole request duration, stream included",
            self.duration.clone(),
        );
        r.register(
            "time_to_first_token_seconds",
            "Time from request to the first content chunk of a stream",
            self.ttft.clone(),
        );
        r.register(
            "overhead_seconds",
            "Time spent in the gateway before the response, excluding upstream attempts",
            self.overhead.clone(),
        );
        r.register(
            "upstream_attempts",
            "Upstream attempts by backend and outcome",
            self.attempts.clone(),
        );
        r.register(
            "failovers",
            "Moves from a failed backend to another",
            self.failovers.clone(),
        );
        r.register(
            "tokens",
            "Tokens reported by upstreams (kind: input, cached_input, output, reasoning; cached_input is part of input, reasoning part of output)",
            self.tokens.clone(),
        );
        r.register(
            "cost_usd",
            "What answers cost in USD at the serving backend's price",
            self.cost.clone(),
        );
        r.register(
            "usage_rows_dropped",
            "Usage ledger rows dropped because too many waited for an unreachable store",
            self.usage_rows_dropped.clone(),
        );
        r.register(
            "rate_limited",
            "Requests refused by a user's rate limit",
            self.rate_limited.clone(),
        );
        r.register(
            "budget_exceeded",
            "Requests refused because they could pass a user's budget",
            self.budget_exceeded.clone(),
        );
        r.register(
            "config_reloads",
            "Config reloads by result",
            self.config_reloads.clone(),
        );
        r.register(
            "state_errors",
            "Calls to the shared state store (Redis) that failed, timed out, or were skipped while it was failing",
            self.state_errors.clone(),
        );
        r.register(
            "backend_up",
            "1 when the backend may take traffic, else 0",
            self.backend_up.clone(),
        );
        r.register(
            "backend_circuit_state",
            "0 closed, 1 half-open, 2 open, 3 cooling down, 4 disabled",
            self.circuit_state.clone(),
        );
        r.register(
            "backend_inflight",
            "Requests in flight to the backend",
            self.inflight.clone(),
        );
        r.register(
            "affinity",
            "Requests of a named conversation by what affinity did: hit (its backend), new, moved (its backend was unusable or failed), expired",
            self.affinity.clone(),
        );
        r.register(
            "hedges",
            "Hedged requests by result: won (the hedge answered first), lost (the first attempt did), failed (neither)",
            self.hedges.clone(),
        );
        r.register(
            "backend_quota_remaining_permille",
            "Per mille of its quota the backend's rate-limit headers said is left (1000 when unknown)",
            self.quota.clone(),
        );
    }

    /// One hedged request's race, by how it ended.
    pub fn count_hedge(&self, model: &str, result: &'static str) {
        self.hedges
            .get_or_create(&AffinityLabels {
                model: model.to_string(),
                result,
            })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Sets the per-backend gauges from live state, at scrape time, so the
/// request path never touches them.
pub fn refresh_backend_gauges(metrics: &Metrics, entries: &[Entry]) {
    metrics.backend_up.clear();
    metrics.circuit_state.clear();
    metrics.inflight.clear();
    metrics.quota.clear();
    // In-flight counts live per (provider, upstream model); one backend id can
    // name several of them across models, and several models can share one.
    let mut counted = std::collections::HashSet::new();
    for e in entries {
        let labels = RouteLabels {
            model: e.model.to_string(),
            backend: e.backend.to_string(),
        };
        metrics
            .backend_up
            .get_or_create(&labels)
            .set(i64::from(e.health.healthy));
        let permille = (e.health.quota_share * 1000.0).round() as i64;
        metrics.quota.get_or_create(&labels).set(permille);
        let code = e.health.state.code();
        // A backend id may serve several models; its circuit gauge shows the worst.
        let b = BackendLabels {
            backend: e.backend.to_string(),
        };
        let gauge = metrics.circuit_state.get_or_create(&b);
        gauge.set(gauge.get().max(code));
        let inflight = metrics.inflight.get_or_create(&b);
        if counted.insert((e.backend, e.provider, e.upstream_model)) {
            inflight.inc_by(e.health.inflight);
        }
    }
}
