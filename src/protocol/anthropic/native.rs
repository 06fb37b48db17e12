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
    anthropic_stream_error, error_summary, Answer, Api, EventInfo, Original, Request, RequestError,
    StreamError, StreamTranslator, Upstream, UpstreamRequest, Usage,
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
}

impl Relay {
    pub fn new(public_model: &str) -> Self {
        Relay {
            model: public_model.to_string(),
            usage: AnthropicUsage::default(),
        }
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
            "error" => {
                let body = serde_json::json!({ "error": peek.error.unwrap_or_default() });
                return Err(StreamError::Upstream(error_summary(
                    body.to_string().as_bytes(),
                )));
            }
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
        anthropic_stream_error(message, out);
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
