//! `POST /v1/chat/completions`: authentication, the body, the model,
//! permission and pin checks, then the user's rate limits, then the proxy.
//! Every response to a user with limits carries OpenAI's rate-limit headers.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::Extension;

use super::error::EdgeError;
use super::routes::{fail, identify};
use crate::config::User;
use crate::limits::{self, headers, Decision, Limited, Scope, Verdict};
use crate::providers::ChatRequest;
use crate::proxy;
use crate::state::{AppState, Snapshot};
use crate::telemetry::metrics::UserLabels;
use crate::telemetry::RequestRecord;

/// What the handler learned about the user's limits, for the headers.
#[derive(Default)]
struct Limits {
    /// The scopes the request counts against; `None` for a user without limits.
    scopes: Option<Vec<Arc<Scope>>>,
    verdict: Option<Verdict>,
    /// The store failed: no headers, and no second try to peek.
    unknown: bool,
}

pub async fn chat(
    State(state): State<AppState>,
    Extension(record): Extension<Arc<RequestRecord>>,
    req: Request,
) -> Response {
    // Taken apart rather than extracted as `HeaderMap`, which clones it.
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let snap = state.snapshot();
    let mut limits = Limits::default();
    let mut resp = match handle(&state, snap, &record, &headers, body, &mut limits).await {
        Ok(resp) => resp,
        Err(e) => error_response(&record, e),
    };
    if let (Some(scopes), None, false) = (&limits.scopes, &limits.verdict, limits.unknown) {
        // Refused before the check (bad body, model, permission): show the
        // windows as they are, without spending anything.
        limits.verdict = state.limiter().peek(scopes).await;
    }
    if let Some(v) = &limits.verdict {
        headers::apply(resp.headers_mut(), v);
    }
    resp
}

fn error_response(record: &RequestRecord, e: EdgeError) -> Response {
    let mut resp = fail(record, e);
    let mut last = None;
    record.update(|f| {
        last = f
            .attempts
            .last()
            .map(|a| (a.backend.clone(), f.attempts.len()))
    });
    if let Some((backend, n)) = last {
        proxy::route_headers(resp.headers_mut(), &backend, n);
    }
    resp
}

async fn handle(
    state: &AppState,
    snap: Arc<Snapshot>,
    record: &Arc<RequestRecord>,
    headers: &HeaderMap,
    body: Body,
    limits: &mut Limits,
) -> Result<Response, EdgeError> {
    let user = identify(&snap, headers, record)?;
    let plan = snap.plan(&user.id).cloned();
    let (req, body_len) = match read(&snap, headers, body).await {
        Ok(read) => read,
        Err(e) => {
            // No model known: the headers show the user-wide windows.
            limits.scopes = plan.as_ref().map(|p| p.scopes(""));
            return Err(e);
        }
    };
    limits.scopes = plan.as_ref().map(|p| p.scopes(&req.model));
    let pinned = proxy::check(&snap, &user, &req, record)?;
    // The request's own log line records the pin (`pinned`, `backend`); this is detail.
    if req.backend.is_some() {
        tracing::debug!(target: "switchyard::pin", request_id = %record.id, user = %user.id, model = %req.model,
            backend = req.backend.as_deref(), "request pinned to a backend");
    }
    // Once admitted or refused, the verdict carries the headers: the scopes
    // are not needed again.
    if let Some(scopes) = limits.scopes.take() {
        let tokens = limits::estimate_tokens(&req, body_len);
        match state.limiter().admit(scopes, tokens).await {
            Decision::Admitted(verdict, admission) => {
                limits.verdict = Some(verdict);
                record.on_finish(Box::new(move |status, fields| {
                    let used = fields.usage.map(|u| u.prompt_tokens + u.completion_tokens);
                    admission.finish(used, (200..300).contains(&status));
                }));
            }
            Decision::Refused(verdict) => {
                let e = refused(state, &user, &verdict);
                limits.verdict = Some(verdict);
                return Err(e);
            }
            Decision::Unchecked => limits.unknown = true,
            Decision::Unavailable => {
                limits.unknown = true;
                return Err(EdgeError::StateUnavailable);
            }
        }
    }
    proxy::run(snap, user, req, record.clone(), pinned).await
}

/// Reads (size-limited) and parses the body once.
async fn read(
    snap: &Snapshot,
    headers: &HeaderMap,
    body: Body,
) -> Result<(ChatRequest, usize), EdgeError> {
    let limit = snap.config.server.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(EdgeError::PayloadTooLarge { limit });
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if is_length_limit(&e) {
            EdgeError::PayloadTooLarge { limit }
        } else {
            EdgeError::bad_request(format!("could not read the request body: {e}"), None, None)
        }
    })?;
    let req =
        ChatRequest::parse(&bytes).map_err(|e| EdgeError::bad_request(e.message, e.param, None))?;
    Ok((req, bytes.len()))
}

/// Whether reading the body failed on the size limit (rather than a broken upload).
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// The 429 for a refused request, worded like OpenAI's.
fn refused(state: &AppState, user: &User, verdict: &Verdict) -> EdgeError {
    state
        .metrics()
        .rate_limited
        .get_or_create(&UserLabels {
            user: user.id.clone(),
        })
        .inc();
    let Some(r) = &verdict.refusal else {
        return EdgeError::Internal("refused without a reason".into());
    };
    let wait = Duration::from_millis(r.retry_after_ms);
    let scope = match &r.model {
        Some(m) => format!("user {:?} on model `{m}`", user.id),
        None => format!("user {:?}", user.id),
    };
    let (what, kind) = match r.limited {
        Limited::Window(w) => (
            format!(
                "{} ({}): limit {}",
                window_name(w.code()),
                w.code().to_uppercase(),
                w.limit
            ),
            w.kind.name(),
        ),
        Limited::Concurrency { max } => (format!("concurrent requests: limit {max}"), "requests"),
    };
    EdgeError::RateLimited {
        message: format!(
            "Rate limit reached for {scope} on {what}. Please try again in {}.",
            headers::go_duration(r.retry_after_ms.max(1))
        ),
        kind,
        retry_after: wait,
    }
}

fn window_name(code: &str) -> &'static str {
    match code {
        "rpm" => "requests per minute",
        "rph" => "requests per hour",
        "rpd" => "requests per day",
        "tpm" => "tokens per minute",
        _ => "tokens per day",
    }
}
