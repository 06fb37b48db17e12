//! Anthropic's `system` and `messages` as chat completions messages.
//!
//! Content blocks map one to one where chat completions has the same thing
//! (text, images, tool calls and results). What it lacks is refused naming
//! the block, except thinking blocks from earlier Anthropic turns: they are
//! Anthropic's signed reasoning, which no other provider can read or
//! verify, and the turn's text and tool calls carry what it concluded, so
//! they are left out.

use serde_json::{json, Value};

use super::to_chat::Target;
use crate::protocol::RequestError;

fn bad(to: Target, path: &str, why: impl std::fmt::Display) -> RequestError {
    RequestError {
        message: format!("{path}: {why} on {} backends", to.protocol),
        param: Some("messages".into()),
    }
}

/// The system prompt, then every turn.
pub(super) fn chat_messages(
    system: Option<&Value>,
    messages: &Value,
    to: Target,
) -> Result<Vec<Value>, RequestError> {
    let mut out = Vec::new();
    if let Some(system) = system {
        let text = texts(system, "system", to)?;
        out.push(json!({"role": "system", "content": text}));
    }
    let list = messages.as_array().map(Vec::as_slice).unwrap_or_default();
    for (i, m) in list.iter().enumerate() {
        let path = format!("messages[{i}]");
        let content = m.get("content").unwrap_or(&Value::Null);
        match m.get("role").and_then(Value::as_str) {
            Some("user") => user(content, &path, to, &mut out)?,
            Some("assistant") => out.extend(assistant(content, &path, to)?),
            // Mid-conversation system text (a beta Claude Code uses).
            Some("system") => {
                let text = texts(content, &format!("{path}.content"), to)?;
                out.push(json!({"role": "system", "content": text}));
            }
            _ => return Err(bad(to, &path, "`role` must be user, assistant or system")),
        }
    }
    Ok(out)
}

/// A string, or text blocks as text parts (their `cache_control` is a
/// caching hint).
fn texts(v: &Value, path: &str, to: Target) -> Result<Value, RequestError> {
    let Some(blocks) = v.as_array() else {
        return match v {
            Value::String(_) => Ok(v.clone()),
            _ => Err(bad(to, path, "must be a string or text blocks")),
        };
    };
    let parts = blocks
        .iter()
        .enumerate()
        .map(
            |(j, b)| match (b.get("type").and_then(Value::as_str), b.get("text")) {
                (Some("text"), Some(Value::String(t))) => Ok(json!({"type": "text", "text": t})),
                _ => Err(bad(
                    to,
                    &format!("{path}[{j}]"),
                    "only text blocks are supported here",
                )),
            },
        )
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Array(parts))
}

/// A user turn: its tool results first, as `tool` messages (chat
/// completions wants them right after the calls), then the rest.
fn user(content: &Value, path: &str, to: Target, out: &mut Vec<Value>) -> Result<(), RequestError> {
    let Some(blocks) = content.as_array() else {
        out.push(json!({"role": "user", "content": texts(content, path, to)?}));
        return Ok(());
    };
    let mut parts = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let path = format!("{path}.content[{j}]");
        match b.get("type").and_then(Value::as_str) {
            Some("tool_result") => out.push(tool_result(b, &path, to)?),
            _ => parts.push(part(b, &path, to)?),
        }
    }
    if !parts.is_empty() {
        out.push(json!({"role": "user", "content": parts}));
    }
    Ok(())
}

/// A text or image block as a content part.
fn part(b: &Value, path: &str, to: Target) -> Result<Value, RequestError> {
    match b.get("type").and_then(Value::as_str) {
        Some("text") => match b.get("text") {
            Some(Value::String(t)) => Ok(json!({"type": "text", "text": t})),
            _ => Err(bad(to, path, "a text block needs a string `text`")),
        },
        Some("image") => image(b.get("source").unwrap_or(&Value::Null), path, to),
        Some(other) => Err(bad(
            to,
            path,
            format_args!("{other:?} blocks are not supported"),
        )),
        None => Err(bad(to, path, "a content block needs a `type`")),
    }
}

fn image(source: &Value, path: &str, to: Target) -> Result<Value, RequestError> {
    let field = |k: &str| source.get(k).and_then(Value::as_str);
    let url = match (
        field("type"),
        field("media_type"),
        field("data"),
        field("url"),
    ) {
        (Some("base64"), Some(mime), Some(data), _) => format!("data:{mime};base64,{data}"),
        (Some("url"), _, _, Some(url)) => url.to_string(),
        _ => return Err(bad(to, path, "images must have a base64 or url source")),
    };
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// A tool result as a `tool` message. Chat completions has no error flag:
/// an error result's text says so, so the model still knows the call failed.
fn tool_result(b: &Value, path: &str, to: Target) -> Result<Value, RequestError> {
    let id = b.get("tool_use_id").and_then(Value::as_str);
    let id = id.ok_or_else(|| bad(to, path, "a tool_result needs `tool_use_id`"))?;
    let mut text = String::new();
    if b.get("is_error").and_then(Value::as_bool) == Some(true) {
        text.push_str("Error: ");
    }
    match b.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => text.push_str(s),
        Some(Value::Array(blocks)) => {
            for (k, block) in blocks.iter().enumerate() {
                match (block.get("type").and_then(Value::as_str), block.get("text")) {
                    (Some("text"), Some(Value::String(t))) => text.push_str(t),
                    (kind, _) => {
                        let why = format_args!(
                            "{} blocks in tool results are not supported",
                            kind.unwrap_or("untyped")
                        );
                        return Err(bad(to, &format!("{path}.content[{k}]"), why));
                    }
                }
            }
        }
        Some(_) => return Err(bad(to, path, "`content` must be a string or blocks")),
    }
    Ok(json!({"role": "tool", "tool_call_id": id, "content": text}))
}

/// An assistant turn: its text (a tool_use followed by more text keeps all
/// of it, in order, before the calls: chat completions has no order between
/// the two), then its tool calls. Thinking blocks are left out (see above).
fn assistant(content: &Value, path: &str, to: Target) -> Result<Option<Value>, RequestError> {
    let Some(blocks) = content.as_array() else {
        let text = texts(content, path, to)?;
        return Ok(Some(json!({"role": "assistant", "content": text})));
    };
    let mut parts = Vec::new();
    let mut calls = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let path = format!("{path}.content[{j}]");
        match b.get("type").and_then(Value::as_str) {
            Some("thinking" | "redacted_thinking") => {}
            Some("tool_use") => calls.push(tool_call(b, &path, to)?),
            Some("text") => parts.push(part(b, &path, to)?),
            Some(other) => {
                return Err(bad(
                    to,
                    &path,
                    format_args!("{other:?} blocks are not supported"),
                ))
            }
            None => return Err(bad(to, &path, "a content block needs a `type`")),
        }
    }
    if parts.is_empty() && calls.is_empty() {
        return Ok(None);
    }
    let content = match parts.len() {
        0 => Value::Null,
        1 => parts[0]["text"].clone(),
        _ => Value::Array(parts),
    };
    let mut m = json!({"role": "assistant", "content": content});
    if !calls.is_empty() {
        m["tool_calls"] = Value::Array(calls);
    }
    Ok(Some(m))
}

fn tool_call(b: &Value, path: &str, to: Target) -> Result<Value, RequestError> {
    let field = |k: &str| b.get(k).and_then(Value::as_str);
    let (Some(id), Some(name)) = (field("id"), field("name")) else {
        return Err(bad(to, path, "a tool_use needs `id` and `name`"));
    };
    let input = match b.get("input") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(v) => v.to_string(),
    };
    Ok(json!({"id": id, "type": "function", "function": {"name": name, "arguments": input}}))
}
