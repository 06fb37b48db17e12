//! How an attempt loop ends: time left, and the error when every attempt failed.

use std::time::Duration;

use tokio::time::Instant;

use super::attempt::{AttemptError, TimeoutKind};
use crate::error::EdgeError;

pub(super) fn remaining(deadline: Option<Instant>) -> Option<Option<Duration>> {
    match deadline {
        None => Some(None),
        Some(d) => d
            .checked_duration_since(Instant::now())
            .filter(|r| !r.is_zero())
            .map(Some),
    }
}

/// The per-attempt limit, cut short by what is left of the request deadline.
pub(super) fn bounded(
    limit: Duration,
    kind: TimeoutKind,
    deadline_left: Option<Duration>,
) -> (Duration, TimeoutKind) {
    match deadline_left {
        Some(left) if left < limit => (left, TimeoutKind::Deadline),
        _ => (limit, kind),
    }
}

/// `request_deadline` ran out between attempts: a timeout, whatever came before.
pub(super) fn deadline_exceeded(model: &str, failures: &[(String, AttemptError)]) -> EdgeError {
    let list: Vec<String> = failures.iter().map(|(b, e)| format!("{b}: {e}")).collect();
    let before = if list.is_empty() {
        String::new()
    } else {
        format!(" after: {}", list.join("; "))
    };
    EdgeError::AllAttemptsFailed {
        message: format!("request deadline for model `{model}` exceeded{before}"),
        all_timeouts: true,
    }
}

/// The error once no attempt is left: 503 if none could start, 400 if no
/// backend could express the request, 504 if all timed out, else 502.
pub(super) fn exhausted(
    model: &str,
    failures: Vec<(String, AttemptError)>,
    none_tried: bool,
    pinned: bool,
) -> EdgeError {
    if none_tried || failures.is_empty() {
        return EdgeError::NoBackend(format!("no backend of model `{model}` is available"));
    }
    if failures
        .iter()
        .all(|(_, e)| matches!(e, AttemptError::Unsupported { .. }))
    {
        if let Some((_, first)) = failures.into_iter().next() {
            return first.into_client_error();
        }
        return EdgeError::NoBackend(format!("no backend of model `{model}` is available"));
    }
    let all_timeouts = failures.iter().all(|(_, e)| e.is_timeout());
    let list: Vec<String> = failures.iter().map(|(b, e)| format!("{b}: {e}")).collect();
    let message = if pinned {
        format!(
            "pinned backend of model `{model}` failed: {}",
            list.join("; ")
        )
    } else {
        format!(
            "all {} attempt(s) for model `{model}` failed: {}",
            failures.len(),
            list.join("; ")
        )
    };
    EdgeError::AllAttemptsFailed {
        message,
        all_timeouts,
    }
}
