//! Upstream error bodies in OpenAI's shape, for the client errors the
//! gateway passes back: `{"error":{"message","type","param","code"}}`.

use axum::http::StatusCode;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use crate::config::BackendType;

/// True for `{"error": {...}}`, the shape OpenAI clients parse.
pub fn is_openai_error(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v["error"].is_object())
}

/// The body to give the client for an upstream client error (4xx). OpenAI
/// and Azure bodies in OpenAI's shape pass through untouched; native ones,
/// and anything else a relay sent (an HTML 404 page), are rewritten.
pub fn client_error_body(kind: BackendType, status: StatusCode, body: Bytes) -> Bytes {
    let (message, kind_name, code) = match kind {
        BackendType::OpenAi | BackendType::Azure if is_openai_error(&body) => return body,
        BackendType::OpenAi | BackendType::Azure => None,
        BackendType::Anthropic => anthropic(&body),
        BackendType::Gemini => gemini(&body),
    }
    .unwrap_or_else(|| (fallback_message(status, &body), None, None));
    let kind_name = kind_name.unwrap_or_else(|| openai_type(status).to_string());
    let out =
        json!({"error": {"message": message, "type": kind_name, "param": null, "code": code}});
    Bytes::from(out.to_string())
}

type Parts = (String, Option<String>, Option<String>);

/// `{"type":"error","error":{"type":"invalid_request_error","message":"..."}}`:
/// Anthropic's error types mostly share OpenAI's names, so the type is kept.
fn anthropic(body: &[u8]) -> Option<Parts> {
    #[derive(Deserialize)]
    struct Outer {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(rename = "type")]
        kind: Option<String>,
        message: String,
    }
    let e = serde_json::from_slice::<Outer>(body).ok()?.error;
    Some((e.message, e.kind, None))
}

/// `{"error":{"code":400,"message":"...","status":"INVALID_ARGUMENT"}}`:
/// the gRPC status becomes the `code`, lower-cased as OpenAI's codes are.
fn gemini(body: &[u8]) -> Option<Parts> {
    #[derive(Deserialize)]
    struct Outer {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        message: String,
        status: Option<String>,
    }
    let e = serde_json::from_slice::<Outer>(body).ok()?.error;
    Some((e.message, None, e.status.map(|s| s.to_ascii_lowercase())))
}

fn fallback_message(status: StatusCode, body: &[u8]) -> String {
    let summary = super::error_summary(body);
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn convert(kind: BackendType, status: u16, body: &str) -> Value {
        let status = StatusCode::from_u16(status).unwrap();
        let out = client_error_body(kind, status, Bytes::from(body.to_string()));
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn anthropic_errors_become_openai_shaped() {
        let body = r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}"#;
        assert_eq!(
            convert(BackendType::Anthropic, 400, body),
            json!({"error": {"message": "max_tokens: Field required", "type": "invalid_request_error", "param": null, "code": null}})
        );
    }

    #[test]
    fn gemini_errors_become_openai_shaped() {
        let body = r#"{"error":{"code":400,"message":"Invalid JSON payload received.","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(
            convert(BackendType::Gemini, 400, body),
            json!({"error": {"message": "Invalid JSON payload received.", "type": "invalid_request_error", "param": null, "code": "invalid_argument"}})
        );
        let body =
            r#"{"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}}"#;
        assert_eq!(
            convert(BackendType::Gemini, 404, body)["error"]["type"],
            "not_found_error"
        );
    }

    #[test]
    fn unreadable_bodies_still_give_an_openai_error() {
        assert_eq!(
            convert(BackendType::Gemini, 413, "Request Entity Too Large"),
            json!({"error": {"message": "Request Entity Too Large", "type": "invalid_request_error", "param": null, "code": null}})
        );
        assert_eq!(
            convert(BackendType::Anthropic, 422, "")["error"]["message"],
            "upstream returned HTTP 422"
        );
    }

    #[test]
    fn openai_bodies_pass_through() {
        let status = StatusCode::BAD_REQUEST;
        let body = Bytes::from_static(b"{\"error\":{\"message\":\"x\"}} ");
        assert_eq!(
            client_error_body(BackendType::OpenAi, status, body.clone()),
            body
        );
        assert_eq!(
            client_error_body(BackendType::Azure, status, body.clone()),
            body
        );
    }
}
