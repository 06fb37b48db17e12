//! The one error type of a request that failed. It knows whose fault it was
//! and whether retrying may help (what the metrics label it by), and its HTTP
//! status; each endpoint writes it in its own error shape. It lives below
//! every layer that can fail a request, and knows none of them.

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use bytes::Bytes;

use crate::protocol::{Api, RequestError, UpstreamError};

/// Whose fault an error was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Client,
    Upstream,
    Internal,
}

impl Fault {
    /// The bounded label of logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Client => "client",
            Fault::Upstream => "upstream",
            Fault::Internal => "internal",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("{message}")]
    BadRequest {
        message: String,
        param: Option<Cow<'static, str>>,
        code: Option<&'static str>,
    },
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{message}")]
    Forbidden { message: String, code: &'static str },
    #[error("{message}")]
    NotFound { message: String, code: &'static str },
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body did not arrive within `server.body_timeout`.
    #[error("the request body did not arrive within {limit:?} (server.body_timeout)")]
    RequestTimeout { limit: Duration },
    /// The gateway began to stop while the request was still arriving.
    #[error("the gateway is shutting down; send the request again")]
    ShuttingDown,
    #[error("{0}")]
    NoBackend(String),
    /// Every backend of the model is open or cooling down, and
    /// `settings.all_backends_down = "fail"`.
    #[error("{message}")]
    AllBackendsDown {
        message: String,
        retry_after: Duration,
    },
    /// Every attempt failed; `message` lists each attempt's backend and
    /// reason. `timed_out`: the last one ran out of time.
    #[error("{message}")]
    AllAttemptsFailed { message: String, timed_out: bool },
    /// Every attempt failed and the last upstream said "too many requests":
    /// the client may come back when the soonest backend has cooled down.
    #[error("{message}")]
    UpstreamRateLimited {
        message: String,
        retry_after: Duration,
    },
    /// The upstream rejected the request itself (400, 404, 413, 422...):
    /// the client gets the upstream's answer, as it was sent when the
    /// upstream speaks the client's API, else rewritten in its shape.
    #[error("upstream rejected the request with HTTP {}", .0.status)]
    UpstreamRejected(Box<Rejection>),
    /// A user's rate limit; `kind` is OpenAI's error type (`requests` or `tokens`).
    #[error("{message}")]
    RateLimited {
        message: String,
        kind: &'static str,
        retry_after: Duration,
    },
    /// The request could cost more than what is left of one of the user's
    /// budgets; `message` names the window, which ends in `retry_after`.
    #[error("{message}")]
    OverBudget {
        message: String,
        retry_after: Duration,
    },
    /// The request resumes state (`previous_response_id`) that only one
    /// backend keeps, and that backend is out of rotation; `retry_after`
    /// is when it may be back, if known.
    #[error("{message}")]
    ResumeUnavailable {
        message: String,
        /// The field naming the state.
        param: &'static str,
        retry_after: Option<Duration>,
    },
    /// The shared state store is unreachable and `state.on_error = "fail_closed"`.
    #[error("rate limits and budgets cannot be checked right now (shared state store unreachable); try again shortly")]
    StateUnavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl EdgeError {
    pub fn fault(&self) -> Fault {
        match self {
            EdgeError::BadRequest { .. }
            | EdgeError::Unauthorized(_)
            | EdgeError::Forbidden { .. }
            | EdgeError::NotFound { .. }
            | EdgeError::PayloadTooLarge { .. }
            | EdgeError::RequestTimeout { .. }
            | EdgeError::RateLimited { .. }
            | EdgeError::OverBudget { .. }
            | EdgeError::UpstreamRejected { .. } => Fault::Client,
            EdgeError::NoBackend(_)
            | EdgeError::AllBackendsDown { .. }
            | EdgeError::AllAttemptsFailed { .. }
            | EdgeError::UpstreamRateLimited { .. }
            | EdgeError::ResumeUnavailable { .. } => Fault::Upstream,
            EdgeError::Internal(_) | EdgeError::StateUnavailable | EdgeError::ShuttingDown => {
                Fault::Internal
            }
        }
    }

    /// Whether the same request may succeed if the client sends it again.
    pub fn retryable(&self) -> bool {
        self.fault() != Fault::Client
    }

    pub fn status(&self) -> StatusCode {
        match self {
            EdgeError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            EdgeError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            EdgeError::Forbidden { .. } => StatusCode::FORBIDDEN,
            EdgeError::NotFound { .. } => StatusCode::NOT_FOUND,
            EdgeError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            EdgeError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            EdgeError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            EdgeError::NoBackend(_) | EdgeError::AllBackendsDown { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            EdgeError::AllAttemptsFailed {
                timed_out: true, ..
            } => StatusCode::GATEWAY_TIMEOUT,
            EdgeError::AllAttemptsFailed {
                timed_out: false, ..
            } => StatusCode::BAD_GATEWAY,
            EdgeError::UpstreamRateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            EdgeError::ResumeUnavailable { .. } => StatusCode::CONFLICT,
            EdgeError::UpstreamRejected(r) => r.status,
            EdgeError::RateLimited { .. } | EdgeError::OverBudget { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            EdgeError::StateUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            EdgeError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether the connection must close after this answer: the rest of
    /// the request is not coming, or the gateway is stopping.
    pub fn closes_connection(&self) -> bool {
        matches!(
            self,
            EdgeError::RequestTimeout { .. } | EdgeError::ShuttingDown
        )
    }

    /// How long the client should wait before trying again, when it should.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            EdgeError::AllBackendsDown { retry_after, .. }
            | EdgeError::RateLimited { retry_after, .. }
            | EdgeError::UpstreamRateLimited { retry_after, .. }
            | EdgeError::OverBudget { retry_after, .. } => Some(*retry_after),
            EdgeError::StateUnavailable => Some(Duration::from_secs(1)),
            EdgeError::ResumeUnavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A model that does not exist, or that this user may not see: the
    /// two are answered alike, so a forbidden model's existence is not told.
    pub fn model_not_found(model: &str) -> Self {
        EdgeError::NotFound {
            message: format!(
                "The model `{}` does not exist or you do not have access to it.",
                echo(model)
            ),
            code: "model_not_found",
        }
    }

    pub fn bad_request(
        message: impl Into<String>,
        param: Option<&'static str>,
        code: Option<&'static str>,
    ) -> Self {
        EdgeError::BadRequest {
            message: message.into(),
            param: param.map(Cow::Borrowed),
            code,
        }
    }
}

/// A request the gateway refused before choosing a backend.
impl From<RequestError> for EdgeError {
    fn from(e: RequestError) -> Self {
        EdgeError::BadRequest {
            message: e.message,
            param: e.param,
            code: None,
        }
    }
}

/// How much of a client-given value (a model or backend name, a path) an
/// error message or log line repeats: enough to recognise it, never the
/// megabyte a client may send.
pub const ECHO_LIMIT: usize = 128;

/// `value`, cut to [`ECHO_LIMIT`] bytes at a character boundary and marked
/// with `…` when it was longer.
pub fn echo(value: &str) -> Cow<'_, str> {
    if value.len() <= ECHO_LIMIT {
        return Cow::Borrowed(value);
    }
    let mut end = ECHO_LIMIT;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &value[..end]))
}

/// An upstream's answer to a request it rejected.
#[derive(Debug)]
pub struct Rejection {
    pub status: StatusCode,
    /// What the body says, when it is in its protocol's error shape.
    pub error: Option<UpstreamError>,
    /// As the upstream sent it (secrets scrubbed).
    pub body: Bytes,
    pub content_type: Option<HeaderValue>,
    /// The API whose error shape `body` is in, when the gateway serves it.
    pub api: Option<Api>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_keeps_short_values_and_cuts_long_ones_at_a_char_boundary() {
        assert_eq!(echo("gpt-4o"), "gpt-4o");
        let exact = "m".repeat(ECHO_LIMIT);
        assert_eq!(echo(&exact), exact.as_str());
        let long = "é".repeat(ECHO_LIMIT);
        let cut = echo(&long);
        assert!(cut.ends_with('…') && cut.len() <= ECHO_LIMIT + '…'.len_utf8());
        assert!(long.starts_with(cut.trim_end_matches('…')));
    }
}
