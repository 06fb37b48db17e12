//! Anthropic's Messages protocol: `POST /v1/messages` (named SSE events),
//! `POST /v1/messages/count_tokens`, `{"type":"error","error":{...}}` error
//! bodies, the API's refusals (`anthropic_rules`). Bodies are recorded with
//! their bytes, so tests can check what reached the upstream byte for byte.
//! With `thinking` on it thinks first, in a signed block (`anthropic_reply`).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use serde_json::{json, Value};

use crate::anthropic_reply::{Reply, Thought};
use crate::reply::{apply_status_fault, json as reply, whole};
use crate::script::{last_message, text_of, tool_names, tool_to_call, Script};
use crate::sse;
use crate::Shared;

/// Reads and records a request; answers the faults, a missing
/// `anthropic-version` (the real API requires it) and a thinking block
/// whose signature is not the one this mock gave it.
async fn admit(
    shared: &Shared,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(Value, crate::Fault), Response<Body>> {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return Err(reply(400, &error_body(400, "body is not JSON")));
    };
    let fault = shared.admit_raw(uri.to_string(), headers, body, &req);
    if let Some(resp) = apply_status_fault(&fault, error_body).await {
        return Err(resp);
    }
    if headers.get("anthropic-version").is_none() {
        let message = "anthropic-version: header is required";
        return Err(reply(400, &error_body(400, message)));
    }
    if let Err(message) = crate::anthropic_rules::signatures(&req) {
        return Err(reply(400, &error_body(400, &message)));
    }
    Ok((req, fault))
}

pub(crate) async fn messages(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let (req, fault) = match admit(&shared, &uri, &headers, body).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let Some(max) = req.get("max_tokens").and_then(Value::as_u64) else {
        return reply(400, &error_body(400, "max_tokens: Field required"));
    };
    if let Err(message) = crate::anthropic_rules::check(&req) {
        return reply(400, &error_body(400, &message));
    }
    let (text, tool_results) = last_user(&req);
    let script = Script::new(&shared.config.name, &text, Some(max), shared.config.chunks)
        .with_cached(shared.config.cached_tokens);
    let tools = tool_names(req.get("tools"), "/name");
    let thinks = matches!(
        req.pointer("/thinking/type").and_then(Value::as_str),
        Some("enabled" | "adaptive")
    );
    let reply = Reply {
        model: req
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("mock-model"),
        tool: tool_to_call(&text, tool_results, &tools),
        script: &script,
        thought: thinks.then(|| Thought::about(&text, tool_results_in(&req))),
    };
    if req.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        return sse::respond(shared.clone(), reply.stream_events(), fault);
    }
    whole(&fault, &reply.message()).await
}

/// Counts words, as the mock's usage does.
pub(crate) async fn count_tokens(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let (req, _) = match admit(&shared, &uri, &headers, body).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let (text, _) = last_user(&req);
    let script = Script::new(&shared.config.name, &text, None, None);
    reply(200, &json!({"input_tokens": script.prompt_tokens}))
}

/// The last user message's text (tool results included), and whether it
/// held tool results.
fn last_user(req: &Value) -> (String, bool) {
    let Some(last) = last_message(req.get("messages")) else {
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

/// How many tool results the conversation holds: which step this is.
fn tool_results_in(req: &Value) -> usize {
    let list = req.get("messages").and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .filter_map(|m| m.get("content").and_then(Value::as_array))
        .flatten()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        .count()
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
