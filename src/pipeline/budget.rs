//! Stage 4b, the user's spend budgets: reserve the most the request can
//! cost, or refuse it with 429 `insufficient_quota` naming the window.
//! Every response to a user with a budget carries
//! `x-switchyard-budget-remaining-usd` and `x-switchyard-budget-reset`.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};

use super::admit::{scope_name, Check};
use crate::budget::{window, Budgets, Ceiling, Reservation, Scope, Verdict};
use crate::calendar;
use crate::config::User;
use crate::error::EdgeError;
use crate::limits::headers::go_duration;
use crate::protocol::Request;
use crate::telemetry::metrics::UserLabels;
use crate::telemetry::Metrics;

/// The budget side of admission.
pub type BudgetCheck = Check<Scope, Verdict>;

/// Output tokens the request may ask for, all choices together (none for
/// embeddings); `None` when it sets no bound.
fn asked_output(req: &Request) -> Option<u64> {
    let (each, choices) = req.output_bound();
    Some(each?.saturating_mul(choices))
}

impl BudgetCheck {
    /// Reserves the request's ceiling cost: its body size as input tokens
    /// (a token of text is never shorter than a byte) and its output bound.
    pub async fn admit(
        &mut self,
        budgets: &Budgets,
        metrics: &Metrics,
        (user, req, body_len): (&User, &Request, usize),
        ceiling: Option<&Ceiling>,
    ) -> Result<Option<Reservation>, EdgeError> {
        let Some(scopes) = self.take_scopes() else {
            return Ok(None);
        };
        let ceiling = ceiling.copied().unwrap_or_default();
        let amount = ceiling.reserve(body_len as u64, asked_output(req));
        let decision = budgets.admit(scopes, amount, calendar::unix_ms()).await;
        self.decided(decision, |v| refused(metrics, user, v))
    }

    /// Writes the budget headers: the window with the least left.
    pub async fn apply(mut self, budgets: &Budgets, out: &mut HeaderMap) {
        if let Some(scopes) = self.unchecked_scopes() {
            let v = budgets.peek(scopes, calendar::unix_ms()).await;
            self.peeked(v);
        }
        let Some(s) = self.verdict().and_then(Verdict::tightest) else {
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
    let scope = scope_name(user, r.status.model.as_deref());
    let message = format!(
        "You exceeded your {} budget: {scope} has ${:.4} of ${:.2} left and this request may cost up to ${:.4}. It resets in {}.",
        r.status.span.name(),
        window::usd(r.remaining),
        window::usd(r.status.limit),
        window::usd(r.cost),
        go_duration(r.status.reset_ms.max(1)),
    );
    EdgeError::OverBudget {
        message,
        retry_after: Duration::from_millis(r.status.reset_ms),
    }
}
