//! Dispatch: the attempt loop. Choose a backend, try it, fail over to
//! another on a retryable failure, never the same backend twice in one
//! request; a stream is committed to its backend at its first content
//! (docs/health.md has the rules).

pub mod attempt;
mod outcome;
mod select;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use tokio::time::Instant;

use crate::config::{Config, User};
use crate::error::EdgeError;
use crate::health::{Target, TrialGuard};
use crate::protocol::Request;
use crate::routing::Route;
use crate::telemetry::{AttemptLog, RequestRecord};
use crate::upstream::Pools;
use attempt::{AttemptError, Next, TimeoutKind};
use outcome::{bounded, deadline_exceeded, exhausted, remaining};
use select::Pick;

pub use select::pin;

/// What the chosen backend answered, in the client's API.
pub enum Reply {
    Whole(Bytes),
    /// A committed stream: the body relays it to its end.
    Stream(Body),
}

/// Which backend a request reached last, and after how many attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub backend: String,
    pub attempts: usize,
}

/// How dispatch ended: the reply or the error, and where it ended.
pub struct Outcome {
    pub result: Result<Reply, EdgeError>,
    /// `None` when no attempt reached an upstream.
    pub served: Option<Served>,
}

/// What the attempt loop needs besides the request.
pub struct Dispatch<'a> {
    pub config: &'a Arc<Config>,
    pub route: &'a Route,
    pub pools: &'a dyn Pools,
    pub user: &'a User,
    pub record: &'a Arc<RequestRecord>,
    /// The pinned backend's index, if the request named one.
    pub pinned: Option<usize>,
}

impl Dispatch<'_> {
    /// Runs the attempt loop for a request that passed resolution and admission.
    pub async fn run(&self, req: &Request) -> Outcome {
        let settings = &self.config.settings;
        let deadline = settings.request_deadline.map(|d| self.record.start + d);
        let mut rng = fastrand::Rng::new();
        let mut tried: Vec<usize> = Vec::with_capacity(settings.max_attempts as usize);
        let mut failures: Vec<(String, AttemptError)> = Vec::new();
        let mut all_down = false;
        // Backends that cannot express the request are skipped without
        // spending one of the attempts.
        let mut attempts = 0;
        let mut out_of_time = false;
        let served = |tried: &[usize], attempts| {
            tried.last().map(|&i| Served {
                backend: self.route.slots[i].backend.id.clone(),
                attempts,
            })
        };
        while attempts < settings.max_attempts as usize {
            let Some(limit) = remaining(deadline) else {
                out_of_time = true;
                break;
            };
            let (index, trial) = match self.next_backend(&tried, &mut all_down, &mut rng) {
                Pick::Go(index, trial) => (index, trial),
                Pick::Exhausted => break,
                Pick::AllDown(retry_after) => {
                    return Outcome {
                        result: Err(self.all_down(retry_after)),
                        served: None,
                    }
                }
            };
            tried.push(index);
            let result = self.attempt(index, req, limit, trial).await;
            let e = match result {
                Ok(reply) => {
                    return Outcome {
                        result: Ok(reply),
                        served: served(&tried, attempts + 1),
                    }
                }
                Err(e) => e,
            };
            match e.next() {
                Next::Stop => {
                    return Outcome {
                        result: Err(e.into_client_error()),
                        served: served(&tried, tried.len()),
                    }
                }
                Next::Skip => {}
                Next::Retry => attempts += 1,
            }
            failures.push((self.route.slots[index].backend.id.clone(), e));
        }
        let served = served(&tried, tried.len());
        let model = &self.route.model.name;
        let error = if out_of_time {
            deadline_exceeded(model, &failures)
        } else {
            exhausted(model, failures, tried.is_empty(), self.pinned.is_some())
        };
        Outcome {
            result: Err(error),
            served,
        }
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
        req: &Request,
        deadline_left: Option<Duration>,
        _trial: Option<TrialGuard>,
    ) -> Result<Reply, AttemptError> {
        let slot = &self.route.slots[index];
        let backend = &*slot.backend;
        let stats = &slot.stats;
        let health = &self.config.health;
        let target = Target {
            model: &self.route.model.name,
            backend,
        };
        let inflight = stats.start();
        let timeouts = backend.provider.timeouts;
        let started = Instant::now();
        let result = match self.pools.pool(&backend.provider.id) {
            None => Err(AttemptError::Connect(crate::upstream::SendError::Invalid(
                "no HTTP client for provider".into(),
            ))),
            Some(client) if req.stream => {
                let limit = bounded(timeouts.first_token, TimeoutKind::FirstToken, deadline_left);
                stream::open(client, backend, req, limit)
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
                            config: self.config.clone(),
                            model: self.route.model.clone(),
                            index,
                            _inflight: inflight,
                        };
                        Reply::Stream(stream::body(relay))
                    })
            }
            Some(client) => {
                let limit = bounded(timeouts.request, TimeoutKind::Request, deadline_left);
                attempt::complete(client, backend, req, limit)
                    .await
                    .map(|answer| {
                        stats.on_success(health, target, started.elapsed(), None);
                        self.record.update(|f| f.usage = answer.usage);
                        Reply::Whole(answer.body)
                    })
            }
        };
        self.note(index, &result, started.elapsed());
        result
    }

    /// Records one attempt's outcome in the backend's health and the log line.
    fn note(&self, index: usize, result: &Result<Reply, AttemptError>, elapsed: Duration) {
        let slot = &self.route.slots[index];
        let outcome = match result {
            Ok(_) => "ok",
            Err(e) => {
                if let Some(failure) = e.health_failure() {
                    let target = Target {
                        model: &self.route.model.name,
                        backend: &slot.backend,
                    };
                    slot.stats
                        .on_failure(&self.config.health, target, failure, &e.to_string());
                }
                tracing::debug!(backend = %slot.backend.id, error = %e, "attempt failed");
                e.outcome()
            }
        };
        self.record.update(|f| {
            f.backend = Some(slot.backend.id.clone());
            f.served = Some(slot.backend.clone());
            f.attempts.push(AttemptLog {
                backend: slot.backend.id.clone(),
                outcome,
                elapsed,
            });
            if result.is_ok() {
                f.ready = Some(self.record.start.elapsed());
            }
        });
    }
}
