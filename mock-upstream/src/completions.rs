//! OpenAI's legacy text completions: `POST /v1/completions` (and Azure's
//! deployment path), whole or streamed as `text_completion` chunks.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use serde_json::{json, Value};

use crate::reply::{now, openai_request, whole};
use crate::script::{text_of, Script};
use crate::sse::{self, Event};
use crate::Shared;

pub(crate) async fn completions(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let (req, fault) = match openai_request(&shared, &uri, &headers, body).await {
        Ok(started) => started,
        Err(resp) => return resp,
    };
    let prompt = match req.get("prompt") {
        Some(Value::Array(p)) => p
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        p => text_of(p),
    };
    let max = req.get("max_tokens").and_then(Value::as_u64);
    let script = Script::new(&shared.config.name, &prompt, max, shared.config.chunks);
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model");
    let finish = if script.truncated { "length" } else { "stop" };
    let (p, c) = (script.prompt_tokens, script.completion_tokens());
    let usage = json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c});
    let chunk = |text: &str, finish: Value| {
        json!({"id": "cmpl-mock", "object": "text_completion", "created": now(), "model": model,
               "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}]})
    };
    if !req.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        let mut body = chunk(&script.text(), finish.into());
        body["usage"] = usage;
        return whole(&fault, &body).await;
    }
    let mut events: Vec<Event> = script
        .tokens
        .iter()
        .map(|t| Event::data(&chunk(t, Value::Null), true))
        .collect();
    events.push(Event::data(&chunk("", finish.into()), false));
    if req.pointer("/stream_options/include_usage") == Some(&Value::Bool(true)) {
        let mut u = chunk("", Value::Null);
        (u["choices"], u["usage"]) = (json!([]), usage);
        events.push(Event::data(&u, false));
    }
    events.push(Event::raw("data: [DONE]\n\n"));
    sse::respond(shared.clone(), events, fault)
}
