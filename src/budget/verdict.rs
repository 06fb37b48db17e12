//! What a check of a request against its budget windows found: every
//! window's state and, when one has no room, the refusal. Memory and the
//! shared store both count what each window holds; [`judge`] turns the
//! counts into the verdict the same way for both.

use std::sync::Arc;

use super::plan::Scope;
use super::window::Span;

/// One window's state after a check.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub model: Option<String>,
    pub span: Span,
    /// Nano-dollars.
    pub limit: u64,
    /// What is left after this request's reservation.
    pub remaining: u64,
    /// Until the window ends.
    pub reset_ms: u64,
}

/// The window that refused a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: Status,
    /// What was left before this request.
    pub remaining: u64,
    /// What the request may cost.
    pub cost: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Verdict {
    pub statuses: Vec<Status>,
    pub refusal: Option<Refusal>,
}

impl Verdict {
    /// The window with the least left, for the response headers.
    pub fn tightest(&self) -> Option<&Status> {
        self.statuses.iter().min_by_key(|s| s.remaining)
    }

    /// Refuses at window `i`, whose count was `used`, unless a window
    /// that resets later already refused: the client must wait for all.
    pub fn refuse_at(&mut self, i: usize, used: u64, cost: u64) {
        let Some(status) = self.statuses.get(i) else {
            return;
        };
        let later = self
            .refusal
            .as_ref()
            .is_none_or(|r| r.status.reset_ms < status.reset_ms);
        if later {
            self.refusal = Some(Refusal {
                status: status.clone(),
                remaining: status.limit.saturating_sub(used),
                cost,
            });
        }
    }
}

/// The verdict on reserving `amount` in the windows of `scopes` (in
/// order), which held `used` before this request. `amount` is `None` for
/// a look that reserves nothing and refuses nothing.
pub fn judge(scopes: &[Arc<Scope>], used: &[u64], amount: Option<u64>, now_ms: i64) -> Verdict {
    let mut v = Verdict::default();
    let windows = scopes
        .iter()
        .flat_map(|s| s.windows.iter().map(move |w| (s, w)));
    for (i, ((s, &(span, limit)), &held)) in windows.zip(used).enumerate() {
        let after = held.saturating_add(amount.unwrap_or(0));
        v.statuses.push(Status {
            model: s.model.clone(),
            span,
            limit,
            remaining: limit.saturating_sub(after),
            reset_ms: (span.end(now_ms) - now_ms).max(0) as u64,
        });
        if let Some(cost) = amount.filter(|_| after > limit) {
            v.refuse_at(i, held, cost);
        }
    }
    v
}
