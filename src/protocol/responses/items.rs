//! Responses `input` (a string, or items) → chat completions `messages`.
//!
//! Calls and the assistant text around them become one assistant message
//! with `tool_calls`, so every call is answered by the tool messages that
//! follow it, as chat completions require. Reasoning items are dropped:
//! their `encrypted_content` only means something to the upstream that
//! wrote it, and a chat upstream takes no reasoning input.

use serde_json::{json, Value};

use super::tools::Names;
use crate::protocol::RequestError;

fn bad(path: &str, why: impl std::fmt::Display) -> RequestError {
    RequestError {
        message: format!("{path}: {why}"),
        param: Some("input".into()),
    }
}

/// The messages for `instructions` and `input`.
pub(super) fn messages(
    instructions: Option<&str>,
    input: Option<&Value>,
    names: &Names,
    protocol: &str,
) -> Result<Vec<Value>, RequestError> {
    let mut out: Vec<Value> = Vec::new();
    if let Some(text) = instructions.filter(|t| !t.is_empty()) {
        out.push(json!({"role": "system", "content": text}));
    }
    let items = match input {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::String(text)) => {
            out.push(json!({"role": "user", "content": text}));
            return Ok(out);
        }
        Some(Value::Array(items)) => items,
        Some(_) => return Err(bad("input", "must be a string or an array of items")),
    };
    for (i, item) in items.iter().enumerate() {
        let path = format!("input[{i}]");
        let kind = item.get("type").and_then(Value::as_str);
        match kind {
            Some("message") | None if item.get("role").is_some() => message(&mut out, &path, item, protocol)?,
            Some("function_call" | "custom_tool_call") => call(&mut out, &path, item, names)?,
            Some("function_call_output" | "custom_tool_call_output") => out.push(result(&path, item, protocol)?),
            Some("reasoning") => {}
            Some("item_reference") => {
                return Err(bad(&path, format!("item references need the stored conversation, which {protocol} backends do not have")))
            }
            Some(other) => return Err(bad(&path, format!("items of type {other:?} are not supported on {protocol} backends"))),
            None => return Err(bad(&path, "an item needs a `type`")),
        }
    }
    Ok(out)
}

fn message(
    out: &mut Vec<Value>,
    path: &str,
    item: &Value,
    protocol: &str,
) -> Result<(), RequestError> {
    let role = match item.get("role").and_then(Value::as_str) {
        Some(r @ ("user" | "system" | "developer" | "assistant")) => r,
        _ => {
            return Err(bad(
                path,
                "`role` must be user, system, developer or assistant",
            ))
        }
    };
    let content = match item.get("content") {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(Value::Array(parts)) => {
            let parts = parts
                .iter()
                .enumerate()
                .map(|(j, p)| part(&format!("{path}.content[{j}]"), p, protocol))
                .collect::<Result<Vec<_>, _>>()?;
            Value::Array(parts)
        }
        _ => return Err(bad(path, "`content` must be a string or an array of parts")),
    };
    match out.last_mut() {
        // Text that continues an assistant turn not yet answered by tools.
        Some(last) if role == "assistant" && is_open_assistant(last) => {
            let mut parts = as_parts(last["content"].take());
            parts.extend(as_parts(content));
            last["content"] = Value::Array(parts);
        }
        _ => out.push(json!({"role": role, "content": content})),
    }
    Ok(())
}

fn is_open_assistant(m: &Value) -> bool {
    m["role"] == "assistant" && m.get("tool_calls").is_none()
}

fn as_parts(content: Value) -> Vec<Value> {
    match content {
        Value::Array(parts) => parts,
        Value::String(s) if !s.is_empty() => vec![json!({"type": "text", "text": s})],
        _ => Vec::new(),
    }
}

fn part(path: &str, p: &Value, protocol: &str) -> Result<Value, RequestError> {
    let text = |key: &str| {
        p.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(path, format!("needs a string `{key}`")))
    };
    match p.get("type").and_then(Value::as_str) {
        Some("input_text" | "output_text") => Ok(json!({"type": "text", "text": text("text")?})),
        Some("refusal") => Ok(json!({"type": "refusal", "refusal": text("refusal")?})),
        Some("input_image") => {
            let Some(url) = p.get("image_url").and_then(Value::as_str) else {
                return Err(bad(path, format!("images by `file_id` need OpenAI's file store, which {protocol} backends do not have; send `image_url`")));
            };
            let mut image = json!({"url": url});
            if let Some(d) = p.get("detail").filter(|d| !d.is_null()) {
                image["detail"] = d.clone();
            }
            Ok(json!({"type": "image_url", "image_url": image}))
        }
        Some(other) => Err(bad(
            path,
            format!("content parts of type {other:?} are not supported on {protocol} backends"),
        )),
        None => Err(bad(path, "a content part needs a `type`")),
    }
}

/// A call the model made earlier, joined to the assistant turn it ends.
fn call(out: &mut Vec<Value>, path: &str, item: &Value, names: &Names) -> Result<(), RequestError> {
    let field = |key: &str| {
        item.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(path, format!("a call needs a string `{key}`")))
    };
    let (call_id, name) = (field("call_id")?, field("name")?);
    let arguments = if item["type"] == "custom_tool_call" || names.of(name).custom {
        let input = item.get("input").or_else(|| item.get("arguments"));
        json!({"input": input.and_then(Value::as_str).unwrap_or("")}).to_string()
    } else {
        field("arguments")?.to_string()
    };
    let call = json!({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}});
    match out.last_mut() {
        Some(last) if last["role"] == "assistant" => {
            if !last["tool_calls"].is_array() {
                last["tool_calls"] = json!([]);
            }
            if let Some(calls) = last["tool_calls"].as_array_mut() {
                calls.push(call);
            }
            if last["content"].as_array().is_some_and(Vec::is_empty) {
                last["content"] = Value::Null;
            }
        }
        _ => out.push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
    }
    Ok(())
}

/// A tool's output: a string, or text and image parts.
fn result(path: &str, item: &Value, protocol: &str) -> Result<Value, RequestError> {
    let call_id = item
        .get("call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(path, "a call output needs a string `call_id`"))?;
    let content = match item.get("output") {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(Value::Array(parts)) => Value::Array(
            parts
                .iter()
                .enumerate()
                .map(|(j, p)| part(&format!("{path}.output[{j}]"), p, protocol))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(bad(path, "`output` must be a string or an array of parts")),
    };
    Ok(json!({"role": "tool", "tool_call_id": call_id, "content": content}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(input: Value) -> Vec<Value> {
        messages(
            Some("be brief"),
            Some(&input),
            &Names::default(),
            "anthropic",
        )
        .unwrap()
    }

    #[test]
    fn a_codex_round_trip_becomes_chat_messages() {
        let input = json!([
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
            {"role": "user", "content": "list files"},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "xyz"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Sure."}]},
            {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "exec", "arguments": "{\"cmd\":\"ls\"}"},
            {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
            {"type": "custom_tool_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "done"}]},
        ]);
        let m = convert(input);
        assert_eq!(m.len(), 6, "{m:#?}");
        assert_eq!(m[0], json!({"role": "system", "content": "be brief"}));
        assert_eq!(m[1]["content"], json!([{"type": "text", "text": "rules"}]));
        assert_eq!(m[2], json!({"role": "user", "content": "list files"}));
        assert_eq!(m[3]["content"], json!([{"type": "text", "text": "Sure."}]));
        let calls = m[3]["tool_calls"].as_array().unwrap();
        assert_eq!(
            calls[0]["function"],
            json!({"name": "exec", "arguments": "{\"cmd\":\"ls\"}"})
        );
        assert_eq!(
            calls[1]["function"]["arguments"],
            "{\"input\":\"*** Begin Patch\"}"
        );
        assert_eq!(
            m[4],
            json!({"role": "tool", "tool_call_id": "c1", "content": "a.txt"})
        );
        assert_eq!(m[5]["content"], json!([{"type": "text", "text": "done"}]));
    }

    #[test]
    fn strings_images_and_refusals() {
        let m = messages(None, Some(&json!("hi")), &Names::default(), "x").unwrap();
        assert_eq!(m, vec![json!({"role": "user", "content": "hi"})]);
        let img = json!([{"role": "user", "content": [{"type": "input_image", "image_url": "https://x/a.png", "detail": "low"}]}]);
        assert_eq!(
            convert(img)[1]["content"][0]["image_url"],
            json!({"url": "https://x/a.png", "detail": "low"})
        );
        let by_file =
            json!([{"role": "user", "content": [{"type": "input_image", "file_id": "f1"}]}]);
        let e = messages(None, Some(&by_file), &Names::default(), "gemini").unwrap_err();
        assert!(
            e.message
                .starts_with("input[0].content[0]: images by `file_id`"),
            "{e}"
        );
        let stored = json!([{"type": "item_reference", "id": "msg_1"}]);
        assert_eq!(
            messages(None, Some(&stored), &Names::default(), "x")
                .unwrap_err()
                .param
                .as_deref(),
            Some("input")
        );
    }
}
