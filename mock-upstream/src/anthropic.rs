//! Anthropic's Messages protocol: `POST /v1/messages`, named SSE events,
//! `{"type":"error","error":{...}}` error bodies.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use serde_json::{json, Value};

use crate::reply::{apply_status_fault, json as reply, whole};
use crate::script::{call_for, text_of, tool_names, Call, Script};
use crate::sse::{self, Event};
use crate::Shared;

pub(crate) async fn messages(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return reply(400, &error_body(400, "body is not JSON"));
    };
    let fault = shared.admit(uri.to_string(), &headers, &req);
    if let Some(resp) = apply_status_fault(&fault, error_body).await {
        return resp;
    }
    // Like the real API: both are required.
    if headers.get("anthropic-version").is_none() {
        return reply(
            400,
            &error_body(400, "anthropic-version: header is required"),
        );
    }
    let Some(max) = req.get("max_tokens").and_then(Value::as_u64) else {
        return reply(400, &error_body(400, "max_tokens: Field required"));
    };
    let (text, tool_results) = last_user(&req);
    let script = Script::new(&shared.config.name, &text, Some(max), shared.config.chunks)
        .with_cached(shared.config.cached_tokens);
    let names = tool_names(req.get("tools"), "/name");
    let reply = Reply {
        model: req
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("mock-model"),
        tool: call_for((!tool_results).then_some(text.as_str()), &names),
        script: &script,
    };
    if req.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        return sse::respond(shared.clone(), reply.stream_events(), fault);
    }
    whole(&fault, &reply.message()).await
}

/// The last message's text (tool results included), and whether it held
/// tool results.
fn last_user(req: &Value) -> (String, bool) {
    let Some(last) = req
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last())
    else {
        return (String::new(), false);
    };
    let Some(blocks) = last.get("content").and_then(Value::as_array) else {
        return (text_of(last.get("content")), false);
    };
    let mut texts = Vec::new();
    let mut results = false;
    for b in blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => texts.push(text_of(b.get("text"))),
            Some("tool_result") => {
                results = true;
                texts.push(text_of(b.get("content")));
            }
            _ => {}
        }
    }
    (texts.join(" "), results)
}

/// Anthropic's error body; 529 is its "overloaded" status.
pub(crate) fn error_body(status: u16, message: &str) -> Value {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

struct Reply<'a> {
    model: &'a str,
    script: &'a Script,
    tool: Option<Call>,
}

impl Reply<'_> {
    fn output_tokens(&self) -> u64 {
        match &self.tool {
            Some(call) => call.fragments.len() as u64,
            None => self.script.completion_tokens(),
        }
    }

    fn stop_reason(&self) -> &'static str {
        match (&self.tool, self.script.truncated) {
            (Some(_), _) => "tool_use",
            (None, true) => "max_tokens",
            (None, false) => "end_turn",
        }
    }

    fn message(&self) -> Value {
        let content = match &self.tool {
            Some(call) => {
                json!([{"type": "tool_use", "id": "toolu_mock1", "name": call.name, "input": call.input()}])
            }
            None => json!([{"type": "text", "text": self.script.text()}]),
        };
        json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": self.model,
            "content": content, "stop_reason": self.stop_reason(), "stop_sequence": null,
            "usage": self.usage(self.output_tokens()),
        })
    }

    /// Anthropic counts cache reads apart from `input_tokens`.
    fn usage(&self, output: u64) -> Value {
        let cached = self.script.cached_tokens;
        json!({"input_tokens": self.script.prompt_tokens - cached, "output_tokens": output,
               "cache_read_input_tokens": cached})
    }

    fn stream_events(&self) -> Vec<Event> {
        let start = json!({"type": "message_start", "message": {
            "id": "msg_mock", "type": "message", "role": "assistant", "model": self.model, "content": [],
            "stop_reason": null, "stop_sequence": null,
            "usage": self.usage(1)}});
        let mut events = vec![Event::named("message_start", &start, false)];
        match &self.tool {
            Some(call) => {
                let block = json!({"type": "content_block_start", "index": 0, "content_block":
                    {"type": "tool_use", "id": "toolu_mock1", "name": call.name, "input": {}}});
                events.push(Event::named("content_block_start", &block, true));
                for fragment in &call.fragments {
                    let delta = json!({"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "input_json_delta", "partial_json": fragment}});
                    events.push(Event::named("content_block_delta", &delta, true));
                }
            }
            None => {
                let block = json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}});
                events.push(Event::named("content_block_start", &block, false));
                events.push(Event::named("ping", &json!({"type": "ping"}), false));
                for token in &self.script.tokens {
                    let delta = json!({"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "text_delta", "text": token}});
                    events.push(Event::named("content_block_delta", &delta, true));
                }
            }
        }
        let stop = json!({"type": "content_block_stop", "index": 0});
        events.push(Event::named("content_block_stop", &stop, false));
        let delta = json!({"type": "message_delta", "delta": {"stop_reason": self.stop_reason(), "stop_sequence": null},
                           "usage": {"output_tokens": self.output_tokens()}});
        events.push(Event::named("message_delta", &delta, false));
        events.push(Event::named(
            "message_stop",
            &json!({"type": "message_stop"}),
            false,
        ));
        events
    }
}
