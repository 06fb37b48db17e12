//! Stage 4b, the user's spend budgets: reserve the most the request can
//! cost, or refuse it with 429 `insufficient_quota` naming the window.
//! Every response to a user with a budget carries
//! `x-switchyard-budget-remaining-usd` and `x-switchyard-budget-reset`.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};

use crate::budget::{window, Budgets, Ceiling, Decision, Reservation, Scope, UserBudget, Verdict};
use crate::calendar;
use crate::config::User;
use crate::error::EdgeError;
use crate::limits::headers::go_duration;
use crate::protocol::Request;
use crate::telemetry::metrics::UserLabels;
use crate::telemetry::Metrics;

/// What admission learned about the user's budgets, for the headers.
#[derive(Default)]
pub struct Spend {
    scopes: Option<Vec<Arc<Scope>>>,
    verdict: Option<Verdict>,
    unknown: bool,
}

/// Output tokens the request may ask for, all choices together (none for
/// embeddings); `None` when it sets no bound.
fn asked_output(req: &Request) -> Option<u64> {
    Some(req.output_bound()?.saturating_mul(req.choices()))
}

impl Spend {
    pub fn scoped(&mut self, plan: Option<&Arc<UserBudget>>, model: &str) {
        self.scopes = plan.map(|p| p.scopes(model));
    }

    /// Reserves the request's ceiling cost: its body size as input tokens
    /// (a token of text is never shorter than a byte) and its output bound.
    pub async fn admit(
        &mut self,
        budgets: &Budgets,
        metrics: &Metrics,
        (user, req, body_len): (&User, &Request, usize),
        ceiling: Option<&Ceiling>,
    ) -> Result<Option<Reservation>, EdgeError> {
        let Some(scopes) = self.scopes.take() else {
            return Ok(None);
        };
        let ceiling = ceiling.copied().unwrap_or_default();
        let amount = ceiling.reserve(body_len as u64, asked_output(req));
        match budgets.admit(scopes, amount, calendar::unix_ms()).await {
            Decision::Admitted(v, r) => {
                self.verdict = Some(v);
                Ok(Some(r))
            }
            Decision::Refused(v) => {
                let e = refused(metrics, user, &v);
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

    /// Writes the budget headers: the window with the least left.
    pub async fn apply(mut self, budgets: &Budgets, out: &mut HeaderMap) {
        if let (Some(scopes), None, false) = (&self.scopes, &self.verdict, self.unknown) {
            self.verdict = budgets.peek(scopes, calendar::unix_ms()).await;
        }
        let Some(s) = self.verdict.as_ref().and_then(Verdict::tightest) else {
            return;
        };
        if let Ok(v) = HeaderValue::from_str(&format!("{:.6}", window::usd(s.remaining))) {
            out.insert("x-switchyard-budget-remaining-usd", v);
        }
        if let Ok(v) = HeaderValue::from_str(&go_duration(s.reset_ms.max(1))) {
            out.insert("x-switchyard-budget-reset", v);
        }
    }
}

fn refused(metrics: &Metrics, user: &User, v: &Verdict) -> EdgeError {
    metrics
        .budget_exceeded
        .get_or_create(&UserLabels {
            user: user.id.clone(),
        })
        .inc();
    let Some(r) = &v.refusal else {
        return EdgeError::Internal("refused without a reason".into());
    };
    let scope = match &r.status.model {
        Some(m) => format!("user {:?} on model `{m}`", user.id),
        None => format!("user {:?}", user.id),
    };
    EdgeError::OverBudget(format!(
        "You exceeded your {} budget: {scope} has ${:.4} of ${:.2} left and this request may cost up to ${:.4}. It resets in {}.",
        r.status.span.name(),
        window::usd(r.remaining),
        window::usd(r.status.limit),
        window::usd(r.cost),
        go_duration(r.status.reset_ms.max(1)),
    ))
}
