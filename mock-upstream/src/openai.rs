//! The OpenAI chat completions protocol (also served on Azure's deployment path).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Response, StatusCode};
use axum::Json;
use serde_json::{json, Value};

use crate::script::{last_text, Script};
use crate::sse::{self, Event};
use crate::{Fault, Shared};

pub(crate) async fn models(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let data: Vec<Value> = shared
        .config
        .models
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "mock"}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

pub(crate) async fn chat(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "invalid_request_error", "body is not JSON", None);
    };
    let fault = shared.admit(uri.to_string(), &headers, &req);
    if let Some(resp) = apply_status_fault(&fault).await {
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
    );
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_string();
    if req.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        let usage = req
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true);
        return sse::respond(shared.clone(), stream_events(&model, &script, usage), fault);
    }
    if fault.stall_after == Some(0) {
        std::future::pending::<()>().await;
    }
    Json(completion(&model, &script)).into_response_body()
}

/// Sleeps `delay`, then answers the status fault if there is one.
pub(crate) async fn apply_status_fault(fault: &Fault) -> Option<Response<Body>> {
    if !fault.delay.is_zero() {
        tokio::time::sleep(fault.delay).await;
    }
    let status = fault.status?;
    let mut resp = match &fault.body {
        Some(b) => raw(status, b.clone()),
        None => error(
            status,
            error_type(status),
            &format!("mock fault: HTTP {status}"),
            None,
        ),
    };
    if let Some(ra) = &fault.retry_after {
        if let Ok(v) = ra.parse() {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    Some(resp)
}

fn error_type(status: u16) -> &'static str {
    match status {
        401 | 403 => "authentication_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    }
}

fn error(status: u16, kind: &str, message: &str, code: Option<&str>) -> Response<Body> {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    raw(status, body.to_string())
}

fn raw(status: u16, body: String) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_default()
}

trait IntoBody {
    fn into_response_body(self) -> Response<Body>;
}

impl IntoBody for Json<Value> {
    fn into_response_body(self) -> Response<Body> {
        raw(200, self.0.to_string())
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn usage(script: &Script) -> Value {
    let (p, c) = (script.prompt_tokens, script.completion_tokens());
    json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c})
}

fn finish_reason(script: &Script) -> &'static str {
    if script.truncated {
        "length"
    } else {
        "stop"
    }
}

fn completion(model: &str, script: &Script) -> Value {
    json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": now(), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": script.text()},
                     "finish_reason": finish_reason(script)}],
        "usage": usage(script),
    })
}

fn stream_events(model: &str, script: &Script, include_usage: bool) -> Vec<Event> {
    let created = now();
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": created,
               "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut events = vec![Event::data(
        &chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        false,
    )];
    for token in &script.tokens {
        events.push(Event::data(
            &chunk(json!({"content": token}), Value::Null),
            true,
        ));
    }
    events.push(Event::data(
        &chunk(json!({}), json!(finish_reason(script))),
        false,
    ));
    if include_usage {
        let u = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": created,
                       "model": model, "choices": [], "usage": usage(script)});
        events.push(Event::data(&u, false));
    }
    events.push(Event::raw("data: [DONE]\n\n"));
    events
}
