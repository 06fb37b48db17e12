//! What Anthropic's Messages API refuses, as the mock checks it: tool
//! names, empty content, thinking's rules, thinking blocks whose text no
//! longer matches the signature this mock gave them, and (for the models
//! that have it, named `...4-5...` here) `temperature` with `top_p`.

use serde_json::Value;

use crate::anthropic_reply::signature;

pub(crate) fn check(req: &Value) -> Result<(), String> {
    tool_names(req)?;
    content(req)?;
    thinking(req)?;
    let model = req.get("model").and_then(Value::as_str).unwrap_or("");
    if model.contains("4-5") && req.get("temperature").is_some() && req.get("top_p").is_some() {
        return Err(
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
                .to_string(),
        );
    }
    Ok(())
}

/// `^[a-zA-Z0-9_-]{1,64}$`.
fn tool_names(req: &Value) -> Result<(), String> {
    let tools = req.get("tools").and_then(Value::as_array);
    for (i, t) in tools.into_iter().flatten().enumerate() {
        let name = t.get("name").and_then(Value::as_str).unwrap_or("");
        let valid = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(format!(
                "tools.{i}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            ));
        }
    }
    Ok(())
}

fn messages(req: &Value) -> &[Value] {
    req.get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// At least one message, none empty, no empty or whitespace-only text.
fn content(req: &Value) -> Result<(), String> {
    let list = messages(req);
    if list.is_empty() {
        return Err("messages: at least one message is required".to_string());
    }
    for (i, m) in list.iter().enumerate() {
        let blank = |t: &str| t.trim().is_empty();
        let empty = match m.get("content") {
            Some(Value::String(s)) => blank(s),
            Some(Value::Array(blocks)) => {
                let blank_text = blocks.iter().any(|b| {
                    b.get("type").and_then(Value::as_str) == Some("text")
                        && blank(b.get("text").and_then(Value::as_str).unwrap_or(""))
                });
                if blank_text {
                    return Err(format!(
                        "messages.{i}: text content blocks must contain non-whitespace text"
                    ));
                }
                blocks.is_empty()
            }
            _ => true,
        };
        if empty {
            return Err(format!("messages.{i}: all messages must have non-empty content except for the optional final assistant message"));
        }
    }
    Ok(())
}

/// With `thinking` enabled: a budget of at least 1024 below `max_tokens`,
/// temperature 1 if any, and the last assistant turn of a tool loop
/// starting with its thinking block.
fn thinking(req: &Value) -> Result<(), String> {
    let Some(kind) = req.pointer("/thinking/type").and_then(Value::as_str) else {
        return Ok(());
    };
    if kind == "enabled" {
        // A JSON number however written (`1.024e3` too, as Pydantic takes it).
        let budget = req
            .pointer("/thinking/budget_tokens")
            .and_then(Value::as_f64);
        let max = req.get("max_tokens").and_then(Value::as_u64).unwrap_or(0);
        match budget {
            Some(b) if b < 1024.0 => {
                return Err(
                    "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
                        .to_string(),
                )
            }
            Some(b) if b >= max as f64 => {
                return Err("`max_tokens` must be greater than `thinking.budget_tokens`".to_string())
            }
            Some(_) => {}
            None => return Err("thinking.enabled.budget_tokens: Field required".to_string()),
        }
    }
    if req
        .get("temperature")
        .and_then(Value::as_f64)
        .is_some_and(|t| t != 1.0)
    {
        return Err(
            "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode."
                .to_string(),
        );
    }
    let list = messages(req);
    let Some((i, last)) = list
        .iter()
        .enumerate()
        .rev()
        .find(|(_, m)| m.get("role").and_then(Value::as_str) == Some("assistant"))
    else {
        return Ok(());
    };
    let blocks = last.get("content").and_then(Value::as_array);
    let kind_of = |b: &Value| b.get("type").and_then(Value::as_str).map(str::to_string);
    let kinds: Vec<String> = blocks.into_iter().flatten().filter_map(kind_of).collect();
    let uses_tools = kinds.iter().any(|k| k == "tool_use");
    let first = kinds.first().map(String::as_str).unwrap_or("");
    if uses_tools && first != "thinking" && first != "redacted_thinking" {
        return Err(format!("messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{first}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks)."));
    }
    Ok(())
}

/// Every thinking block this mock signed (`sig-think-K-HASH`) still holds
/// the text it signed: Anthropic refuses a block changed on the way.
pub(crate) fn signatures(req: &Value) -> Result<(), String> {
    for (i, m) in messages(req).iter().enumerate() {
        let blocks = m.get("content").and_then(Value::as_array);
        for (j, b) in blocks.into_iter().flatten().enumerate() {
            if b.get("type").and_then(Value::as_str) != Some("thinking") {
                continue;
            }
            let sig = b.get("signature").and_then(Value::as_str).unwrap_or("");
            let Some(step) = signed_step(sig) else {
                continue;
            };
            let text = b.get("thinking").and_then(Value::as_str).unwrap_or("");
            if sig != signature(step, text) {
                return Err(format!(
                    "messages.{i}.content.{j}: Invalid signature in thinking block"
                ));
            }
        }
    }
    Ok(())
}

/// The step of a signature this mock wrote; `None` for others' (a real
/// Anthropic signature in recorded traffic is not the mock's to check).
fn signed_step(sig: &str) -> Option<usize> {
    let (step, _hash) = sig.strip_prefix("sig-think-")?.split_once('-')?;
    step.parse().ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn turn(block: Value) -> Value {
        json!({"messages": [{"role": "user", "content": "hi"},
            {"role": "assistant", "content": [block, {"type": "text", "text": "ok"}]}]})
    }

    #[test]
    fn a_thinking_block_must_keep_the_text_its_signature_binds() {
        let text = "Thinking about: hi";
        let signed = json!({"type": "thinking", "thinking": text, "signature": signature(0, text)});
        assert_eq!(signatures(&turn(signed.clone())), Ok(()));
        let mut changed = signed;
        changed["thinking"] = "Thinking about: something else".into();
        let refused = signatures(&turn(changed)).unwrap_err();
        assert!(refused.contains("Invalid signature"), "{refused}");
        // Another signer's blocks (recorded real traffic) are not the mock's to check.
        let foreign = json!({"type": "thinking", "thinking": "x", "signature": "EqQBCkYIBxgCKkDx"});
        assert_eq!(signatures(&turn(foreign)), Ok(()));
    }
}
