//! The one metrics update of a finished request. Its series are found by
//! labels borrowed from the request's fields ([`super::seen`]): no label
//! `String` is built and no family lock taken once a series exists.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use indexmap::Equivalent;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

use super::metrics::{
    AttemptLabels, Metrics, ModelLabels, RequestLabels, RouteLabels, TokenLabels,
};
use super::seen::{Borrowed, Seen};
use super::{Cut, Fields};

/// Borrowed labels for an owned label set whose `String` fields come
/// first: `$s` are those, `$t` the `&'static str` ones, in field order.
macro_rules! borrowed {
    ($key:ident => $owned:ident { $($s:ident),* ; $($t:ident),* }) => {
        #[derive(Hash)]
        struct $key<'a> {
            $($s: &'a str,)*
            $($t: &'static str,)*
        }

        impl Equivalent<$owned> for $key<'_> {
            fn equivalent(&self, k: &$owned) -> bool {
                $(self.$s == k.$s &&)* $(self.$t == k.$t &&)* true
            }
        }

        impl Borrowed<$owned> for $key<'_> {
            fn to_owned_labels(&self) -> $owned {
                $owned { $($s: self.$s.to_string(),)* $($t: self.$t,)* }
            }
        }
    };
}

borrowed!(RequestKey => RequestLabels {
    model, backend; endpoint, status_class, fault, pinned, stream, outcome
});
borrowed!(RouteKey => RouteLabels { model, backend; });
borrowed!(AttemptKey => AttemptLabels { backend; outcome });

/// The series of [`Metrics::observe`] seen so far.
#[derive(Default)]
pub struct Hot {
    requests: Seen<RequestLabels, Counter>,
    routes: Seen<RouteLabels, Arc<RouteSeries>>,
    attempts: Seen<AttemptLabels, Counter>,
}

/// The token kinds, in the order of [`RouteSeries::tokens`].
const KINDS: [&str; 4] = ["input", "cached_input", "output", "reasoning"];

/// One route's series, found by one lookup (they were one each). Each is
/// made in its family the first time it is used, as before: a series shows
/// in the scrape once something was counted in it.
pub(super) struct RouteSeries {
    labels: RouteLabels,
    duration: OnceLock<Histogram>,
    ttft: OnceLock<Histogram>,
    tokens: [OnceLock<Counter>; 4],
    cost: OnceLock<Counter<f64, AtomicU64>>,
}

impl RouteSeries {
    fn new(labels: &RouteLabels) -> Arc<Self> {
        Arc::new(RouteSeries {
            labels: labels.clone(),
            duration: OnceLock::new(),
            ttft: OnceLock::new(),
            tokens: Default::default(),
            cost: OnceLock::new(),
        })
    }
}

impl Metrics {
    /// The one metrics update of a finished request; `completed` is false
    /// when the client went away before the end.
    pub fn observe(&self, f: &Fields, status: u16, latency: Duration, completed: bool) {
        let model = match (&f.model, f.model_known) {
            (Some(m), true) => m.as_str(),
            (Some(_), false) => "_unknown",
            (None, _) => "_none",
        };
        let backend = f.backend_id().unwrap_or("_none");
        let key = request_key(f, model, backend, status, completed);
        let h = &self.hot;
        h.requests.with(
            &key,
            |k| self.requests.get_or_create(k).clone(),
            |c| {
                c.inc();
            },
        );
        h.routes
            .with(&RouteKey { model, backend }, RouteSeries::new, |route| {
                self.observe_route(route, f, latency)
            });
        if let Some(ready) = f.ready {
            let upstream: Duration = f.attempts.iter().map(|a| a.elapsed).sum();
            self.overhead
                .observe(ready.saturating_sub(upstream).as_secs_f64());
        }
        for a in &f.attempts {
            let key = AttemptKey {
                backend: &a.backend,
                outcome: a.outcome,
            };
            h.attempts.with(
                &key,
                |k| self.attempts.get_or_create(k).clone(),
                |c| {
                    c.inc();
                },
            );
        }
        if f.attempts.len() > 1 {
            // Rare: the family itself.
            self.failovers
                .get_or_create(&ModelLabels {
                    model: model.to_string(),
                })
                .inc_by(f.attempts.len() as u64 - 1);
        }
    }

    /// The route's duration, time to first token, tokens by kind and
    /// cost (those two when the upstream reported usage).
    fn observe_route(&self, r: &RouteSeries, f: &Fields, latency: Duration) {
        r.duration
            .get_or_init(|| self.duration.get_or_create(&r.labels).clone())
            .observe(latency.as_secs_f64());
        if let Some(t) = f.ttft {
            r.ttft
                .get_or_init(|| self.ttft.get_or_create(&r.labels).clone())
                .observe(t.as_secs_f64());
        }
        if let Some(u) = f.usage {
            let counts = [
                u.prompt_tokens,
                u.cached_tokens,
                u.completion_tokens,
                u.reasoning_tokens,
            ];
            for ((series, kind), n) in r.tokens.iter().zip(KINDS).zip(counts) {
                let make = || {
                    let RouteLabels { model, backend } = r.labels.clone();
                    let labels = TokenLabels {
                        model,
                        backend,
                        kind,
                    };
                    self.tokens.get_or_create(&labels).clone()
                };
                series.get_or_init(make).inc_by(n);
            }
        }
        if let Some(cost) = f.cost_usd() {
            r.cost
                .get_or_init(|| self.cost.get_or_create(&r.labels).clone())
                .inc_by(cost);
        }
    }
}

fn request_key<'a>(
    f: &Fields,
    model: &'a str,
    backend: &'a str,
    status: u16,
    completed: bool,
) -> RequestKey<'a> {
    RequestKey {
        model,
        backend,
        endpoint: f.endpoint.unwrap_or("_none"),
        status_class: status_class(status),
        fault: match f.fault {
            Some(fault) => fault.name(),
            // Errors outside the pipeline (a 404, a bad admin token) are the client's.
            None if status >= 500 => "internal",
            None if status >= 400 => "client",
            None => "none",
        },
        pinned: flag(f.pinned),
        stream: flag(f.stream),
        outcome: match (f.cut, completed) {
            (Some(Cut::Upstream), _) => "stream_broken",
            (Some(Cut::Shutdown), _) => "shutdown",
            (None, true) => "completed",
            (None, false) => "client_disconnected",
        },
    }
}

fn flag(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}
