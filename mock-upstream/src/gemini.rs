//! Google's Gemini protocol: `POST /v1beta/models/{model}:generateContent`
//! and `:streamGenerateContent?alt=sse` and `:batchEmbedContents`,
//! `{"error":{"code","message","status"}}`
//! error bodies. Like Gemini's thinking models it signs its function calls
//! and its text (`thoughtSignature`, `sig-call-K` / `sig-text-K` after K
//! function responses), shows a thought summary when asked
//! (`thinkingConfig.includeThoughts`), and answers a JSON schema with an
//! instance of it.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Response};
use serde_json::{json, Value};

use crate::reply::{apply_status_fault, json as reply, whole};
use crate::script::{text_of, tool_names, tool_to_call, words, Call, Script};
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
    if let Err(message) = check_contents(&req) {
        return reply(400, &error_body(400, &message));
    }
    let max = req
        .pointer("/generationConfig/maxOutputTokens")
        .and_then(Value::as_u64);
    let (text, responses) = last_user(&req);
    let schema = req
        .pointer("/generationConfig/responseJsonSchema")
        .or_else(|| req.pointer("/generationConfig/responseSchema"));
    let script = match schema {
        Some(s) => Script::whole(crate::example::instance(s).to_string(), &text),
        None => Script::new(&shared.config.name, &text, max, shared.config.chunks),
    }
    .with_cached(shared.config.cached_tokens);
    let tools = tool_names(req.pointer("/tools/0/functionDeclarations"), "/name");
    let thinks =
        req.pointer("/generationConfig/thinkingConfig/includeThoughts") == Some(&json!(true));
    let reply = Reply {
        model,
        tool: tool_to_call(&text, responses, &tools),
        script: &script,
        step: function_responses(&req),
        thought: thinks.then(|| format!("Thinking about: {text}")),
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

/// Like Gemini: some contents, each with parts, no empty text.
fn check_contents(req: &Value) -> Result<(), String> {
    let contents = req.get("contents").and_then(Value::as_array);
    let contents = contents.map(Vec::as_slice).unwrap_or(&[]);
    if contents.is_empty() {
        return Err("* GenerateContentRequest.contents: contents is not specified".to_string());
    }
    for (i, c) in contents.iter().enumerate() {
        let parts = c.get("parts").and_then(Value::as_array);
        let parts = parts.map(Vec::as_slice).unwrap_or(&[]);
        if parts.is_empty() {
            return Err(format!(
                "* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
            ));
        }
        if parts.iter().any(|p| p.get("text") == Some(&json!(""))) {
            return Err("Unable to submit request because it has an empty text parameter. Add a value to the parameter and try again.".to_string());
        }
    }
    Ok(())
}

/// How many function responses the conversation holds: which step this is.
fn function_responses(req: &Value) -> usize {
    let contents = req.get("contents").and_then(Value::as_array);
    contents
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("parts").and_then(Value::as_array))
        .flatten()
        .filter(|p| p.get("functionResponse").is_some())
        .count()
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
    step: usize,
    /// The thought summary, when the request asked for thoughts.
    thought: Option<String>,
}

impl Reply<'_> {
    fn usage(&self) -> Value {
        let p = self.script.prompt_tokens;
        let c = match &self.tool {
            Some(call) => call.tokens(),
            None => self.script.completion_tokens(),
        };
        let cached = self.script.cached_tokens;
        let mut u = json!({"promptTokenCount": p, "candidatesTokenCount": c, "totalTokenCount": p + c,
               "cachedContentTokenCount": cached});
        if let Some(t) = &self.thought {
            let thoughts = words(t);
            u["thoughtsTokenCount"] = thoughts.into();
            u["totalTokenCount"] = (p + c + thoughts).into();
        }
        u
    }

    fn thought_part(&self) -> Option<Value> {
        self.thought
            .as_ref()
            .map(|t| json!({"text": t, "thought": true}))
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

    /// The function call, signed, as Gemini's thinking models send it.
    fn call_part(&self, call: &Call) -> Value {
        json!({"functionCall": {"name": call.name, "args": call.input()},
               "thoughtSignature": format!("sig-call-{}", self.step)})
    }

    fn text_signature(&self) -> String {
        format!("sig-text-{}", self.step)
    }

    fn parts(&self) -> Value {
        let mut parts: Vec<Value> = self.thought_part().into_iter().collect();
        match &self.tool {
            Some(call) => parts.push(self.call_part(call)),
            None => parts.push(
                json!({"text": self.script.text(), "thoughtSignature": self.text_signature()}),
            ),
        }
        Value::Array(parts)
    }

    fn response(&self) -> Value {
        self.event(self.parts(), Some(self.finish_reason()), self.usage())
    }

    /// The thought (if any), one event per token (or one with the whole
    /// function call), then a last event with the finish reason, usage and
    /// (for text) the signature on an empty part, as Gemini sends them.
    fn stream_events(&self) -> Vec<Event> {
        let prompt = json!({"promptTokenCount": self.script.prompt_tokens});
        let mut events = Vec::new();
        if let Some(t) = self.thought_part() {
            events.push(Event::data(
                &self.event(json!([t]), None, prompt.clone()),
                false,
            ));
        }
        let mut last_part = json!({"text": ""});
        match &self.tool {
            Some(call) => {
                let e = self.event(json!([self.call_part(call)]), None, prompt);
                events.push(Event::data(&e, true));
            }
            None => {
                for token in &self.script.tokens {
                    let e = self.event(json!([{"text": token}]), None, prompt.clone());
                    events.push(Event::data(&e, true));
                }
                last_part["thoughtSignature"] = self.text_signature().into();
            }
        }
        let last = self.event(json!([last_part]), Some(self.finish_reason()), self.usage());
        events.push(Event::data(&last, false));
        events
    }
}
