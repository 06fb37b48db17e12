//! OpenAI's error shape, `{"error": {"message", "type", "param", "code"}}`,
//! with the status and headers the SDKs read (`Retry-After`,
//! `WWW-Authenticate`): for the OpenAI endpoints and the gateway's own routes.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::error::{EdgeError, Rejection};
use crate::protocol::{error_summary, openai_error_body, Api};

/// The response for `e`.
pub fn error_response(e: &EdgeError) -> Response {
    let status = e.status();
    let body = match e {
        EdgeError::UpstreamRejected(r) => return rejection(r),
        _ => {
            let (kind, param, code) = parts(e);
            openai_error_body(&e.to_string(), kind, param, code)
        }
    };
    let mut resp = (status, [(header::CONTENT_TYPE, json())], body).into_response();
    retry_headers(e, resp.headers_mut());
    if e.closes_connection() {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

/// The official SDKs wait out a `Retry-After` of up to a minute (newer
/// ones two) before their own retry; past that they back off briefly and
/// retry anyway unless told not to.
const SDK_WAIT: Duration = Duration::from_secs(60);

/// `Retry-After` when a retry may help and, for rate limits and budgets,
/// `retry-after-ms`, which the OpenAI and Anthropic SDKs both read first; a
/// budget that resets in hours also says `x-should-retry: false`.
pub(super) fn retry_headers(e: &EdgeError, headers: &mut HeaderMap) {
    let Some(wait) = e.retry_after() else {
        return;
    };
    // Whole seconds, rounded up: a client must not come back too early.
    let secs = wait.as_millis().div_ceil(1000).max(1) as u64;
    headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    let quota = matches!(e, EdgeError::OverBudget { .. });
    let limited = matches!(
        e,
        EdgeError::RateLimited { .. } | EdgeError::UpstreamRateLimited { .. }
    );
    if quota || limited {
        let ms = wait.as_millis().max(1) as u64;
        headers.insert("retry-after-ms", HeaderValue::from(ms));
    }
    // A budget that resets in hours: retrying in seconds cannot help.
    if quota && wait > SDK_WAIT {
        headers.insert("x-should-retry", HeaderValue::from_static("false"));
    }
}

pub(super) fn json() -> HeaderValue {
    HeaderValue::from_static("application/json")
}

/// An upstream's rejection: as it was sent when it is already an OpenAI
/// error, else rewritten in OpenAI's shape (a native protocol's error, or
/// an HTML page from a relay).
fn rejection(r: &Rejection) -> Response {
    if r.api.is_some_and(openai_shaped) && r.error.is_some() {
        let ct = r.content_type.clone().unwrap_or_else(json);
        return (r.status, [(header::CONTENT_TYPE, ct)], r.body.clone()).into_response();
    }
    (r.status, [(header::CONTENT_TYPE, json())], rewritten(r)).into_response()
}

/// The APIs whose error bodies are OpenAI's shape.
fn openai_shaped(api: Api) -> bool {
    match api {
        Api::ChatCompletions | Api::Responses | Api::Embeddings | Api::Completions => true,
        Api::Messages | Api::CountTokens => false,
    }
}

fn rewritten(r: &Rejection) -> Bytes {
    let (message, kind, code) = match &r.error {
        Some(e) => (e.message.clone(), e.kind.clone(), e.code.clone()),
        None => (fallback_message(r.status, &r.body), None, None),
    };
    let kind = kind.unwrap_or_else(|| openai_type(r.status).to_string());
    Bytes::from(openai_error_body(&message, &kind, None, code.as_deref()))
}

pub(super) fn fallback_message(status: StatusCode, body: &[u8]) -> String {
    let summary = error_summary(body);
    if summary.is_empty() {
        format!("upstream returned HTTP {}", status.as_u16())
    } else {
        summary
    }
}

/// OpenAI's error `type` for a status.
fn openai_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    }
}

/// OpenAI's `type`, `param` and `code` for a gateway error.
fn parts(e: &EdgeError) -> (&'static str, Option<&str>, Option<&'static str>) {
    match e {
        EdgeError::BadRequest { param, code, .. } => {
            ("invalid_request_error", param.as_deref(), *code)
        }
        EdgeError::Unauthorized(_) => ("invalid_request_error", None, Some("invalid_api_key")),
        EdgeError::Forbidden { code, .. } => ("permission_error", None, Some(*code)),
        EdgeError::NotFound { code, .. } => {
            let param = (*code == "model_not_found").then_some("model");
            ("invalid_request_error", param, Some(*code))
        }
        EdgeError::PayloadTooLarge { .. } => {
            ("invalid_request_error", None, Some("request_too_large"))
        }
        EdgeError::RequestTimeout { .. } => {
            ("invalid_request_error", None, Some("request_timeout"))
        }
        EdgeError::ShuttingDown => ("server_error", None, Some("shutting_down")),
        EdgeError::NoBackend(_) => ("server_error", None, Some("no_backend_available")),
        EdgeError::AllBackendsDown { .. } => ("server_error", None, Some("all_backends_down")),
        EdgeError::AllAttemptsFailed {
            timed_out: true, ..
        } => ("server_error", None, Some("upstream_timeout")),
        EdgeError::AllAttemptsFailed { .. } => ("server_error", None, Some("upstream_error")),
        EdgeError::UpstreamRateLimited { .. } => {
            ("rate_limit_error", None, Some("upstream_rate_limited"))
        }
        EdgeError::UpstreamRejected(_) => ("invalid_request_error", None, None),
        EdgeError::RateLimited { kind, .. } => (kind, None, Some("rate_limit_exceeded")),
        EdgeError::OverBudget { .. } => ("insufficient_quota", None, Some("insufficient_quota")),
        EdgeError::StateUnavailable => ("server_error", None, Some("state_unavailable")),
        EdgeError::ResumeUnavailable { param, .. } => (
            "invalid_request_error",
            Some(*param),
            Some("previous_response_unavailable"),
        ),
        EdgeError::Internal(_) => ("server_error", None, Some("internal_error")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{spec, Options};
    use serde_json::{json, Value};

    /// The client's body for an upstream `status` with `body`, from a backend of `kind`.
    fn convert(kind: &str, status: u16, body: &str) -> Value {
        let r = super::super::test_rejection(kind, status, body);
        let resp = rejection(&r);
        assert_eq!(resp.status().as_u16(), status);
        let bytes = match r.error.is_some() && r.api == Some(Api::ChatCompletions) {
            true => r.body.clone(),
            false => rewritten(&r),
        };
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn anthropic_errors_become_openai_shaped() {
        let body = r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}"#;
        assert_eq!(
            convert("anthropic", 400, body),
            json!({"error": {"message": "max_tokens: Field required", "type": "invalid_request_error", "param": null, "code": "invalid_request_error"}})
        );
    }

    #[test]
    fn gemini_errors_become_openai_shaped() {
        let body = r#"{"error":{"code":400,"message":"Invalid JSON payload received.","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(
            convert("gemini", 400, body),
            json!({"error": {"message": "Invalid JSON payload received.", "type": "invalid_request_error", "param": null, "code": "invalid_argument"}})
        );
        let body =
            r#"{"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}}"#;
        assert_eq!(
            convert("gemini", 404, body)["error"]["type"],
            "not_found_error"
        );
    }

    #[test]
    fn unreadable_bodies_still_give_an_openai_error() {
        assert_eq!(
            convert("gemini", 413, "Request Entity Too Large"),
            json!({"error": {"message": "Request Entity Too Large", "type": "invalid_request_error", "param": null, "code": null}})
        );
        assert_eq!(
            convert("anthropic", 422, "")["error"]["message"],
            "upstream returned HTTP 422"
        );
        assert_eq!(
            convert("openai", 404, "<html>not here</html>")["error"]["type"],
            "not_found_error"
        );
    }

    #[test]
    fn openai_bodies_pass_through() {
        for kind in ["openai", "azure"] {
            let table = toml::Table::new();
            let protocol = (spec(kind).unwrap().new)(&mut Options::new(&table));
            let body = Bytes::from_static(b"{\"error\":{\"message\":\"x\"}} ");
            let r = Rejection {
                status: StatusCode::BAD_REQUEST,
                error: protocol.error(&body),
                body: body.clone(),
                content_type: None,
                api: protocol.api(),
            };
            let resp = rejection(&r);
            let got =
                futures_util::FutureExt::now_or_never(axum::body::to_bytes(resp.into_body(), 1024))
                    .unwrap()
                    .unwrap();
            assert_eq!(got, body, "{kind}");
        }
    }
}
