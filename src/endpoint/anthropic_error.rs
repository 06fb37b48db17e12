//! Anthropic's error shape, `{"type": "error", "error": {"type", "message"}}`,
//! with the status each of its types goes with: the Anthropic SDKs raise
//! their typed exceptions by status.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::openai_error::{fallback_message, json, retry_headers};
use crate::error::{EdgeError, Rejection};
use crate::protocol::{anthropic_error_body, Api};

/// The error types Anthropic documents.
const TYPES: &[&str] = &[
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "overloaded_error",
];

/// The response for `e`.
pub fn error_response(e: &EdgeError) -> Response {
    if let EdgeError::UpstreamRejected(r) = e {
        return rejection(r);
    }
    let status = e.status();
    let kind = match e {
        EdgeError::AllBackendsDown { .. } | EdgeError::NoBackend(_) => "overloaded_error",
        _ => by_status(status),
    };
    let body = anthropic_error_body(kind, &e.to_string());
    let mut resp = (status, [(header::CONTENT_TYPE, json())], body).into_response();
    retry_headers(e, resp.headers_mut());
    resp
}

/// Anthropic's error `type` for a status.
fn by_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// An upstream's rejection: as it was sent when it is already an Anthropic
/// error, else rewritten in Anthropic's shape, keeping the upstream's type
/// when it is one of Anthropic's (OpenAI's mostly are).
fn rejection(r: &Rejection) -> Response {
    if r.api == Some(Api::Messages) && r.error.is_some() {
        let ct = r.content_type.clone().unwrap_or_else(json);
        return (r.status, [(header::CONTENT_TYPE, ct)], r.body.clone()).into_response();
    }
    let (message, kind) = match &r.error {
        Some(e) => (e.message.clone(), e.kind.as_deref()),
        None => (fallback_message(r.status, &r.body), None),
    };
    let kind = kind
        .filter(|k| TYPES.contains(k))
        .unwrap_or_else(|| by_status(r.status));
    let body = anthropic_error_body(kind, &message);
    (r.status, [(header::CONTENT_TYPE, json())], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn body_of(resp: Response) -> Value {
        let bytes =
            futures_util::FutureExt::now_or_never(axum::body::to_bytes(resp.into_body(), 1 << 16))
                .unwrap()
                .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn rejected(kind: &str, status: u16, body: &str) -> (u16, Value) {
        let resp = rejection(&super::super::test_rejection(kind, status, body));
        (resp.status().as_u16(), body_of(resp))
    }

    #[test]
    fn gateway_errors_take_anthropic_types_by_status() {
        let cases = [
            (
                EdgeError::bad_request("bad", None, None),
                400,
                "invalid_request_error",
            ),
            (EdgeError::Unauthorized("no"), 401, "authentication_error"),
            (EdgeError::NoBackend("none".into()), 503, "overloaded_error"),
            (EdgeError::Internal("x".into()), 500, "api_error"),
            (
                EdgeError::PayloadTooLarge { limit: 1 },
                413,
                "request_too_large",
            ),
        ];
        for (e, status, kind) in cases {
            let resp = error_response(&e);
            assert_eq!(resp.status().as_u16(), status);
            let body = body_of(resp);
            assert_eq!(body["type"], "error");
            assert_eq!(body["error"]["type"], kind, "{e}");
            assert_eq!(body["error"]["message"], e.to_string());
        }
    }

    #[test]
    fn an_upstream_429_is_a_rate_limit_with_its_wait_and_a_timeout_a_504() {
        let limited = EdgeError::UpstreamRateLimited {
            message: "every backend answered 429".into(),
            retry_after: std::time::Duration::from_millis(2500),
        };
        let resp = error_response(&limited);
        assert_eq!(resp.status().as_u16(), 429);
        assert_eq!(resp.headers()["retry-after"], "3");
        assert_eq!(resp.headers()["retry-after-ms"], "2500");
        assert_eq!(body_of(resp)["error"]["type"], "rate_limit_error");
        let timed_out = EdgeError::AllAttemptsFailed {
            message: "timed out".into(),
            timed_out: true,
        };
        let resp = error_response(&timed_out);
        assert_eq!(resp.status().as_u16(), 504);
        assert!(resp.headers().get("retry-after").is_none());
        assert_eq!(body_of(resp)["error"]["type"], "api_error");
    }

    #[test]
    fn upstream_rejections_pass_or_are_rewritten() {
        let anthropic =
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"m","x":1}}"#;
        let (status, body) = rejected("anthropic", 400, anthropic);
        assert_eq!(
            (status, body),
            (400, serde_json::from_str(anthropic).unwrap())
        );
        let openai = r#"{"error":{"message":"bad tool","type":"invalid_request_error","param":"tools","code":null}}"#;
        assert_eq!(
            rejected("openai", 400, openai).1,
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "bad tool"}})
        );
        let gemini = r#"{"error":{"code":404,"message":"no model","status":"NOT_FOUND"}}"#;
        assert_eq!(
            rejected("gemini", 404, gemini).1["error"]["type"],
            "not_found_error"
        );
        assert_eq!(
            rejected("openai", 422, "").1["error"]["message"],
            "upstream returned HTTP 422"
        );
    }
}
