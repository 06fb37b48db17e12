//! Dispatch: the attempt loop. Choose a backend, try it, fail over to
//! another on a retryable failure, never the same backend twice in one
//! request; a stream is committed to its backend at its first content
//! (docs/health.md has the rules).

pub mod attempt;
mod hedge;
mod outcome;
mod select;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use tokio::time::Instant;

use crate::config::{Backend, Config, User};
use crate::error::EdgeError;
use crate::health::{Target, TrialGuard};
use crate::protocol::Request;
use crate::routing::Route;
use crate::shutdown::Shutdown;
use crate::telemetry::{AttemptLog, RequestRecord};
use crate::upstream::Pools;
use attempt::{AttemptError, Next, TimeoutKind};
use outcome::{bounded, deadline_exceeded, exhausted, remaining};
use select::Pick;

pub use hedge::HedgeResult;
pub use select::pin;

/// What the chosen backend answered, in the client's API.
pub enum Reply {
    Whole(Bytes),
    /// A committed stream: the body relays it to its end.
    Stream(Body),
}

/// A backend's reply, and the id of any state it keeps for a later
/// request to resume ([`crate::protocol::Answer::state`]).
pub(crate) struct Answered {
    reply: Reply,
    state: Option<String>,
}

/// Which backend a request reached last, and how many attempts reached
/// one: `None` and 0 when nothing was sent upstream (every backend was
/// down, or none could express the request).
#[derive(Debug, Clone)]
pub struct Served {
    pub backend: Option<Arc<Backend>>,
    pub attempts: usize,
}

/// How dispatch ended: the reply or the error, and where it ended.
pub struct Outcome {
    pub result: Result<Reply, EdgeError>,
    pub served: Served,
    /// The slot that gave the reply, when one did.
    pub answered_by: Option<usize>,
    /// How a hedged request's race ended, when one ran.
    pub hedge: Option<HedgeResult>,
    /// State the answering backend keeps for a later request (a stored
    /// Responses id): that request must come back to this backend.
    pub state: Option<String>,
}

/// An attempt the client's departure cut short (its future dropped): the
/// request's log line still names the backend it was at.
struct Abandoned<'a> {
    record: &'a RequestRecord,
    backend: &'a Arc<Backend>,
    started: Instant,
    armed: bool,
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let elapsed = self.started.elapsed();
        self.record.update(|f| {
            // A backend is tried once per request: an entry for it means its
            // end was told already (a hedge that lost is dropped after that).
            if f.attempts.iter().any(|a| a.backend == self.backend.id) {
                return;
            }
            f.backend = Some(self.backend.clone());
            f.attempts.push(AttemptLog {
                backend: self.backend.id.clone(),
                outcome: "cancelled",
                elapsed,
            });
        });
    }
}

/// What the attempt loop needs besides the request.
pub struct Dispatch<'a> {
    pub config: &'a Arc<Config>,
    pub route: &'a Route,
    pub pools: &'a dyn Pools,
    pub user: &'a User,
    pub record: &'a Arc<RequestRecord>,
    /// The one backend the request may go to, if any: the one it named in
    /// `backend`, or the one keeping the state it resumes.
    pub pinned: Option<usize>,
    /// A committed stream is cut when its grace runs out.
    pub shutdown: &'a Arc<Shutdown>,
    /// The backend the request's conversation used last (affinity): tried
    /// first while it is up and not saturated.
    pub sticky: Option<usize>,
    /// The request's estimated tokens: a backend that reported fewer left
    /// is skipped until its quota resets.
    pub tokens: u64,
}

impl Dispatch<'_> {
    /// Runs the attempt loop for a request that passed resolution and admission.
    pub async fn run(&self, req: &Request) -> Outcome {
        let settings = &self.config.settings;
        let deadline = settings.request_deadline.map(|d| self.record.start + d);
        let mut rng = fastrand::Rng::new();
        let mut tried: Vec<usize> = Vec::with_capacity(settings.max_attempts as usize);
        // The tried backends the request was actually sent to.
        let mut reached: Vec<usize> = Vec::with_capacity(tried.capacity());
        let mut failures: Vec<(String, AttemptError)> = Vec::new();
        let mut all_down = false;
        // Backends that cannot express the request are skipped without
        // spending one of the attempts.
        let mut attempts = 0;
        let mut out_of_time = false;
        let mut hedge = None;
        let served = |reached: &[usize]| Served {
            backend: reached.last().map(|&i| self.route.slots[i].backend.clone()),
            attempts: reached.len(),
        };
        let end = |result, reached: &[usize], answered_by, hedge| Outcome {
            result,
            served: served(reached),
            answered_by,
            hedge,
            state: None,
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
                    return end(Err(self.all_down(retry_after)), &reached, None, hedge)
                }
            };
            tried.push(index);
            let room = settings.max_attempts as usize - attempts;
            let run = self.run_once(
                index,
                trial,
                req,
                limit,
                room,
                &mut tried,
                &mut all_down,
                &mut rng,
            );
            let race = run.await;
            hedge = hedge.or(race.hedge);
            reached.extend(race.cancelled);
            for (i, e) in race.lost {
                attempts += usize::from(e.next() == Next::Retry);
                if e.reached_upstream() {
                    reached.push(i);
                }
                failures.push((self.route.slots[i].backend.id.clone(), e));
            }
            let e = match race.result {
                Ok(answered) => {
                    reached.push(race.index);
                    let outcome = end(Ok(answered.reply), &reached, Some(race.index), hedge);
                    return Outcome {
                        state: answered.state,
                        ..outcome
                    };
                }
                Err(e) => e,
            };
            if e.reached_upstream() {
                reached.push(race.index);
            }
            match e.next() {
                Next::Stop => return end(Err(e.into_client_error()), &reached, None, hedge),
                Next::Skip => {}
                Next::Retry => attempts += 1,
            }
            failures.push((self.route.slots[race.index].backend.id.clone(), e));
        }
        let model = &self.route.model.name;
        let error = if out_of_time {
            deadline_exceeded(model, &failures)
        } else {
            exhausted(model, failures, self.pinned.is_some(), self.soonest_back())
        };
        end(Err(error), &reached, None, hedge)
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
    ) -> Result<Answered, AttemptError> {
        let slot = &self.route.slots[index];
        let backend = &*slot.backend;
        let stats = &slot.stats;
        let (health, settings) = (&self.config.health, &self.config.settings);
        let target = Target {
            model: &self.route.model.name,
            backend,
        };
        let inflight = stats.start();
        let timeouts = backend.provider.timeouts;
        let started = Instant::now();
        let mut left = Abandoned {
            record: self.record,
            backend: &slot.backend,
            started,
            armed: true,
        };
        let seen = |h: &axum::http::HeaderMap| stats.observe_quota(target, h);
        let result = match self.pools.pool(&backend.provider.id) {
            None => Err(AttemptError::Connect(crate::upstream::SendError::Invalid(
                "no HTTP client for provider".into(),
            ))),
            Some(client) if req.stream => {
                let limit = bounded(timeouts.first_token, TimeoutKind::FirstToken, deadline_left);
                stream::open(client, backend, req, limit, &seen)
                    .await
                    .map(|committed| {
                        stats.on_success(health, target, committed.ttft, Some(committed.ttft));
                        let state = committed.state();
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
                            shutdown: self.shutdown.clone(),
                            _inflight: inflight,
                        };
                        Answered {
                            reply: Reply::Stream(stream::body(relay)),
                            state,
                        }
                    })
            }
            Some(client) => {
                let limit = bounded(timeouts.request, TimeoutKind::Request, deadline_left);
                attempt::complete(
                    client,
                    backend,
                    req,
                    limit,
                    settings.max_response_bytes,
                    &seen,
                )
                .await
                .map(|answer| {
                    stats.on_success(health, target, started.elapsed(), None);
                    self.record.update(|f| f.usage = answer.usage);
                    Answered {
                        reply: Reply::Whole(answer.body),
                        state: answer.state,
                    }
                })
            }
        };
        left.armed = false;
        self.note(index, &result, started.elapsed());
        result
    }

    /// Records one attempt's outcome in the backend's health and the log
    /// line; a request that never left is no attempt (its reason is in the
    /// request's error if no other backend took it).
    fn note(&self, index: usize, result: &Result<Answered, AttemptError>, elapsed: Duration) {
        let slot = &self.route.slots[index];
        let outcome = match result {
            Ok(_) => "ok",
            Err(e) if !e.reached_upstream() => {
                tracing::debug!(backend = %slot.backend.id, error = %e, "backend skipped");
                return;
            }
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
            f.backend = Some(slot.backend.clone());
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
