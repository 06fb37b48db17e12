//! One active check: send the probe, classify the answer.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::config::{Backend, ProbeKind};
use crate::health::{cooldown::rate_limit_delay, Failure, ProbeCheck, ProbeOutcome};
use crate::protocol::{error_summary, Request, UpstreamRequest};
use crate::upstream::{self, SendError, UpstreamClient};

/// Sends the probe of `kind` to `backend`, bounded by `timeout`.
pub async fn run(
    client: &UpstreamClient,
    backend: &Backend,
    kind: ProbeKind,
    timeout: Duration,
) -> (ProbeOutcome, ProbeCheck) {
    let started = Instant::now();
    let (outcome, detail) = match tokio::time::timeout(timeout, send(client, backend, kind)).await {
        Ok(result) => result,
        Err(_) => (
            ProbeOutcome::Failed(Failure::Timeout),
            format!("timed out after {timeout:?}"),
        ),
    };
    let check = ProbeCheck {
        at: SystemTime::now(),
        kind,
        ok: outcome == ProbeOutcome::Ok,
        detail,
        latency: started.elapsed(),
    };
    (outcome, check)
}

async fn send(
    client: &UpstreamClient,
    backend: &Backend,
    kind: ProbeKind,
) -> (ProbeOutcome, String) {
    let (method, up) = match request(backend, kind) {
        Ok(Some(p)) => p,
        Ok(None) => return (ProbeOutcome::Inconclusive, "no probe".into()),
        Err(e) => {
            return (
                ProbeOutcome::Inconclusive,
                format!("cannot build the probe: {e}"),
            )
        }
    };
    let sent = match client.request(method, up.url, up.headers, &backend.provider, up.body) {
        Ok(req) => client.send(req).await,
        Err(e) => return (ProbeOutcome::Inconclusive, e.to_string()),
    };
    let resp = match sent {
        Ok(r) => r,
        Err(SendError::ConnectTimeout) => {
            return (ProbeOutcome::Failed(Failure::Timeout), "timed out".into())
        }
        Err(e) => {
            return (
                ProbeOutcome::Failed(Failure::Connect),
                format!("connect error: {e}"),
            )
        }
    };
    let status = resp.status().as_u16();
    let retry_after = rate_limit_delay(resp.headers());
    let body = upstream::read_error_body(resp.into_body()).await;
    let failure = match status {
        200..=299 => return (ProbeOutcome::Ok, format!("HTTP {status}")),
        401 | 403 => Failure::Auth { status },
        429 => Failure::RateLimited { retry_after },
        408 | 500..=599 => Failure::Server { status },
        _ => return (ProbeOutcome::Ok, format!("HTTP {status} (reachable)")),
    };
    let detail = format!("HTTP {status}: {}", error_summary(&body));
    (ProbeOutcome::Failed(failure), detail)
}

/// The smallest completion that still exercises the model.
const CHAT_PROBE: &[u8] =
    br#"{"model":"probe","messages":[{"role":"user","content":"ping"}],"max_tokens":1}"#;

/// The probe of `kind` in the backend's protocol, with its own key and
/// headers; `None` for [`ProbeKind::None`]. Chat probes are built like any request.
fn request(
    backend: &Backend,
    kind: ProbeKind,
) -> Result<Option<(axum::http::Method, UpstreamRequest)>, crate::protocol::RequestError> {
    let protocol = &backend.provider.protocol;
    match kind {
        ProbeKind::None => Ok(None),
        ProbeKind::Models => Ok(Some((
            axum::http::Method::GET,
            protocol.models_probe(&backend.upstream()),
        ))),
        ProbeKind::Chat => {
            let req = Request::chat(CHAT_PROBE)?;
            let up = protocol.build(&backend.upstream(), &req)?;
            Ok(Some((axum::http::Method::POST, up)))
        }
    }
}
