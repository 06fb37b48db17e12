//! What a native upstream needs back on the next turn (Gemini's thought
//! signatures, Anthropic's signed thinking blocks), carried through OpenAI's
//! shape in the extra fields other gateways already use, which the OpenAI
//! SDKs keep on the objects they return (docs/providers.md):
//!
//! - Gemini: `extra_content.google.thought_signature`, on a tool call or on
//!   the message (Google's own OpenAI compatibility layer does the same);
//! - Anthropic: `thinking_blocks` on the message, `[{"type": "thinking",
//!   "thinking", "signature"} | {"type": "redacted_thinking", "data"}]`.

use serde_json::{json, Value};

/// The Gemini thought signature a tool call or a message carries.
pub(super) fn google_signature(v: &Value) -> Option<String> {
    v.pointer("/extra_content/google/thought_signature")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `extra_content` carrying a Gemini thought signature.
pub(super) fn google_extra(signature: &str) -> Value {
    json!({"google": {"thought_signature": signature}})
}

/// The well-formed `thinking_blocks` of an assistant message, rebuilt field
/// by field: Anthropic takes them back only exactly as it sent them.
pub(super) fn thinking_blocks(message: &Value) -> Vec<Value> {
    let blocks = message.get("thinking_blocks").and_then(Value::as_array);
    blocks
        .into_iter()
        .flatten()
        .filter_map(|b| {
            let text = |key: &str| b.get(key).and_then(Value::as_str);
            match text("type")? {
                "thinking" => Some(thinking_block(text("thinking")?, text("signature")?)),
                "redacted_thinking" => Some(redacted_block(text("data")?)),
                _ => None,
            }
        })
        .collect()
}

pub(super) fn thinking_block(thinking: &str, signature: &str) -> Value {
    json!({"type": "thinking", "thinking": thinking, "signature": signature})
}

pub(super) fn redacted_block(data: &str) -> Value {
    json!({"type": "redacted_thinking", "data": data})
}
