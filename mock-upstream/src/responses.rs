//! OpenAI's Responses API: `POST /v1/responses` (and Azure's
//! `/openai/v1/responses`), the whole `response` object or its event
//! sequence with `sequence_number`s, function calls, and a reasoning item
//! with `encrypted_content` when `include` asks for it. Reasoning sealed by
//! another mock is refused, as OpenAI refuses what it cannot decrypt.
//! Each response has its own id (`resp_NAME_N`, the mock's Nth request),
//! and a `previous_response_id` another mock issued is refused with
//! OpenAI's `previous_response_not_found`: responses are stored per account.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use base64::Engine;
use serde_json::{json, Value};

use crate::openai::error_body;
use crate::reply::{json as reply, now, openai_request, whole};
use crate::script::{text_of, tool_to_call, Call, Script};
use crate::sse::{self, Event};
use crate::Shared;

pub(crate) async fn responses(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let (req, fault) = match openai_request(&shared, &uri, &headers, body).await {
        Ok(started) => started,
        Err(resp) => return resp,
    };
    let name = &shared.config.name;
    if let Some(id) = foreign_reasoning(&req, name) {
        let message = format!("The encrypted content for item {id} could not be verified.");
        let mut body = error_body(400, &message);
        body["error"]["code"] = "invalid_encrypted_content".into();
        return reply(400, &body);
    }
    if let Some(id) = foreign_previous(&req, name) {
        let message = format!("Previous response with id '{id}' not found.");
        let mut body = error_body(400, &message);
        body["error"]["code"] = "previous_response_not_found".into();
        body["error"]["param"] = "previous_response_id".into();
        return reply(400, &body);
    }
    let (text, after_tool) = last_input(&req);
    let max = req.get("max_output_tokens").and_then(Value::as_u64);
    let script = Script::new(name, &text, max, shared.config.chunks);
    let include = req.get("include").and_then(Value::as_array);
    let reply = Reply {
        id: format!("resp_{name}_{}", shared.received_count()),
        name,
        model: req
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("mock-model"),
        script: &script,
        call: tool_to_call(&text, after_tool, &tool_names(&req)),
        reasoning: include.is_some_and(|i| i.iter().any(|x| x == "reasoning.encrypted_content")),
        echo: echo(&req),
    };
    if req.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        return sse::respond(shared.clone(), reply.events(), fault);
    }
    whole(&fault, &reply.response("completed")).await
}

/// A `previous_response_id` this mock did not issue.
fn foreign_previous<'a>(req: &'a Value, name: &str) -> Option<&'a str> {
    let id = req.get("previous_response_id")?.as_str()?;
    (!id.starts_with(&format!("resp_{name}_"))).then_some(id)
}

/// The encrypted reasoning this mock hands out.
fn sealed(name: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("mock-reasoning:{name}"))
}

/// The id of a reasoning item in the input that another mock sealed, or
/// whose content is not even base64: what a gateway mixed up or changed.
/// (Content sealed elsewhere, as in recorded traffic, cannot be checked.)
fn foreign_reasoning(req: &Value, name: &str) -> Option<String> {
    let items = req.get("input")?.as_array()?;
    let ours = format!("mock-reasoning:{name}");
    let foreign = |sealed: &str| match base64::engine::general_purpose::STANDARD.decode(sealed) {
        Ok(raw) => raw.starts_with(b"mock-reasoning:") && raw != ours.as_bytes(),
        Err(_) => true,
    };
    items
        .iter()
        .filter(|i| i["type"] == "reasoning")
        .find(|i| {
            i.get("encrypted_content")
                .and_then(Value::as_str)
                .is_some_and(foreign)
        })
        .map(|i| i["id"].as_str().unwrap_or("").to_string())
}

/// The last input's text, and whether it is a tool's output.
fn last_input(req: &Value) -> (String, bool) {
    match req.get("input") {
        Some(Value::String(s)) => (s.clone(), false),
        Some(Value::Array(items)) => match items.last() {
            Some(i) if i["type"].as_str().is_some_and(|t| t.ends_with("_output")) => {
                (text_of(i.get("output")), true)
            }
            Some(i) => (text_of(i.get("content")), false),
            None => (String::new(), false),
        },
        _ => (String::new(), false),
    }
}

/// Function and custom tools, namespaces flattened, in order.
fn tool_names(req: &Value) -> Vec<&str> {
    let mut names = Vec::new();
    for t in req
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match t["type"].as_str() {
            Some("namespace") => {
                let inner = t
                    .get("tools")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten();
                names.extend(inner.filter_map(|i| i["name"].as_str()));
            }
            _ => names.extend(t["name"].as_str()),
        }
    }
    names
}

struct Reply<'a> {
    id: String,
    name: &'a str,
    model: &'a str,
    script: &'a Script,
    call: Option<Call>,
    reasoning: bool,
    /// The request's settings, which a response restates.
    echo: Value,
}

fn echo(req: &Value) -> Value {
    let mut echo = json!({"instructions": null, "text": {"format": {"type": "text"}}, "tools": [],
                          "tool_choice": "auto", "previous_response_id": null});
    for key in [
        "instructions",
        "text",
        "tools",
        "tool_choice",
        "previous_response_id",
    ] {
        if let Some(v) = req.get(key).filter(|v| !v.is_null()) {
            echo[key] = v.clone();
        }
    }
    echo
}

impl Reply<'_> {
    fn truncated(&self) -> bool {
        self.call.is_none() && self.script.truncated
    }

    fn output_tokens(&self) -> u64 {
        match &self.call {
            Some(c) => c.fragments.len() as u64,
            None => self.script.completion_tokens(),
        }
    }

    fn reasoning_item(&self) -> Value {
        json!({"type": "reasoning", "id": "rs_mock", "summary": [], "encrypted_content": sealed(self.name)})
    }

    fn answer_item(&self, status: &str) -> Value {
        match &self.call {
            Some(c) => json!({"type": "function_call", "id": "fc_mock", "call_id": "call_mock1",
                              "name": c.name, "arguments": c.arguments(), "status": status}),
            None => {
                json!({"type": "message", "id": "msg_mock", "status": status, "role": "assistant",
                           "content": [{"type": "output_text", "text": self.script.text(), "annotations": []}]})
            }
        }
    }

    fn output(&self) -> Vec<Value> {
        let mut out = Vec::new();
        if self.reasoning {
            out.push(self.reasoning_item());
        }
        out.push(self.answer_item("completed"));
        out
    }

    /// The response object; `x_mock` stands for the fields OpenAI adds
    /// that a gateway does not know.
    fn response(&self, status: &str) -> Value {
        let done = status != "in_progress";
        let status = if done && self.truncated() {
            "incomplete"
        } else {
            status
        };
        let (i, o) = (self.script.prompt_tokens, self.output_tokens());
        let mut response = json!({
            "id": self.id, "object": "response", "created_at": now(), "status": status,
            "model": self.model, "error": null, "x_mock": {"name": self.name},
            "incomplete_details": if status == "incomplete" { json!({"reason": "max_output_tokens"}) } else { Value::Null },
            "output": if done { self.output() } else { Vec::new() },
            "usage": if done { json!({"input_tokens": i, "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": o, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": i + o}) } else { Value::Null },
        });
        if let (Some(r), Some(e)) = (response.as_object_mut(), self.echo.as_object()) {
            r.extend(e.clone());
        }
        response
    }

    fn events(&self) -> Vec<Event> {
        let mut list: Vec<(&str, Value, bool)> = vec![
            (
                "response.created",
                json!({"response": self.response("in_progress")}),
                false,
            ),
            (
                "response.in_progress",
                json!({"response": self.response("in_progress")}),
                false,
            ),
        ];
        let mut index = 0;
        if self.reasoning {
            let item = self.reasoning_item();
            list.push((
                "response.output_item.added",
                json!({"output_index": 0, "item": item}),
                false,
            ));
            list.push((
                "response.output_item.done",
                json!({"output_index": 0, "item": item}),
                false,
            ));
            index = 1;
        }
        list.push((
            "response.output_item.added",
            json!({"output_index": index, "item": self.answer_item("in_progress")}),
            false,
        ));
        list.extend(self.answer_events(index));
        list.push((
            "response.output_item.done",
            json!({"output_index": index, "item": self.answer_item("completed")}),
            false,
        ));
        let end = self.response("completed");
        let kind = if end["status"] == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        list.push((kind, json!({"response": end}), false));
        list.into_iter()
            .enumerate()
            .map(|(seq, (kind, mut data, content))| {
                data["type"] = kind.into();
                data["sequence_number"] = seq.into();
                Event::named(kind, &data, content)
            })
            .collect()
    }

    /// The deltas (content, for the stream faults) and their `.done`.
    fn answer_events(&self, index: usize) -> Vec<(&'static str, Value, bool)> {
        let mut list = Vec::new();
        match &self.call {
            Some(c) => {
                let at = json!({"item_id": "fc_mock", "output_index": index});
                for f in &c.fragments {
                    list.push((
                        "response.function_call_arguments.delta",
                        with(&at, "delta", f.as_str().into()),
                        true,
                    ));
                }
                list.push((
                    "response.function_call_arguments.done",
                    with(&at, "arguments", c.arguments().into()),
                    false,
                ));
            }
            None => {
                let at = json!({"item_id": "msg_mock", "output_index": index, "content_index": 0});
                let part =
                    |text: &str| json!({"type": "output_text", "text": text, "annotations": []});
                list.push((
                    "response.content_part.added",
                    with(&at, "part", part("")),
                    false,
                ));
                for token in &self.script.tokens {
                    list.push((
                        "response.output_text.delta",
                        with(&at, "delta", token.as_str().into()),
                        true,
                    ));
                }
                let text = self.script.text();
                list.push((
                    "response.output_text.done",
                    with(&at, "text", text.as_str().into()),
                    false,
                ));
                list.push((
                    "response.content_part.done",
                    with(&at, "part", part(&text)),
                    false,
                ));
            }
        }
        list
    }
}

fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut v = base.clone();
    v[key] = value;
    v
}
