//! Upstream error bodies: what each protocol's shape says, read into one
//! form the endpoints can write in theirs, and OpenAI's own error shape.

use serde::Deserialize;
use serde_json::json;

/// An upstream error as its body explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    pub message: String,
    /// The error's type in the upstream's terms (`invalid_request_error`).
    pub kind: Option<String>,
    pub code: Option<String>,
    pub param: Option<String>,
}

/// OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`.
pub fn openai_error_body(
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> String {
    json!({"error": {"message": message, "type": kind, "param": param, "code": code}}).to_string()
}

/// The event that ends a broken OpenAI stream: an error chunk, no `[DONE]`.
pub fn openai_stream_error(message: &str, out: &mut Vec<u8>) {
    let body = openai_error_body(message, "server_error", None, Some("stream_broken"));
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(body.as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// Anthropic's error body: `{"type": "error", "error": {"type", "message"}}`.
pub fn anthropic_error_body(kind: &str, message: &str) -> String {
    json!({"type": "error", "error": {"type": kind, "message": message}}).to_string()
}

/// The event that ends a broken Anthropic stream: `event: error`, never
/// `message_stop`.
pub fn anthropic_stream_error(message: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"event: error\ndata: ");
    out.extend_from_slice(anthropic_error_body("api_error", message).as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// `{"error": {"message", "type", "param", "code"}}`, as OpenAI and its
/// relays write it: any object under `error` is one, whatever it holds.
pub(super) fn openai_error(body: &[u8]) -> Option<UpstreamError> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?.as_object()?;
    let text = |key: &str| match e.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    };
    Some(UpstreamError {
        message: text("message").unwrap_or_default(),
        kind: text("type"),
        code: text("code"),
        param: text("param"),
    })
}

/// A short, secret-free reason from an upstream error body, for logs and 502 messages.
pub fn error_summary(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Outer {
        error: Inner,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Inner {
        Object { message: String },
        Text(String),
    }
    let message = match serde_json::from_slice::<Outer>(body) {
        Ok(Outer {
            error: Inner::Object { message } | Inner::Text(message),
        }) => message,
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let mut short: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if short.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|&i| short.is_char_boundary(i))
            .unwrap_or(0);
        short.truncate(cut);
        short.push('…');
    }
    short
}
