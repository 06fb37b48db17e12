//! Anthropic clients to Anthropic upstreams: the body goes as the client
//! wrote it (only `model` and `backend` change), and the answer, whole or
//! streamed, comes back as the upstream wrote it, except that `model` names
//! the public model the client asked for (Claude Code drops its thinking
//! blocks from the next turn when the answer names another model).

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use super::AnthropicUsage;
use crate::protocol::members::{json_string, splice, value_span};
use crate::protocol::sse::SseEvent;
use crate::protocol::{
    anthropic_error_body, anthropic_stream_error, error_summary, Answer, Api, EventInfo, Original,
    Request, RequestError, StreamError, StreamTranslator, Upstream, UpstreamRequest, Usage,
};

pub(super) fn build(
    a: &super::Anthropic,
    t: &Upstream,
    req: &Request,
    original: &Original,
) -> Result<UpstreamRequest, RequestError> {
    let path = match req.api {
        Api::CountTokens => "/v1/messages/count_tokens",
        _ => "/v1/messages",
    };
    let mut headers = Vec::with_capacity(3);
    if let Some(key) = t.api_key {
        headers.push(("x-api-key", key.to_string()));
    }
    let version = original.header("anthropic-version").unwrap_or(&a.version);
    headers.push(("anthropic-version", version.to_string()));
    if let Some(beta) = original.header("anthropic-beta") {
        headers.push(("anthropic-beta", beta.to_string()));
    }
    let query = original
        .query
        .as_deref()
        .map_or(String::new(), |q| format!("?{q}"));
    Ok(UpstreamRequest {
        url: format!("{}{path}{query}", t.base_url),
        headers,
        body: original.body_for(t.model),
    })
}

/// `text` with the value of `key` (inside the member `within`, when given)
/// replaced by the JSON string `name`; unchanged when there is none.
fn rename(text: &[u8], within: Option<&str>, name: &str) -> Option<Vec<u8>> {
    let (offset, inner) = match within {
        Some(outer) => {
            let span = value_span(text, outer)?;
            (span.start, &text[span])
        }
        None => (0, text),
    };
    let span = value_span(inner, "model")?;
    let range = offset + span.start..offset + span.end;
    Some(splice(text, &[(range, &json_string(name))]))
}

pub(super) fn answer(req: &Request, body: Bytes) -> Result<Answer, String> {
    #[derive(Deserialize)]
    struct Peek {
        #[serde(default)]
        usage: AnthropicUsage,
    }
    let peek: Peek = serde_json::from_slice(&body)
        .map_err(|e| format!("upstream sent an invalid Anthropic message: {e}"))?;
    if req.api == Api::CountTokens {
        // Counting spends no tokens.
        return Ok(Answer {
            state: None,
            body,
            usage: Some(Usage::default()),
        });
    }
    let body = rename(&body, None, &req.model).map_or(body, Bytes::from);
    Ok(Answer {
        state: None,
        body,
        usage: Some(peek.usage.counts().usage()),
    })
}

/// Relays an Anthropic stream event by event, renaming the model in
/// `message_start` and reading usage and the commit point on the way.
pub(super) struct Relay {
    model: String,
    usage: AnthropicUsage,
    /// The upstream's own `event: error`: a committed stream ends with its
    /// type and words (`overloaded_error` tells the SDKs to retry), not
    /// the gateway's generic `api_error`.
    failed: Option<Failed>,
}

struct Failed {
    kind: String,
    message: String,
}

impl Relay {
    pub fn new(public_model: &str) -> Self {
        Relay {
            model: public_model.to_string(),
            usage: AnthropicUsage::default(),
            failed: None,
        }
    }

    /// Keeps the upstream's error for `broken`; the attempt fails with it.
    fn fail(&mut self, error: Option<Value>) -> StreamError {
        let error = error.unwrap_or_default();
        let body = serde_json::json!({ "error": error });
        let message = error_summary(body.to_string().as_bytes());
        // The type is relayed unscrubbed: only a word like Anthropic's own.
        let kind = error.get("type").and_then(Value::as_str).filter(|k| {
            !k.is_empty() && k.len() <= 64 && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        });
        self.failed = Some(Failed {
            kind: kind.unwrap_or("api_error").to_string(),
            message: message.clone(),
        });
        StreamError::Upstream(message)
    }
}

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    message: Option<Start>,
    #[serde(default)]
    usage: AnthropicUsage,
    content_block: Option<Value>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Start {
    #[serde(default)]
    usage: AnthropicUsage,
}

/// A block start the client sees something in: not an empty text or
/// thinking block, whose content comes in the deltas.
fn has_content(block: &Value) -> bool {
    let empty = |key: &str| block.get(key).and_then(Value::as_str) == Some("");
    match block.get("type").and_then(Value::as_str) {
        Some("text") => !empty("text"),
        Some("thinking") => !empty("thinking"),
        _ => true,
    }
}

impl StreamTranslator for Relay {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<u8>) -> Result<EventInfo, StreamError> {
        let peek: Peek =
            serde_json::from_str(&event.data).map_err(|e| StreamError::Malformed(e.to_string()))?;
        let mut info = EventInfo::default();
        let mut renamed = None;
        match peek.kind.as_ref() {
            "message_start" => {
                let start = peek.message.ok_or_else(|| {
                    StreamError::Malformed("message_start event without its message".into())
                })?;
                self.usage.merge(&start.usage);
                renamed = rename(event.data.as_bytes(), Some("message"), &self.model);
            }
            "content_block_start" => {
                info.content = peek.content_block.is_some_and(|b| has_content(&b))
            }
            "content_block_delta" => info.content = true,
            "message_delta" => {
                self.usage.merge(&peek.usage);
                info.content = true;
                info.usage = Some(self.usage.counts().usage());
            }
            "message_stop" => {
                info.content = true;
                info.done = true;
                info.usage = Some(self.usage.counts().usage());
            }
            "error" => return Err(self.fail(peek.error)),
            _ => {}
        }
        let data = match &renamed {
            Some(bytes) => String::from_utf8_lossy(bytes),
            None => Cow::Borrowed(event.data.as_str()),
        };
        write_event(event.event.as_deref(), &data, out);
        Ok(info)
    }

    fn broken(&mut self, message: &str, out: &mut Vec<u8>) {
        let Some(failed) = self.failed.take() else {
            return anthropic_stream_error(message, out);
        };
        // `message` is the gateway's account of this failure with the
        // provider's secrets scrubbed out: the upstream's words go to the
        // client only if they came through that whole.
        let whole = !failed.message.is_empty() && message.contains(&failed.message);
        let words = if whole { &failed.message } else { message };
        write_event(
            Some("error"),
            &anthropic_error_body(&failed.kind, words),
            out,
        );
    }
}

/// One SSE event as Anthropic writes them; data split over several lines
/// arrives joined by `\n` and gets its `data: ` prefixes back.
fn write_event(name: Option<&str>, data: &str, out: &mut Vec<u8>) {
    if let Some(name) = name {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken_after(error: &str, reason: &str) -> String {
        let mut relay = Relay::new("pub");
        let event = SseEvent {
            event: Some("error".into()),
            data: format!(r#"{{"type":"error","error":{error}}}"#),
        };
        assert!(relay.event(&event, &mut Vec::new()).is_err());
        let mut out = Vec::new();
        relay.broken(reason, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_committed_stream_ends_with_the_upstreams_own_error() {
        let out = broken_after(
            r#"{"type":"overloaded_error","message":"Overloaded"}"#,
            "upstream sent an error event: Overloaded",
        );
        let data = out.strip_prefix("event: error\ndata: ").unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(data.trim_end()).unwrap(),
            serde_json::json!({"type": "error",
                "error": {"type": "overloaded_error", "message": "Overloaded"}})
        );
    }

    #[test]
    fn words_the_gateway_scrubbed_and_odd_types_are_not_relayed() {
        // The gateway redacted the provider's key the upstream echoed.
        let out = broken_after(
            r#"{"type":"Key sk-123","message":"bad key sk-123"}"#,
            "upstream sent an error event: bad key [redacted]",
        );
        assert!(!out.contains("sk-123"), "{out}");
        assert!(out.contains(r#""type":"api_error""#), "{out}");
        assert!(out.contains("bad key [redacted]"), "{out}");
    }
}
