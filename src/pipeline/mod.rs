//! The one request path every endpoint runs, one stage per file, in order:
//!
//! 1. [`auth`]: the user behind the token (an extractor);
//! 2. [`read`]: the body, size-limited, parsed once by the endpoint;
//! 3. [`resolve`]: the model, the user's permission, a `backend` pin;
//! 4. [`admit`]: the user's rate limits, then [`budget`]: their spend budgets;
//! 5. dispatch (`crate::dispatch`): the attempt loop, routing, health,
//!    failover, the stream commit rule;
//! 6. encode: the endpoint writes the reply, stream or error in its shape;
//! 7. record: the request's log line and metrics, written once when the
//!    response ends (`server::track`); [`settle`] corrects the admission
//!    then.

pub mod admit;
pub mod auth;
pub mod budget;
pub mod read;
pub mod resolve;
pub mod settle;

use std::sync::Arc;

use axum::extract::{Request as HttpRequest, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use axum::Extension;

pub use auth::{authenticate, Caller};

use crate::config::User;
use crate::dispatch::{Dispatch, Reply, Served};
use crate::error::EdgeError;
use crate::protocol::Request;
use crate::state::{AppState, Snapshot};
use crate::telemetry::RequestRecord;

/// A front door: the first plug-in point (see `crate::endpoint`).
pub trait Endpoint: Send + Sync + 'static {
    /// The `endpoint` of logs and metrics.
    const NAME: &'static str;

    /// The body, in the endpoint's format, as the gateway's request.
    fn parse(body: &[u8]) -> Result<Request, EdgeError>;

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
        limits: admit::Limits::default(),
        spend: budget::Spend::default(),
        served: None,
    };
    let mut resp = match run.stages::<E>(&parts.headers, body).await {
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
    run.spend.apply(state.budgets(), resp.headers_mut()).await;
    resp
}

/// One request on its way through the stages.
struct Run<'a> {
    state: &'a AppState,
    snap: &'a Arc<Snapshot>,
    user: &'a Arc<User>,
    record: &'a Arc<RequestRecord>,
    limits: admit::Limits,
    spend: budget::Spend,
    /// Where dispatch ended, for the response headers.
    served: Option<Served>,
}

impl Run<'_> {
    async fn stages<E: Endpoint>(
        &mut self,
        headers: &HeaderMap,
        body: axum::body::Body,
    ) -> Result<Response, EdgeError> {
        let plan = self.snap.plan(&self.user.id);
        let budget = self.snap.budget(&self.user.id);
        let limit = self.snap.config.server.max_body_bytes;
        let (req, body_len) = match read::read::<E>(limit, headers, body).await {
            Ok(read) => read,
            Err(e) => {
                // No model known: the headers show the user-wide windows.
                self.limits.scoped(plan, "");
                self.spend.scoped(budget, "");
                return Err(e);
            }
        };
        self.limits.scoped(plan, &req.model);
        self.spend.scoped(budget, &req.model);
        let (route, pinned) = resolve::resolve(self.snap, self.user, &req, self.record)?;
        let (limiter, metrics) = (self.state.limiter(), self.state.metrics());
        let mut held = settle::Held {
            limits: self
                .limits
                .admit(limiter, metrics, self.user, &req, body_len)
                .await?,
            budget: None,
        };
        let ceiling = self.snap.ceiling(&req.model);
        let asked = (&**self.user, &req, body_len);
        match self
            .spend
            .admit(self.state.budgets(), metrics, asked, ceiling)
            .await
        {
            Ok(r) => held.budget = r,
            Err(e) => {
                // Refused by the budget: the rate limits give the tokens back.
                if let Some(a) = held.limits.take() {
                    a.finish(None, false);
                }
                return Err(e);
            }
        }
        let dispatch = Dispatch {
            config: &self.snap.config,
            route,
            pools: &**self.snap,
            user: self.user,
            record: self.record,
            pinned,
        };
        let outcome = dispatch.run(&req).await;
        self.served = outcome.served;
        let resp = E::reply(outcome.result?);
        Ok(settle::hold(resp, held, self.record.clone()))
    }
}

/// `x-switchyard-backend` and `x-switchyard-attempts`.
pub fn route_headers(headers: &mut HeaderMap, served: &Served) {
    if let Ok(v) = HeaderValue::from_str(&served.backend) {
        headers.insert("x-switchyard-backend", v);
    }
    headers.insert("x-switchyard-attempts", HeaderValue::from(served.attempts));
}
