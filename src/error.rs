//! The one error type of a request that failed. It knows whose fault it was
//! and whether retrying may help (what the metrics label it by), and its HTTP
//! status; each endpoint writes it in its own error shape. It lives below
//! every layer that can fail a request, and knows none of them.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use bytes::Bytes;

use crate::protocol::{Api, UpstreamError};

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
        param: Option<&'static str>,
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
    #[error("{0}")]
    NoBackend(String),
    /// Every backend of the model is open or cooling down, and
    /// `settings.all_backends_down = "fail"`.
    #[error("{message}")]
    AllBackendsDown {
        message: String,
        retry_after: Duration,
    },
    /// Every attempt failed; `message` lists each attempt's backend and reason.
    #[error("{message}")]
    AllAttemptsFailed { message: String, all_timeouts: bool },
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
    /// budgets; `message` names the window.
    #[error("{0}")]
    OverBudget(String),
    /// The shared state store is unreachable and `state.on_error = "fail_closed"`.
    #[error("rate limits cannot be checked right now (shared state store unreachable); try again shortly")]
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
            | EdgeError::RateLimited { .. }
            | EdgeError::OverBudget(_)
            | EdgeError::UpstreamRejected { .. } => Fault::Client,
            EdgeError::NoBackend(_)
            | EdgeError::AllBackendsDown { .. }
            | EdgeError::AllAttemptsFailed { .. } => Fault::Upstream,
            EdgeError::Internal(_) | EdgeError::StateUnavailable => Fault::Internal,
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
            EdgeError::NoBackend(_) | EdgeError::AllBackendsDown { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            EdgeError::AllAttemptsFailed {
                all_timeouts: true, ..
            } => StatusCode::GATEWAY_TIMEOUT,
            EdgeError::AllAttemptsFailed {
                all_timeouts: false,
                ..
            } => StatusCode::BAD_GATEWAY,
            EdgeError::UpstreamRejected(r) => r.status,
            EdgeError::RateLimited { .. } | EdgeError::OverBudget(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            EdgeError::StateUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            EdgeError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// How long the client should wait before trying again, when it should.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            EdgeError::AllBackendsDown { retry_after, .. }
            | EdgeError::RateLimited { retry_after, .. } => Some(*retry_after),
            EdgeError::StateUnavailable => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    pub fn bad_request(
        message: impl Into<String>,
        param: Option<&'static str>,
        code: Option<&'static str>,
    ) -> Self {
        EdgeError::BadRequest {
            message: message.into(),
            param,
            code,
        }
    }
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
