//! How an attempt loop ends: time left, and the error when every attempt failed.

use std::time::Duration;

use axum::http::StatusCode;
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
        timed_out: true,
    }
}

/// The error once no attempt is left: 503 if none could start, 400 if no
/// backend could express the request; else the last upstream failure
/// decides what the client can do about it: a 429 is a 429 (come back in
/// `cooled`, when the soonest backend has cooled down), a timeout a 504,
/// anything else a 502.
pub(super) fn exhausted(
    model: &str,
    failures: Vec<(String, AttemptError)>,
    pinned: bool,
    cooled: Duration,
) -> EdgeError {
    let Some((_, last)) = failures.iter().rev().find(|(_, e)| e.reached_upstream()) else {
        return match failures.into_iter().next() {
            Some((_, first)) => first.into_client_error(),
            None => EdgeError::NoBackend(format!("no backend of model `{model}` is available")),
        };
    };
    let rate_limited = last.status() == Some(StatusCode::TOO_MANY_REQUESTS);
    let timed_out = last.is_timeout();
    let sent = failures
        .iter()
        .filter(|(_, e)| e.reached_upstream())
        .count();
    let list: Vec<String> = failures.iter().map(|(b, e)| format!("{b}: {e}")).collect();
    let message = if pinned {
        format!(
            "pinned backend of model `{model}` failed: {}",
            list.join("; ")
        )
    } else {
        format!(
            "all {sent} attempt(s) for model `{model}` failed: {}",
            list.join("; ")
        )
    };
    if rate_limited {
        return EdgeError::UpstreamRateLimited {
            message,
            retry_after: cooled,
        };
    }
    EdgeError::AllAttemptsFailed { message, timed_out }
}
