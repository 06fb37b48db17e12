//! Google's Gemini protocol: `POST /v1beta/models/{model}:generateContent`,
//! `:streamGenerateContent?alt=sse` and `:batchEmbedContents`, `{"error":{"code","message","status"}}`
//! error bodies.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Response};
use serde_json::{json, Value};

use crate::reply::{apply_status_fault, json as reply, whole};
use crate::script::{call_for, text_of, tool_names, Call, Script};
use crate::sse::{self, Event};
use crate::Shared;

pub(crate) async fn models(
    State(shared): State<Arc<Shared>>,
    Path(rest): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let Some((model, method)) = rest.rsplit_once(':') else {
        return reply(404, &error_body(404, "expected models/{model}:{method}"));
    };
    let stream = match method {
        "generateContent" | "batchEmbedContents" => false,
        "streamGenerateContent" => true,
        _ => return reply(404, &error_body(404, &format!("unknown method {method:?}"))),
    };
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return reply(400, &error_body(400, "Invalid JSON payload received."));
    };
    let fault = shared.admit(uri.to_string(), &headers, &req);
    if let Some(resp) = apply_status_fault(&fault, error_body).await {
        return resp;
    }
    if method == "batchEmbedContents" {
        return crate::embeddings::gemini(&req, &fault).await;
    }
    // Without alt=sse Gemini streams one JSON array; the gateway never asks for it.
    if stream
        && !uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "alt=sse"))
    {
        return reply(400, &error_body(400, "the mock streams only with alt=sse"));
    }
    let max = req
        .pointer("/generationConfig/maxOutputTokens")
        .and_then(Value::as_u64);
    let (text, responses) = last_user(&req);
    let script = Script::new(&shared.config.name, &text, max, shared.config.chunks)
        .with_cached(shared.config.cached_tokens);
    let names = tool_names(req.pointer("/tools/0/functionDeclarations"), "/name");
    let reply = Reply {
        model,
        tool: call_for((!responses).then_some(text.as_str()), &names),
        script: &script,
    };
    if stream {
        return sse::respond(shared.clone(), reply.stream_events(), fault);
    }
    whole(&fault, &reply.response()).await
}

/// The last content's text (function responses included), and whether it
/// held function responses.
fn last_user(req: &Value) -> (String, bool) {
    let parts = req
        .get("contents")
        .and_then(Value::as_array)
        .and_then(|c| c.last())
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array);
    let mut texts = Vec::new();
    let mut responses = false;
    for p in parts.into_iter().flatten() {
        if let Some(r) = p.get("functionResponse") {
            responses = true;
            texts.push(text_of(r.pointer("/response/content")));
        } else if p.get("text").is_some() {
            texts.push(text_of(p.get("text")));
        }
    }
    (texts.join(" "), responses)
}

/// Gemini's error body, with the gRPC status name Google uses for the code.
pub(crate) fn error_body(status: u16, message: &str) -> Value {
    let name = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    };
    json!({"error": {"code": status, "message": message, "status": name}})
}

struct Reply<'a> {
    model: &'a str,
    script: &'a Script,
    tool: Option<Call>,
}

impl Reply<'_> {
    fn usage(&self) -> Value {
        let p = self.script.prompt_tokens;
        let c = if self.tool.is_some() {
            2
        } else {
            self.script.completion_tokens()
        };
        let cached = self.script.cached_tokens;
        json!({"promptTokenCount": p, "candidatesTokenCount": c, "totalTokenCount": p + c,
               "cachedContentTokenCount": cached})
    }

    fn finish_reason(&self) -> &'static str {
        if self.tool.is_none() && self.script.truncated {
            "MAX_TOKENS"
        } else {
            "STOP"
        }
    }

    fn event(&self, parts: Value, finish: Option<&str>, usage: Value) -> Value {
        let mut cand = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(f) = finish {
            cand["finishReason"] = f.into();
        }
        json!({"candidates": [cand], "usageMetadata": usage, "modelVersion": self.model, "responseId": "mock-response"})
    }

    fn parts(&self) -> Value {
        match &self.tool {
            Some(call) => json!([{"functionCall": {"name": call.name, "args": call.input()}}]),
            None => json!([{"text": self.script.text()}]),
        }
    }

    fn response(&self) -> Value {
        self.event(self.parts(), Some(self.finish_reason()), self.usage())
    }

    /// One event per token (or one with the whole function call), then a
    /// last event with the finish reason and usage, as Gemini sends them.
    fn stream_events(&self) -> Vec<Event> {
        let prompt = json!({"promptTokenCount": self.script.prompt_tokens});
        let mut events = Vec::new();
        match &self.tool {
            Some(_) => events.push(Event::data(&self.event(self.parts(), None, prompt), true)),
            None => {
                for token in &self.script.tokens {
                    let e = self.event(json!([{"text": token}]), None, prompt.clone());
                    events.push(Event::data(&e, true));
                }
            }
        }
        let last = self.event(
            json!([{"text": ""}]),
            Some(self.finish_reason()),
            self.usage(),
        );
        events.push(Event::data(&last, false));
        events
    }
}
