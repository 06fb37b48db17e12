//! One attempt at one backend: send, classify what came back.

use std::time::{Duration, Instant};

use axum::http::{HeaderValue, Method, Response, StatusCode};
use bytes::Bytes;
use hyper::body::Incoming;

use crate::config::{Backend, BackendType};
use crate::health::{cooldown, Failure};
use crate::providers::{self, ChatRequest, UpstreamRequest, Usage};
use crate::server::error::EdgeError;
use crate::upstream::{self, SendError, UpstreamClient};

/// Which limit ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    Connect,
    FirstToken,
    Idle,
    Request,
    Deadline,
}

/// Why an attempt failed. Everything but a client 4xx moves on to another backend.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error("connect error: {0}")]
    Connect(String),
    #[error("timed out ({kind:?}) after {after:?}")]
    Timeout { kind: TimeoutKind, after: Duration },
    #[error("HTTP {}: {}", status.as_u16(), providers::error_summary(body))]
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
        /// As the upstream sent it, in its protocol's error shape.
        body: Bytes,
        content_type: Option<HeaderValue>,
        /// The protocol that shaped `body`.
        protocol: BackendType,
    },
    #[error("stream broken before the first token: {0}")]
    StreamBroken(String),
    #[error("invalid response: {0}")]
    BadResponse(String),
    /// This backend's protocol cannot express the request; another may.
    #[error("{0}")]
    Unsupported(String),
}

/// 4xx statuses that mean the request itself is wrong, so no backend would take it.
fn is_client_error(status: StatusCode) -> bool {
    status.is_client_error() && !matches!(status.as_u16(), 401 | 403 | 408 | 429)
}

impl AttemptError {
    pub fn retryable(&self) -> bool {
        !matches!(self, AttemptError::Status { status, .. } if is_client_error(*status))
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, AttemptError::Timeout { .. })
    }

    /// What this failure says about the backend; `None` when the request
    /// itself was at fault.
    pub fn health_failure(&self) -> Option<Failure> {
        Some(match self {
            AttemptError::Connect(_) => Failure::Connect,
            // The request's own deadline ran out: that says little about this backend.
            AttemptError::Timeout {
                kind: TimeoutKind::Deadline,
                ..
            } => return None,
            AttemptError::Timeout { .. } => Failure::Timeout,
            AttemptError::Status {
                status,
                retry_after,
                ..
            } => match status.as_u16() {
                401 | 403 => Failure::Auth {
                    status: status.as_u16(),
                },
                429 => Failure::RateLimited {
                    retry_after: *retry_after,
                },
                408 => Failure::Timeout,
                _ if is_client_error(*status) => return None,
                s => Failure::Server { status: s },
            },
            AttemptError::StreamBroken(_) | AttemptError::BadResponse(_) => Failure::StreamBroken,
            AttemptError::Unsupported(_) => return None,
        })
    }

    /// A bounded label for logs and metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            AttemptError::Connect(_) => "connect",
            AttemptError::Timeout { .. } => "timeout",
            AttemptError::Status { status, .. } => match status.as_u16() {
                429 => "status_429",
                401 | 403 => "auth",
                408 => "timeout",
                _ if is_client_error(*status) => "client_4xx",
                _ => "status_5xx",
            },
            AttemptError::StreamBroken(_) | AttemptError::BadResponse(_) => "stream_broken",
            AttemptError::Unsupported(_) => "client_4xx",
        }
    }

    /// The error to give the client when it must not be retried elsewhere.
    /// A native protocol's error body is rewritten in OpenAI's shape.
    pub fn into_client_error(self) -> EdgeError {
        match self {
            AttemptError::Status {
                status,
                body,
                content_type,
                protocol: BackendType::OpenAi | BackendType::Azure,
                ..
            } if providers::is_openai_error(&body) => EdgeError::UpstreamRejected {
                status,
                body,
                content_type,
            },
            AttemptError::Status {
                status,
                body,
                protocol,
                ..
            } => EdgeError::UpstreamRejected {
                status,
                body: providers::client_error_body(protocol, status, body),
                content_type: Some(HeaderValue::from_static("application/json")),
            },
            AttemptError::Unsupported(message) => {
                EdgeError::bad_request(message, None, Some("unsupported_parameter"))
            }
            other => EdgeError::Internal(other.to_string()),
        }
    }
}

fn from_send(e: SendError, connect_timeout: Duration) -> AttemptError {
    match e {
        SendError::ConnectTimeout => AttemptError::Timeout {
            kind: TimeoutKind::Connect,
            after: connect_timeout,
        },
        other => AttemptError::Connect(other.to_string()),
    }
}

/// Sends the request; any non-2xx answer becomes an [`AttemptError::Status`].
pub async fn send(
    client: &UpstreamClient,
    backend: &Backend,
    up: UpstreamRequest,
) -> Result<Response<Incoming>, AttemptError> {
    let provider = &backend.provider;
    let connect = provider.timeouts.connect;
    let req = upstream::request(Method::POST, &up.url, up.headers, provider, up.body)
        .map_err(|e| from_send(e, connect))?;
    let resp = client.send(req).await.map_err(|e| from_send(e, connect))?;
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let retry_after = cooldown::rate_limit_delay(resp.headers());
    let content_type = resp.headers().get("content-type").cloned();
    // An error body is small; read what arrives, but never let it fail the
    // classification. A relay may echo the key it was sent: never pass it on.
    let body = upstream::read_error_body(resp.into_body()).await;
    let body = match std::str::from_utf8(&body).map(|text| provider.scrub(text)) {
        Ok(clean) if clean.as_bytes() != &body[..] => Bytes::from(clean),
        _ => body,
    };
    Err(AttemptError::Status {
        status,
        retry_after,
        body,
        content_type,
        protocol: provider.backend_type,
    })
}

/// A whole non-streaming answer, already in OpenAI's format.
pub struct Complete {
    pub body: Bytes,
    pub usage: Option<Usage>,
}

/// A non-streaming attempt, bounded by `limit` from send to the last byte.
pub async fn complete(
    client: &UpstreamClient,
    backend: &Backend,
    req: &ChatRequest,
    limit: (Duration, TimeoutKind),
) -> Result<Complete, AttemptError> {
    let up = build(backend, req)?;
    let work = async {
        let resp = send(client, backend, up).await?;
        let body = upstream::read_all(resp.into_body())
            .await
            .map_err(AttemptError::StreamBroken)?;
        let (body, usage) =
            providers::translate_response(backend, body).map_err(AttemptError::BadResponse)?;
        Ok(Complete { body, usage })
    };
    let started = Instant::now();
    match tokio::time::timeout(limit.0, work).await {
        Ok(result) => result,
        Err(_) => Err(AttemptError::Timeout {
            kind: limit.1,
            after: started.elapsed(),
        }),
    }
}

/// The upstream request, or why this backend cannot take it.
pub fn build(backend: &Backend, req: &ChatRequest) -> Result<UpstreamRequest, AttemptError> {
    providers::build_request(backend, req).map_err(|e| {
        AttemptError::Unsupported(format!(
            "backend {:?} cannot take this request: {e}",
            backend.id
        ))
    })
}
