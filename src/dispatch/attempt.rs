//! One attempt at one backend: send, classify what came back.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, Method, Response, StatusCode};
use bytes::Bytes;
use hyper::body::Incoming;

use crate::config::{Backend, Provider};
use crate::error::{EdgeError, Fault, Rejection};
use crate::health::{cooldown, Failure};
use crate::protocol::sse::SseError;
use crate::protocol::{
    error_summary, Answer, Prepared, Protocol, Request, RequestError, StreamError, UpstreamRequest,
};
use crate::upstream::{self, error_chain, ReadError, SendError, UpstreamClient};

/// Which limit ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    Connect,
    FirstToken,
    Idle,
    Request,
    Deadline,
}

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error("connect error: {0}")]
    Connect(#[source] SendError),
    #[error("timed out ({kind:?}) after {after:?}")]
    Timeout { kind: TimeoutKind, after: Duration },
    #[error("HTTP {}: {}", status.as_u16(), error_summary(body))]
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
        /// As the upstream sent it, in its protocol's error shape.
        body: Bytes,
        content_type: Option<HeaderValue>,
        /// The protocol that shaped `body`.
        protocol: Arc<dyn Protocol>,
    },
    #[error("stream broken before the first token: {0}")]
    StreamBroken(#[source] Broken),
    #[error("invalid response: {0}")]
    BadResponse(String),
    /// A non-streaming answer past `settings.max_response_bytes`.
    #[error("answer larger than the limit of {limit} bytes (settings.max_response_bytes)")]
    TooLarge { limit: usize },
    /// This backend's protocol cannot express the request; another may.
    #[error("backend {backend:?} cannot take this request: {error}")]
    Unsupported {
        backend: String,
        #[source]
        error: RequestError,
    },
}

/// How an upstream stream broke.
#[derive(Debug, thiserror::Error)]
pub enum Broken {
    #[error("upstream closed the stream before any content")]
    BeforeContent,
    #[error("upstream closed the stream before it was complete")]
    Incomplete,
    #[error("no data from upstream for {0:?} (idle timeout)")]
    Idle(Duration),
    #[error("upstream connection failed: {}", error_chain(.0))]
    Transport(#[source] hyper::Error),
    #[error("{0}")]
    Sse(#[from] SseError),
    /// The upstream's words, with the provider's secrets scrubbed out.
    #[error("{0}")]
    Event(StreamError),
}

impl Broken {
    pub(super) fn event(e: StreamError, provider: &Provider) -> Self {
        Broken::Event(match e {
            StreamError::Upstream(m) => StreamError::Upstream(provider.scrub(&m)),
            StreamError::Malformed(m) => StreamError::Malformed(provider.scrub(&m)),
        })
    }
}

/// What the attempt loop does after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Fail over to another backend; the attempt counts.
    Retry,
    /// Try another backend without spending an attempt: this one could
    /// not express the request.
    Skip,
    /// The request itself is wrong: no backend would take it.
    Stop,
}

/// 4xx statuses that mean the request itself is wrong, so no backend would take it.
fn is_client_error(status: StatusCode) -> bool {
    status.is_client_error() && !matches!(status.as_u16(), 401 | 403 | 408 | 429)
}

impl AttemptError {
    /// Whose fault the failure was: the client's only when the request itself is wrong.
    pub fn fault(&self) -> Fault {
        match self {
            AttemptError::Status { status, .. } if is_client_error(*status) => Fault::Client,
            AttemptError::Unsupported { .. } => Fault::Client,
            _ => Fault::Upstream,
        }
    }

    pub fn next(&self) -> Next {
        match (self, self.fault()) {
            (AttemptError::Unsupported { .. }, _) => Next::Skip,
            (_, Fault::Client) => Next::Stop,
            _ => Next::Retry,
        }
    }

    /// False when the request never left: this backend could not take it.
    pub fn reached_upstream(&self) -> bool {
        !matches!(self, AttemptError::Unsupported { .. })
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, AttemptError::Timeout { .. })
    }

    /// The upstream's HTTP status, when it answered with an error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            AttemptError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// What this failure says about the backend; `None` when the request
    /// itself was at fault.
    pub fn health_failure(&self) -> Option<Failure> {
        if self.fault() == Fault::Client {
            return None;
        }
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
                s => Failure::Server { status: s },
            },
            AttemptError::StreamBroken(_)
            | AttemptError::BadResponse(_)
            | AttemptError::TooLarge { .. } => Failure::StreamBroken,
            AttemptError::Unsupported { .. } => return None,
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
            AttemptError::TooLarge { .. } => "too_large",
            AttemptError::Unsupported { .. } => "client_4xx",
        }
    }

    /// The error to give the client when it must not be retried elsewhere.
    pub fn into_client_error(self) -> EdgeError {
        match self {
            AttemptError::Status {
                status,
                body,
                content_type,
                protocol,
                ..
            } => EdgeError::UpstreamRejected(Box::new(Rejection {
                status,
                error: protocol.error(&body),
                body,
                content_type,
                api: protocol.api(),
            })),
            AttemptError::Unsupported { backend, error } => {
                let message = format!("backend {backend:?} cannot take this request: {error}");
                EdgeError::BadRequest {
                    message,
                    param: error.param,
                    code: Some("unsupported_parameter"),
                }
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
        other => AttemptError::Connect(other),
    }
}

/// What reads the headers of every upstream answer.
pub type Seen<'a> = dyn Fn(&axum::http::HeaderMap) + Send + Sync + 'a;

/// Sends the request; any non-2xx answer becomes an [`AttemptError::Status`].
/// `seen` reads every answer's headers (the backend's quota).
pub async fn send(
    client: &UpstreamClient,
    backend: &Backend,
    up: UpstreamRequest,
    seen: &Seen<'_>,
) -> Result<Response<Incoming>, AttemptError> {
    let provider = &backend.provider;
    let connect = provider.timeouts.connect;
    let req = client
        .request(Method::POST, up.url, up.headers, provider, up.body)
        .map_err(|e| from_send(e, connect))?;
    let resp = client.send(req).await.map_err(|e| from_send(e, connect))?;
    seen(resp.headers());
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
        protocol: provider.protocol.clone(),
    })
}

/// A non-streaming attempt, bounded by `limit` from send to the last byte
/// and by `max_bytes` in size.
pub async fn complete(
    client: &UpstreamClient,
    backend: &Backend,
    req: &Request,
    limit: (Duration, TimeoutKind),
    max_bytes: usize,
    seen: &Seen<'_>,
) -> Result<Answer, AttemptError> {
    let (prepared, up) = build(backend, req)?;
    let work = async {
        let resp = send(client, backend, up, seen).await?;
        let body = upstream::read_all(resp.into_body(), max_bytes)
            .await
            .map_err(|e| match e {
                ReadError::Transport(e) => AttemptError::StreamBroken(Broken::Transport(e)),
                ReadError::TooLarge { limit } => AttemptError::TooLarge { limit },
            })?;
        let protocol = &*backend.provider.protocol;
        prepared
            .answer(protocol, &backend.upstream(), body)
            .map_err(AttemptError::BadResponse)
    };
    let started = tokio::time::Instant::now();
    match tokio::time::timeout(limit.0, work).await {
        Ok(result) => result,
        Err(_) => Err(AttemptError::Timeout {
            kind: limit.1,
            after: started.elapsed(),
        }),
    }
}

/// The request in the form this backend's protocol reads, and its upstream
/// request; or why this backend cannot take it.
pub fn build<'r>(
    backend: &Backend,
    req: &'r Request,
) -> Result<(Prepared<'r>, UpstreamRequest), AttemptError> {
    let protocol = &*backend.provider.protocol;
    let t = backend.upstream();
    Prepared::new(protocol, &t, req)
        .and_then(|prepared| {
            let up = prepared.build(protocol, &t)?;
            Ok((prepared, up))
        })
        .map_err(|error| AttemptError::Unsupported {
            backend: backend.id.clone(),
            error,
        })
}
