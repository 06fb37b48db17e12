//! The attempt loop: choose a backend, try it, fail over to another on a
//! retryable failure, never the same backend twice in one request.

pub mod attempt;
mod outcome;
mod select;
pub mod sse;
mod stream;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::response::Response;

use crate::config::User;
use crate::health::{Target, TrialGuard};
use crate::providers::ChatRequest;
use crate::server::error::EdgeError;
use crate::state::{ModelRoute, Snapshot};
use crate::telemetry::{AttemptLog, RequestRecord};
use attempt::{AttemptError, TimeoutKind};
pub use outcome::route_headers;
use outcome::{
    bounded, deadline_exceeded, exhausted, json_response, remaining, sse_response,
    with_route_headers,
};
use select::{pin, Pick};

/// Checks the model, the user's permission and the pin: everything that
/// can refuse a request before it spends any quota. Returns the pinned
/// backend's index, if any.
pub fn check(
    snap: &Snapshot,
    user: &User,
    req: &ChatRequest,
    record: &RequestRecord,
) -> Result<Option<usize>, EdgeError> {
    let route = snap.models.get(&req.model);
    record.update(|f| {
        f.model = Some(req.model.clone());
        f.model_known = route.is_some();
        f.stream = req.stream;
    });
    let Some(route) = route else {
        let message = format!(
            "The model `{}` does not exist or you do not have access to it.",
            req.model
        );
        return Err(EdgeError::NotFound {
            message,
            code: "model_not_found",
        });
    };
    if !user.may_use(&req.model) {
        let message = format!("user {:?} may not use model `{}`", user.id, req.model);
        return Err(EdgeError::Forbidden {
            message,
            code: "model_not_allowed",
        });
    }
    let pinned = match &req.backend {
        Some(id) => Some(pin(route, user, id)?),
        None => None,
    };
    record.update(|f| f.pinned = pinned.is_some());
    Ok(pinned)
}

/// Runs the attempt loop for a request that passed [`check`].
pub async fn run(
    snap: Arc<Snapshot>,
    user: Arc<User>,
    req: ChatRequest,
    record: Arc<RequestRecord>,
    pinned: Option<usize>,
) -> Result<Response, EdgeError> {
    let Some(route) = snap.models.get(&req.model) else {
        return Err(EdgeError::NoBackend(format!(
            "model `{}` is gone",
            req.model
        )));
    };
    Attempts {
        snap: &snap,
        route,
        user: &user,
        req: &req,
        record: &record,
        pinned,
    }
    .run()
    .await
}

struct Attempts<'a> {
    snap: &'a Snapshot,
    route: &'a ModelRoute,
    user: &'a User,
    req: &'a ChatRequest,
    record: &'a Arc<RequestRecord>,
    pinned: Option<usize>,
}

impl Attempts<'_> {
    async fn run(&self) -> Result<Response, EdgeError> {
        let settings = &self.snap.config.settings;
        let deadline = settings.request_deadline.map(|d| self.record.start + d);
        let mut rng = fastrand::Rng::new();
        let mut tried: Vec<usize> = Vec::with_capacity(settings.max_attempts as usize);
        let mut failures: Vec<(String, AttemptError)> = Vec::new();
        let mut all_down = false;
        // Backends that cannot express the request are skipped without
        // spending one of the attempts.
        let mut attempts = 0;
        let mut out_of_time = false;
        while attempts < settings.max_attempts as usize {
            let Some(limit) = remaining(deadline) else {
                out_of_time = true;
                break;
            };
            let (index, trial) = match self.next_backend(&tried, &mut all_down, &mut rng) {
                Pick::Go(index, trial) => (index, trial),
                Pick::Exhausted => break,
                Pick::AllDown(retry_after) => return Err(self.all_down(retry_after)),
            };
            tried.push(index);
            let backend = &self.route.model.backends[index];
            match self.attempt(index, limit, trial).await {
                Ok(resp) => return Ok(with_route_headers(resp, backend, attempts + 1)),
                Err(e) if !e.retryable() => return Err(e.into_client_error()),
                Err(e) => {
                    if !matches!(e, AttemptError::Unsupported(_)) {
                        attempts += 1;
                    }
                    failures.push((backend.id.clone(), e));
                }
            }
        }
        let pinned = self.pinned.is_some();
        if out_of_time {
            return Err(deadline_exceeded(&self.route.model.name, &failures));
        }
        Err(exhausted(
            &self.route.model.name,
            failures,
            tried.is_empty(),
            pinned,
        ))
    }

    fn all_down(&self, retry_after: Duration) -> EdgeError {
        EdgeError::AllBackendsDown {
            message: format!(
                "every backend of model `{}` is down (circuit open or cooling down)",
                self.route.model.name
            ),
            retry_after,
        }
    }

    /// One attempt. `_trial` holds a half-open circuit's trial until the outcome is recorded.
    async fn attempt(
        &self,
        index: usize,
        deadline_left: Option<Duration>,
        _trial: Option<TrialGuard>,
    ) -> Result<Response, AttemptError> {
        let backend = &self.route.model.backends[index];
        let stats = &self.route.stats[index];
        let health = &self.snap.config.health;
        let target = Target {
            model: &self.route.model.name,
            backend,
        };
        let inflight = stats.start();
        let timeouts = backend.provider.timeouts;
        let client = self
            .snap
            .client(&backend.provider.id)
            .ok_or_else(|| AttemptError::Connect("no HTTP client for provider".into()))?;
        let started = Instant::now();
        let result = if self.req.stream {
            let limit = bounded(timeouts.first_token, TimeoutKind::FirstToken, deadline_left);
            stream::open(client, backend, self.req, limit)
                .await
                .map(|committed| {
                    stats.on_success(health, target, committed.ttft, Some(committed.ttft));
                    self.record
                        .update(|f| f.ttft = Some(self.record.start.elapsed()));
                    let relay = stream::Relay {
                        stream: committed,
                        idle_timeout: timeouts.idle,
                        record: self.record.clone(),
                        stats: stats.clone(),
                        config: self.snap.config.clone(),
                        model: self.route.model.clone(),
                        index,
                        _inflight: inflight,
                    };
                    sse_response(stream::body(relay))
                })
        } else {
            let limit = bounded(timeouts.request, TimeoutKind::Request, deadline_left);
            attempt::complete(client, backend, self.req, limit)
                .await
                .map(|done| {
                    stats.on_success(health, target, started.elapsed(), None);
                    self.record.update(|f| f.usage = done.usage);
                    json_response(done.body)
                })
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => {
                if let Some(failure) = e.health_failure() {
                    stats.on_failure(health, target, failure, &e.to_string());
                }
                tracing::debug!(backend = %backend.id, error = %e, "attempt failed");
                e.outcome()
            }
        };
        let elapsed = started.elapsed();
        self.record.update(|f| {
            f.backend = Some(backend.id.clone());
            f.attempts.push(AttemptLog {
                backend: backend.id.clone(),
                outcome,
                elapsed,
            });
            if result.is_ok() {
                f.ready = Some(self.record.start.elapsed());
            }
        });
        result
    }
}
