//! Stage 4, admission: the user's rate limits. An admitted request holds an
//! [`Admission`] that corrects its token reservation when it is dropped;
//! every response to a user with limits carries OpenAI's rate-limit headers.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;

use crate::config::User;
use crate::error::EdgeError;
use crate::limits::{self, headers, Admission, Decision, Limited, Limiter, Scope, Verdict};
use crate::protocol::Request;
use crate::telemetry::metrics::UserLabels;
use crate::telemetry::Metrics;

/// What admission learned about the user's limits, for the headers.
#[derive(Default)]
pub struct Limits {
    /// The scopes the request counts against, until it is checked; `None`
    /// for a user without limits.
    scopes: Option<Vec<Arc<Scope>>>,
    verdict: Option<Verdict>,
    /// The store failed: no headers, and no second try to peek.
    unknown: bool,
}

impl Limits {
    /// The scopes of a user with limits: the model's, or only the
    /// user-wide ones while the model is not known.
    pub fn scoped(&mut self, plan: Option<&Arc<limits::UserPlan>>, model: &str) {
        self.scopes = plan.map(|p| p.scopes(model));
    }

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
        // Once admitted or refused, the verdict carries the headers: the
        // scopes are not needed again.
        let Some(scopes) = self.scopes.take() else {
            return Ok(None);
        };
        let tokens = limits::estimate_tokens(req, body_len);
        match limiter.admit(scopes, tokens).await {
            Decision::Admitted(verdict, admission) => {
                self.verdict = Some(verdict);
                Ok(Some(admission))
            }
            Decision::Refused(verdict) => {
                let e = refused(metrics, user, &verdict);
                self.verdict = Some(verdict);
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

    /// Writes the rate-limit headers. A request refused before the check
    /// (bad body, model, permission) shows the windows as they are, without
    /// spending anything.
    pub async fn apply(mut self, limiter: &Limiter, out: &mut HeaderMap) {
        if let (Some(scopes), None, false) = (&self.scopes, &self.verdict, self.unknown) {
            self.verdict = limiter.peek(scopes).await;
        }
        if let Some(v) = &self.verdict {
            headers::apply(out, v);
        }
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
    let scope = match &r.model {
        Some(m) => format!("user {:?} on model `{m}`", user.id),
        None => format!("user {:?}", user.id),
    };
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
