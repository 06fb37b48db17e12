//! The one request path every endpoint runs, one stage per file, in order:
//!
//! 1. [`auth`]: the user behind the token (an extractor);
//! 2. [`read`]: the body, size- and depth-limited, parsed once by the endpoint;
//! 3. [`resolve`]: the model, the user's permission, a `backend` pin; else
//!    [`resume`]: the backend keeping the state the request resumes;
//! 4. [`admit`]: the user's rate limits, then [`budget`]: their spend budgets;
//! 5. dispatch (`crate::dispatch`): the attempt loop, routing, health,
//!    failover, the stream commit rule;
//! 6. encode: the endpoint writes the reply, stream or error in its shape;
//! 7. record: the request's log line and metrics, written once when the
//!    response ends (`server::track`); [`settle`] corrects the admission
//!    then.

pub mod admit;
pub mod affinity;
pub mod auth;
pub mod budget;
mod depth;
pub mod read;
pub mod resolve;
pub mod resume;
pub mod settle;

use std::sync::Arc;

use axum::extract::{Request as HttpRequest, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;

pub use auth::{authenticate, Caller};

use crate::config::User;
use crate::dispatch::{Dispatch, Reply, Served};
use crate::error::EdgeError;
use crate::protocol::{Request, Usage};
use crate::routing::Route;
use crate::state::{AppState, Snapshot};
use crate::telemetry::RequestRecord;

/// A front door: the first plug-in point (see `crate::endpoint`).
pub trait Endpoint: Send + Sync + 'static {
    /// The `endpoint` of logs and metrics.
    const NAME: &'static str;

    /// The body, in the endpoint's format, as the gateway's request; the
    /// head for an endpoint that passes some of the client's headers or
    /// its query on to an upstream of its API.
    fn parse(body: Bytes, head: &Parts) -> Result<Request, EdgeError>;

    /// An answer the endpoint gives itself instead of dispatching, for a
    /// request no backend in reach can answer (e.g. an estimate).
    fn local(
        _req: &Request,
        _route: &Route,
        _pinned: Option<usize>,
        _user: &User,
    ) -> Option<Reply> {
        None
    }

    /// A whole answer or a committed stream, in the endpoint's format.
    fn reply(reply: Reply) -> Response;

    /// An error, in the endpoint's shape and with its status.
    fn error(e: &EdgeError) -> Response;
}

/// Notes a failed request's error and its classification in its log line.
pub fn note_error(record: &RequestRecord, e: &EdgeError) {
    record.update(|f| {
        f.error = Some(e.to_string());
        f.fault = Some(e.fault());
    });
}

/// The handler of every endpoint route.
pub async fn handle<E: Endpoint>(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    caller: Caller<E>,
    req: HttpRequest,
) -> Response {
    record.update(|f| f.endpoint = Some(E::NAME));
    // Taken apart rather than extracted as `HeaderMap`, which clones it.
    let (parts, body) = req.into_parts();
    let mut run = Run {
        state: &state,
        snap: &caller.snap,
        user: &caller.user,
        record: &record,
        limits: admit::LimitCheck::default(),
        budget: budget::BudgetCheck::default(),
        served: None,
    };
    let mut resp = match run.stages::<E>(&parts, body).await {
        Ok(resp) => resp,
        Err(e) => {
            note_error(&record, &e);
            E::error(&e)
        }
    };
    if let Some(served) = &run.served {
        route_headers(resp.headers_mut(), served);
    }
    run.limits.apply(state.limiter(), resp.headers_mut()).await;
    run.budget.apply(state.budgets(), resp.headers_mut()).await;
    resp
}

/// One request on its way through the stages.
struct Run<'a> {
    state: &'a AppState,
    snap: &'a Arc<Snapshot>,
    user: &'a Arc<User>,
    record: &'a Arc<RequestRecord>,
    limits: admit::LimitCheck,
    budget: budget::BudgetCheck,
    /// Where dispatch ended, for the response headers.
    served: Option<Served>,
}

impl Run<'_> {
    async fn stages<E: Endpoint>(
        &mut self,
        head: &Parts,
        body: axum::body::Body,
    ) -> Result<Response, EdgeError> {
        let plan = self.snap.plan(&self.user.id);
        let budget = self.snap.budget(&self.user.id);
        let server = &self.snap.config.server;
        let bounds = read::Bounds {
            max_bytes: server.max_body_bytes,
            timeout: server.connections.body,
            shutdown: self.state.shutdown(),
        };
        let (req, body_len) = match read::read::<E>(bounds, head, body).await {
            Ok(read) => read,
            Err(e) => {
                // No model known: the headers show the user-wide windows.
                self.limits.scoped(plan, "");
                self.budget.scoped(budget, "");
                return Err(e);
            }
        };
        self.limits.scoped(plan, &req.model);
        self.budget.scoped(budget, &req.model);
        let (route, pinned) = resolve::resolve(self.snap, self.user, &req, self.record)?;
        let table = self.state.affinities();
        // A pin wins over everything, state included.
        let pinned = match pinned {
            None => resume::lookup(table, route, self.user, &req).await?,
            pin => pin,
        };
        let held = self.admit(&req, body_len).await?;
        if let Some(reply) = E::local(&req, route, pinned, self.user) {
            // Made here, without an upstream: no tokens were spent, and no
            // conversation moved.
            self.record.update(|f| f.usage = Some(Usage::default()));
            return Ok(settle::hold(E::reply(reply), held, self.record.clone()));
        }
        let conversation = match pinned {
            None => affinity::lookup(table, route, &head.headers, &req).await,
            Some(_) => None,
        };
        let dispatch = Dispatch {
            config: &self.snap.config,
            route,
            pools: &**self.snap,
            user: self.user,
            record: self.record,
            pinned,
            shutdown: self.state.shutdown(),
            sticky: conversation.as_ref().and_then(|c| c.sticky),
            tokens: crate::limits::estimate_tokens(&req, body_len),
        };
        let outcome = dispatch.run(&req).await;
        self.served = Some(outcome.served);
        let metrics = self.state.metrics();
        if let Some(conv) = conversation {
            affinity::settle(table, metrics, route, conv, outcome.answered_by);
        }
        if let (Some(i), Some(state)) = (outcome.answered_by, &outcome.state) {
            resume::remember(table, route, self.user, &req, i, state);
        }
        if let Some(h) = outcome.hedge {
            metrics.count_hedge(&route.model.name, h.name());
        }
        let reply = match outcome.result {
            Ok(reply) => reply,
            Err(e) => {
                held.release();
                return Err(e);
            }
        };
        Ok(settle::hold(E::reply(reply), held, self.record.clone()))
    }

    /// The user's rate limits, then their budgets, for this request.
    async fn admit(&mut self, req: &Request, body_len: usize) -> Result<settle::Held, EdgeError> {
        let (limiter, metrics) = (self.state.limiter(), self.state.metrics());
        let mut held = settle::Held {
            limits: self
                .limits
                .admit(limiter, metrics, self.user, req, body_len)
                .await?,
            budget: None,
        };
        let ceiling = self.snap.ceiling(&req.model);
        let asked = (&**self.user, req, body_len);
        match self
            .budget
            .admit(self.state.budgets(), metrics, asked, ceiling)
            .await
        {
            Ok(r) => held.budget = r,
            Err(e) => {
                // Refused by the budget: the rate limits give the tokens back.
                held.release();
                return Err(e);
            }
        }
        Ok(held)
    }
}

// Names as constants: a `&str` name is parsed again on every insert.
const BACKEND: HeaderName = HeaderName::from_static("x-switchyard-backend");
const ATTEMPTS: HeaderName = HeaderName::from_static("x-switchyard-attempts");

/// `x-switchyard-backend` (absent when nothing reached an upstream) and
/// `x-switchyard-attempts`.
pub fn route_headers(headers: &mut HeaderMap, served: &Served) {
    if let Some(v) = served.backend.as_ref().and_then(|b| b.id_header.clone()) {
        headers.insert(BACKEND, v);
    }
    headers.insert(ATTEMPTS, small_number(served.attempts));
}

/// A count as a header value: the usual ones (0-9) without an allocation.
fn small_number(n: usize) -> HeaderValue {
    const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    match DIGITS.get(n) {
        Some(d) => HeaderValue::from_static(d),
        None => HeaderValue::from(n),
    }
}
