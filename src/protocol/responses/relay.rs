//! Responses upstreams: answers and events relayed as written (reasoning
//! items with `encrypted_content`, built-in tool items and unknown fields
//! survive), read only for what the gateway must know: usage, the end,
//! and errors. The response's `id` is read here too: where a later
//! `previous_response_id` must be routed back to the backend that made it,
//! this is where that backend learns its ids.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::protocol::sse::{write_event, SseEvent};
use crate::protocol::{error_summary, Answer, EventInfo, StreamError, StreamTranslator, Usage};

#[derive(Debug, Default, Deserialize)]
struct Peek {
    #[serde(rename = "type", default)]
    kind: String,
    sequence_number: Option<u64>,
    response: Option<Response>,
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Response {
    id: Option<String>,
    usage: Option<ResponsesUsage>,
    error: Option<Value>,
}

/// Responses' `usage`: `input_tokens` already counts cached ones, and
/// `output_tokens` reasoning, as the gateway's [`Usage`] does.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct ResponsesUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    input_tokens_details: Details,
    #[serde(default)]
    output_tokens_details: Details,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct Details {
    #[serde(default)]
    cached_tokens: u64,
    #[serde(default)]
    reasoning_tokens: u64,
}

impl ResponsesUsage {
    fn usage(self) -> Usage {
        Usage {
            prompt_tokens: self.input_tokens,
            completion_tokens: self.output_tokens,
            cached_tokens: self.input_tokens_details.cached_tokens,
            reasoning_tokens: self.output_tokens_details.reasoning_tokens,
            ..Usage::default()
        }
    }
}

/// A whole answer, as sent, with its usage.
pub(crate) fn answer(body: Bytes) -> Result<Answer, String> {
    let r: Response =
        serde_json::from_slice(&body).map_err(|e| format!("upstream sent invalid JSON: {e}"))?;
    Ok(Answer {
        state: r.id,
        usage: r.usage.map(ResponsesUsage::usage),
        body,
    })
}

/// Relays one Responses stream.
#[derive(Debug, Default)]
pub struct Relay {
    response_id: Option<String>,
    /// The last `sequence_number` seen, so an error event continues it.
    sequence: Option<u64>,
}

impl Relay {
    pub fn new() -> Self {
        Relay::default()
    }
}

fn upstream_error(what: &Value) -> StreamError {
    let body = json!({ "error": what }).to_string();
    StreamError::Upstream(error_summary(body.as_bytes()))
}

impl StreamTranslator for Relay {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<u8>) -> Result<EventInfo, StreamError> {
        let peek: Peek =
            serde_json::from_str(&event.data).map_err(|e| StreamError::Malformed(e.to_string()))?;
        self.sequence = peek.sequence_number.or(self.sequence);
        let response = peek.response.unwrap_or_default();
        if let Some(id) = response.id {
            self.response_id = Some(id);
        }
        let mut info = EventInfo::default();
        match peek.kind.as_str() {
            "error" => return Err(StreamError::Upstream(peek.message.unwrap_or_default())),
            "response.failed" => {
                let error = response
                    .error
                    .unwrap_or_else(|| json!({"message": "response failed"}));
                return Err(upstream_error(&error));
            }
            "response.created" | "response.in_progress" | "response.queued" => {}
            "response.completed" | "response.incomplete" => {
                info.content = true;
                info.done = true;
                info.usage = response.usage.map(ResponsesUsage::usage);
            }
            _ => info.content = true,
        }
        write_event(out, event.event.as_deref(), &event.data);
        Ok(info)
    }

    /// `response.failed`, continuing the upstream's sequence: never a clean end.
    fn broken(&mut self, message: &str, out: &mut Vec<u8>) {
        let response = json!({
            "id": self.response_id, "object": "response", "status": "failed",
            "error": {"code": "server_error", "message": message},
            "incomplete_details": null, "output": [], "usage": null,
        });
        let sequence = self.sequence.map_or(0, |s| s + 1);
        let event =
            json!({"type": "response.failed", "sequence_number": sequence, "response": response});
        write_event(out, Some("response.failed"), &event.to_string());
    }

    fn state(&self) -> Option<String> {
        self.response_id.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(r: &mut Relay, name: &str, data: &str) -> Result<(String, EventInfo), StreamError> {
        let mut out = Vec::new();
        let event = SseEvent {
            event: Some(name.into()),
            data: data.into(),
        };
        let info = r.event(&event, &mut out)?;
        Ok((String::from_utf8(out).unwrap(), info))
    }

    #[test]
    fn relays_as_written_and_reads_the_end() {
        let mut r = Relay::new();
        let created = r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","x_new":1}}"#;
        let (out, info) = feed(&mut r, "response.created", created).unwrap();
        assert_eq!(out, format!("event: response.created\ndata: {created}\n\n"));
        assert!(!info.content);
        let item = "{\"type\":\"response.output_item.added\",\"sequence_number\":1,\n\"item\":{\"type\":\"reasoning\",\"encrypted_content\":\"e\"}}";
        let (out, info) = feed(&mut r, "response.output_item.added", item).unwrap();
        assert!(
            info.content && out.contains("data: {\"type\"") && out.contains("\ndata: \"item\"")
        );
        let done = r#"{"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","usage":{"input_tokens":7,"output_tokens":3,"input_tokens_details":{"cached_tokens":2}}}}"#;
        let (_, info) = feed(&mut r, "response.completed", done).unwrap();
        assert!(info.done);
        assert_eq!(
            info.usage,
            Some(Usage {
                prompt_tokens: 7,
                completion_tokens: 3,
                cached_tokens: 2,
                ..Usage::default()
            })
        );
        let mut out = Vec::new();
        r.broken("cut", &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("event: response.failed\ndata: "), "{text}");
        assert!(text.contains("\"sequence_number\":3") && text.contains("\"id\":\"resp_1\""));
    }

    #[test]
    fn error_events_fail_the_stream() {
        let mut r = Relay::new();
        let e = feed(
            &mut r,
            "error",
            r#"{"type":"error","code":"x","message":"overloaded"}"#,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "upstream sent an error event: overloaded");
        let failed = r#"{"type":"response.failed","response":{"error":{"code":"server_error","message":"boom"}}}"#;
        assert!(feed(&mut r, "response.failed", failed)
            .unwrap_err()
            .to_string()
            .ends_with("boom"));
        assert!(matches!(
            feed(&mut r, "x", "{"),
            Err(StreamError::Malformed(_))
        ));
    }
}
