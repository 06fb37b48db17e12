//! Stage 4, admission: the user's rate limits. An admitted request holds an
//! [`Admission`] that corrects its token reservation when it is dropped;
//! every response to a user with limits carries OpenAI's rate-limit headers.
//! [`Check`] is what rate limits and budgets share: the scopes a request
//! counts against, then the verdict the headers show.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;

use crate::config::User;
use crate::error::EdgeError;
use crate::limits::{self, headers, Admission, Limited, Limiter, Scope, Verdict};
use crate::protocol::Request;
use crate::scopes::{Decision, UserScopes};
use crate::telemetry::metrics::UserLabels;
use crate::telemetry::Metrics;

/// What admission learned about one kind of the user's windows (rate
/// limits, or budgets in [`super::budget`]) for the response headers.
pub struct Check<S, V> {
    /// The scopes the request counts against, until it is checked; `None`
    /// for a user without windows of this kind.
    scopes: Option<Vec<Arc<S>>>,
    verdict: Option<V>,
    /// The store failed: no headers, and no second try to peek.
    unknown: bool,
}

impl<S, V> Default for Check<S, V> {
    fn default() -> Self {
        Check {
            scopes: None,
            verdict: None,
            unknown: false,
        }
    }
}

impl<S, V> Check<S, V> {
    /// The scopes of a user with windows: the model's, or only the
    /// user-wide ones while the model is not known.
    pub fn scoped(&mut self, plan: Option<&Arc<UserScopes<S>>>, model: &str) {
        self.scopes = plan.map(|p| p.scopes(model));
    }

    /// The scopes to check, once: afterwards the verdict carries the headers.
    pub(super) fn take_scopes(&mut self) -> Option<Vec<Arc<S>>> {
        self.scopes.take()
    }

    /// Keeps what `d` learned; the hold of an admitted request, `None` for
    /// an unchecked one (store down, `fail_open`).
    pub(super) fn decided<H>(
        &mut self,
        d: Decision<V, H>,
        refused: impl FnOnce(&V) -> EdgeError,
    ) -> Result<Option<H>, EdgeError> {
        match d {
            Decision::Admitted(v, hold) => {
                self.verdict = Some(v);
                Ok(Some(hold))
            }
            Decision::Refused(v) => {
                let e = refused(&v);
                self.verdict = Some(v);
                Err(e)
            }
            Decision::Unchecked => {
                self.unknown = true;
                Ok(None)
            }
            Decision::Unavailable => {
                self.unknown = true;
                Err(EdgeError::StateUnavailable)
            }
        }
    }

    /// The scopes to peek at for the headers of a request refused before
    /// its check (bad body, model, permission): nothing is spent.
    pub(super) fn unchecked_scopes(&self) -> Option<&[Arc<S>]> {
        match (&self.scopes, &self.verdict, self.unknown) {
            (Some(scopes), None, false) => Some(scopes),
            _ => None,
        }
    }

    pub(super) fn verdict(&self) -> Option<&V> {
        self.verdict.as_ref()
    }

    pub(super) fn peeked(&mut self, v: Option<V>) {
        self.verdict = v;
    }
}

/// The rate-limit side of admission.
pub type LimitCheck = Check<Scope, Verdict>;

impl LimitCheck {
    /// Checks the request; `None` for a user without limits or an
    /// unchecked one (store down, `fail_open`).
    pub async fn admit(
        &mut self,
        limiter: &Limiter,
        metrics: &Metrics,
        user: &User,
        req: &Request,
        body_len: usize,
    ) -> Result<Option<Admission>, EdgeError> {
        let Some(scopes) = self.take_scopes() else {
            return Ok(None);
        };
        let tokens = limits::estimate_tokens(req, body_len);
        let decision = limiter.admit(scopes, tokens).await;
        self.decided(decision, |v| refused(metrics, user, v))
    }

    /// Writes the rate-limit headers.
    pub async fn apply(mut self, limiter: &Limiter, out: &mut HeaderMap) {
        if let Some(scopes) = self.unchecked_scopes() {
            let v = limiter.peek(scopes).await;
            self.peeked(v);
        }
        if let Some(v) = self.verdict() {
            headers::apply(out, v);
        }
    }
}

/// `user "alice"`, or `user "alice" on model `m``: the scope a refusal names.
pub(super) fn scope_name(user: &User, model: Option<&str>) -> String {
    match model {
        Some(m) => format!("user {:?} on model `{m}`", user.id),
        None => format!("user {:?}", user.id),
    }
}

/// The 429 for a refused request, worded like OpenAI's.
fn refused(metrics: &Metrics, user: &User, verdict: &Verdict) -> EdgeError {
    metrics
        .rate_limited
        .get_or_create(&UserLabels {
            user: user.id.clone(),
        })
        .inc();
    let Some(r) = &verdict.refusal else {
        return EdgeError::Internal("refused without a reason".into());
    };
    let wait = Duration::from_millis(r.retry_after_ms);
    let scope = scope_name(user, r.model.as_deref());
    let (what, kind) = match r.limited {
        Limited::Window(w) => (
            format!(
                "{} ({}): limit {}",
                window_name(w.code()),
                w.code().to_uppercase(),
                w.limit
            ),
            w.kind.name(),
        ),
        Limited::Concurrency { max } => (format!("concurrent requests: limit {max}"), "requests"),
    };
    EdgeError::RateLimited {
        message: format!(
            "Rate limit reached for {scope} on {what}. Please try again in {}.",
            headers::go_duration(r.retry_after_ms.max(1))
        ),
        kind,
        retry_after: wait,
    }
}

fn window_name(code: &str) -> &'static str {
    match code {
        "rpm" => "requests per minute",
        "rph" => "requests per hour",
        "rpd" => "requests per day",
        "tpm" => "tokens per minute",
        _ => "tokens per day",
    }
}
