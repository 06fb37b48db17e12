//! Responses output, written from a chat completion's pieces: the output
//! items, the usage, and the response object around them.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::tools::Origin;
use crate::protocol::{Request, Usage};

/// A piece of an assistant message: text, or a refusal.
#[derive(Debug, Default)]
pub(super) struct Part {
    pub refusal: bool,
    pub text: String,
}

impl Part {
    pub fn json(&self) -> Value {
        if self.refusal {
            json!({"type": "refusal", "refusal": self.text})
        } else {
            json!({"type": "output_text", "text": self.text, "annotations": [], "logprobs": []})
        }
    }
}

/// An output item.
#[derive(Debug)]
pub(super) enum Item {
    Message { id: String, parts: Vec<Part> },
    Call(Call),
}

/// A tool call; a `custom` tool's comes back as a `custom_tool_call`.
#[derive(Debug)]
pub(super) struct Call {
    pub id: String,
    pub call_id: String,
    pub name: String,
    pub arguments: String,
    pub origin: Origin,
}

impl Call {
    /// A custom tool takes `{"input": "..."}`; a model that wrote
    /// something else gets it passed on whole.
    pub fn input(&self) -> String {
        #[derive(Deserialize)]
        struct Args {
            input: String,
        }
        serde_json::from_str::<Args>(&self.arguments)
            .map(|a| a.input)
            .unwrap_or_else(|_| self.arguments.clone())
    }
}

impl Item {
    pub fn id(&self) -> &str {
        match self {
            Item::Message { id, .. } | Item::Call(Call { id, .. }) => id,
        }
    }

    pub fn json(&self, status: &str) -> Value {
        match self {
            Item::Message { id, parts } => json!({
                "type": "message", "id": id, "status": status, "role": "assistant",
                "content": parts.iter().map(Part::json).collect::<Vec<_>>(),
            }),
            Item::Call(c) if c.origin.custom => json!({
                "type": "custom_tool_call", "id": c.id, "call_id": c.call_id,
                "name": c.name, "input": c.input(), "status": status,
            }),
            Item::Call(c) => {
                let mut item = json!({
                    "type": "function_call", "id": c.id, "call_id": c.call_id,
                    "name": c.name, "arguments": c.arguments, "status": status,
                });
                if let Some(ns) = &c.origin.namespace {
                    item["namespace"] = ns.clone().into();
                }
                item
            }
        }
    }
}

/// Usage as Responses reports it; its `input_tokens` count cached ones,
/// as `prompt_tokens` do.
pub(super) fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens},
        "output_tokens": u.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.prompt_tokens.saturating_add(u.completion_tokens),
    })
}

/// The response's `status` and `incomplete_details` for a chat finish reason.
pub(super) fn status(finish: Option<&str>) -> (&'static str, Value) {
    match finish {
        Some("length") => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some("content_filter") => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

/// The response object, `in_progress` and empty, echoing what the client
/// asked for as OpenAI does. Nothing is stored, so `store` is false.
pub(super) fn skeleton(
    req: &Request,
    id: &str,
    model: &str,
    created_at: u64,
) -> Map<String, Value> {
    let echo = |name: &str, default: Value| {
        req.get::<Value>(name)
            .filter(|v| !v.is_null())
            .unwrap_or(default)
    };
    let fields = [
        ("id", Value::from(id)),
        ("object", "response".into()),
        ("created_at", created_at.into()),
        ("status", "in_progress".into()),
        ("background", false.into()),
        ("error", Value::Null),
        ("incomplete_details", Value::Null),
        ("instructions", echo("instructions", Value::Null)),
        ("max_output_tokens", echo("max_output_tokens", Value::Null)),
        ("model", model.into()),
        ("output", json!([])),
        (
            "parallel_tool_calls",
            echo("parallel_tool_calls", true.into()),
        ),
        ("previous_response_id", Value::Null),
        (
            "reasoning",
            echo("reasoning", json!({"effort": null, "summary": null})),
        ),
        ("store", false.into()),
        ("temperature", echo("temperature", 1.0.into())),
        ("text", echo("text", json!({"format": {"type": "text"}}))),
        ("tool_choice", echo("tool_choice", "auto".into())),
        ("tools", echo("tools", json!([]))),
        ("top_p", echo("top_p", 1.0.into())),
        ("truncation", "disabled".into()),
        ("usage", Value::Null),
        ("user", echo("user", Value::Null)),
        ("metadata", echo("metadata", json!({}))),
    ];
    fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// `base` with `key` set to `value`.
pub(super) fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut v = base.clone();
    v[key] = value;
    v
}

/// `base` with the members of `extra` added.
pub(super) fn merge(base: &Value, extra: Value) -> Value {
    let mut v = base.clone();
    if let (Some(to), Value::Object(from)) = (v.as_object_mut(), extra) {
        to.extend(from);
    }
    v
}
