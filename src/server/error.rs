//! The one error type at the edge. It knows whose fault an error was and
//! whether retrying may help; one exhaustive match maps it to an HTTP status
//! and an OpenAI-shaped body.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;

/// Whose fault an error was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Client,
    Upstream,
    Internal,
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
        retry_after: std::time::Duration,
    },
    /// Every attempt failed; `message` lists each attempt's backend and reason.
    #[error("{message}")]
    AllAttemptsFailed { message: String, all_timeouts: bool },
    /// The upstream rejected the request itself (400, 404, 413, 422...):
    /// the client gets the upstream's answer as it was sent.
    #[error("upstream rejected the request with HTTP {status}")]
    UpstreamRejected {
        status: StatusCode,
        body: Bytes,
        content_type: Option<HeaderValue>,
    },
    /// A user's rate limit; `kind` is OpenAI's error type (`requests` or `tokens`).
    #[error("{message}")]
    RateLimited {
        message: String,
        kind: &'static str,
        retry_after: std::time::Duration,
    },
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
            EdgeError::UpstreamRejected { status, .. } => *status,
            EdgeError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            EdgeError::StateUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            EdgeError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// OpenAI's `type`, `param` and `code` for this error.
    fn parts(&self) -> (&'static str, Option<&'static str>, Option<&'static str>) {
        match self {
            EdgeError::BadRequest { param, code, .. } => ("invalid_request_error", *param, *code),
            EdgeError::Unauthorized(_) => ("invalid_request_error", None, Some("invalid_api_key")),
            EdgeError::Forbidden { code, .. } => ("permission_error", None, Some(*code)),
            EdgeError::NotFound { code, .. } => {
                let param = (*code == "model_not_found").then_some("model");
                ("invalid_request_error", param, Some(*code))
            }
            EdgeError::PayloadTooLarge { .. } => {
                ("invalid_request_error", None, Some("request_too_large"))
            }
            EdgeError::NoBackend(_) => ("server_error", None, Some("no_backend_available")),
            EdgeError::AllBackendsDown { .. } => ("server_error", None, Some("all_backends_down")),
            EdgeError::AllAttemptsFailed {
                all_timeouts: true, ..
            } => ("server_error", None, Some("upstream_timeout")),
            EdgeError::AllAttemptsFailed { .. } => ("server_error", None, Some("upstream_error")),
            EdgeError::UpstreamRejected { .. } => ("invalid_request_error", None, None),
            EdgeError::RateLimited { kind, .. } => (kind, None, Some("rate_limit_exceeded")),
            EdgeError::StateUnavailable => ("server_error", None, Some("state_unavailable")),
            EdgeError::Internal(_) => ("server_error", None, Some("internal_error")),
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

/// An OpenAI error body.
pub fn error_body(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> String {
    json!({"error": {"message": message, "type": kind, "param": param, "code": code}}).to_string()
}

impl IntoResponse for EdgeError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let EdgeError::UpstreamRejected {
            body, content_type, ..
        } = self
        {
            let ct = content_type.unwrap_or(HeaderValue::from_static("application/json"));
            return (status, [(header::CONTENT_TYPE, ct)], body).into_response();
        }
        let (kind, param, code) = self.parts();
        let retry_after = match &self {
            EdgeError::AllBackendsDown { retry_after, .. }
            | EdgeError::RateLimited { retry_after, .. } => Some(*retry_after),
            EdgeError::StateUnavailable => Some(std::time::Duration::from_secs(1)),
            _ => None,
        };
        let body = error_body(&self.to_string(), kind, param, code);
        let mut resp = (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        if let Some(wait) = retry_after {
            // Whole seconds, rounded up: a client must not come back too early.
            let secs = wait.as_millis().div_ceil(1000).max(1) as u64;
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            if matches!(self, EdgeError::RateLimited { .. }) {
                let ms = wait.as_millis().max(1) as u64;
                resp.headers_mut()
                    .insert("retry-after-ms", HeaderValue::from(ms));
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
