//! The OpenAI chat completions protocol (also served on Azure's deployment path).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use crate::reply::{apply_status_fault, json as reply, now, whole, with_retry_after};
use crate::script::{last_message, last_text, tool_names, tool_to_call, Call, Script};
use crate::sse::{self, Event};
use crate::Shared;

/// The model list. A backend whose every request fails (a status fault set
/// on the server, not `fail_first`) fails this too, as a dead upstream would.
pub(crate) async fn models(State(shared): State<Arc<Shared>>) -> Response<Body> {
    let fault = shared.current_fault();
    if let (Some(status), None) = (fault.status, fault.fail_first) {
        let body = error_body(status, &format!("mock fault: HTTP {status}"));
        return with_retry_after(reply(status, &body), &fault);
    }
    let data: Vec<Value> = shared
        .config
        .models
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "mock"}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

const TOOL_CALL_ID: &str = "call_mock1";

pub(crate) async fn chat(
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
    let max = req
        .get("max_completion_tokens")
        .or_else(|| req.get("max_tokens"))
        .and_then(Value::as_u64);
    let script = Script::new(
        &shared.config.name,
        &last_text(req.get("messages")),
        max,
        shared.config.chunks,
    )
    .with_cached(shared.config.cached_tokens);
    let reply = Reply {
        model: req
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("mock-model"),
        script: &script,
        tool: tool(&req),
    };
    if req.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        let usage = req
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true);
        return sse::respond(shared.clone(), reply.stream_events(usage), fault);
    }
    whole(&fault, &reply.completion()).await
}

/// The tool to call, by the last message (the user's, or a tool result).
fn tool(req: &Value) -> Option<Call> {
    let last = last_message(req.get("messages"))?;
    let after_results = match last.get("role")?.as_str()? {
        "user" => false,
        "tool" => true,
        _ => return None,
    };
    let tools = tool_names(req.get("tools"), "/function/name");
    let text = crate::script::text_of(last.get("content"));
    tool_to_call(&text, after_results, &tools)
}

/// An OpenAI error body, typed by status as OpenAI does.
pub(crate) fn error_body(status: u16, message: &str) -> Value {
    let kind = match status {
        401 | 403 => "authentication_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
}

struct Reply<'a> {
    model: &'a str,
    script: &'a Script,
    tool: Option<Call>,
}

impl Reply<'_> {
    fn usage(&self) -> Value {
        let p = self.script.prompt_tokens;
        let c = match &self.tool {
            Some(call) => call.tokens(),
            None => self.script.completion_tokens(),
        };
        let cached = self.script.cached_tokens;
        json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c,
               "prompt_tokens_details": {"cached_tokens": cached}})
    }

    fn finish_reason(&self) -> &'static str {
        match (&self.tool, self.script.truncated) {
            (Some(_), _) => "tool_calls",
            (None, true) => "length",
            (None, false) => "stop",
        }
    }

    fn completion(&self) -> Value {
        let message = match &self.tool {
            Some(call) => json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": TOOL_CALL_ID, "type": "function", "function": {"name": call.name, "arguments": call.arguments()}}]}),
            None => json!({"role": "assistant", "content": self.script.text()}),
        };
        json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": now(), "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason()}],
            "usage": self.usage(),
        })
    }

    /// Role chunk, content (text tokens, or a tool call start then argument
    /// fragments), finish chunk, optional usage chunk, `[DONE]`.
    fn stream_events(&self, include_usage: bool) -> Vec<Event> {
        let created = now();
        let chunk = |delta: Value, finish: Value| {
            json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": created,
                   "model": self.model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        };
        let mut events = vec![Event::data(
            &chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            false,
        )];
        match &self.tool {
            Some(call) => {
                let start = json!({"tool_calls": [{"index": 0, "id": TOOL_CALL_ID, "type": "function",
                                                   "function": {"name": call.name, "arguments": ""}}]});
                events.push(Event::data(&chunk(start, Value::Null), true));
                for fragment in &call.fragments {
                    let delta =
                        json!({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]});
                    events.push(Event::data(&chunk(delta, Value::Null), true));
                }
            }
            None => {
                for token in &self.script.tokens {
                    events.push(Event::data(
                        &chunk(json!({"content": token}), Value::Null),
                        true,
                    ));
                }
            }
        }
        events.push(Event::data(
            &chunk(json!({}), json!(self.finish_reason())),
            false,
        ));
        if include_usage {
            let u = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": created,
                           "model": self.model, "choices": [], "usage": self.usage()});
            events.push(Event::data(&u, false));
        }
        events.push(Event::raw("data: [DONE]\n\n"));
        events
    }
}
