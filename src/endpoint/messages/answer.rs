//! A chat completions answer as an Anthropic message: content blocks, the
//! stop reason and usage, naming the public model the client asked for.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::protocol::{Answer, Usage};

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    id: String,
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    message: ChatMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct ChatMessage {
    content: Option<String>,
    reasoning_content: Option<String>,
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Vec<Call>,
}

#[derive(Deserialize)]
struct Call {
    #[serde(default)]
    id: String,
    function: Function,
}

#[derive(Deserialize)]
struct Function {
    #[serde(default)]
    name: String,
    #[serde(default)]
    arguments: String,
}

/// Anthropic counts cache reads and writes apart from `input_tokens`;
/// OpenAI's prompt count includes them.
pub(super) fn anthropic_usage(u: &Usage) -> Value {
    let cache = u.cached_tokens.saturating_add(u.cache_write_tokens);
    json!({
        "input_tokens": u.prompt_tokens.saturating_sub(cache),
        "output_tokens": u.completion_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
    })
}

/// Chat completions' `finish_reason` as Anthropic's `stop_reason`. A stop
/// on a stop sequence is not told apart from a natural one in chat
/// completions: both are `end_turn`.
pub(super) fn stop_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// An id for a message whose upstream gave none.
pub(super) fn message_id(upstream: &str) -> String {
    if upstream.is_empty() {
        let random: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(24)
            .collect();
        format!("msg_{random}")
    } else {
        upstream.to_string()
    }
}

pub(super) fn translate(model: &str, chat: Answer) -> Result<Answer, String> {
    let completion: Completion = serde_json::from_slice(&chat.body)
        .map_err(|e| format!("upstream sent an invalid chat completion: {e}"))?;
    let choice = completion.choices.into_iter().next();
    let finish = choice.as_ref().and_then(|c| c.finish_reason.clone());
    let message = choice.map(|c| c.message).unwrap_or_default();
    let mut content = Vec::new();
    if let Some(thinking) = message.reasoning_content.filter(|t| !t.is_empty()) {
        // Not Anthropic's: no signature an Anthropic upstream would accept.
        content.push(json!({"type": "thinking", "thinking": thinking, "signature": ""}));
    }
    let refused = message.refusal.is_some();
    for text in [message.content, message.refusal].into_iter().flatten() {
        if !text.is_empty() {
            content.push(json!({"type": "text", "text": text}));
        }
    }
    for call in message.tool_calls {
        let input: Value = match call.function.arguments.trim() {
            "" => json!({}),
            args => serde_json::from_str(args)
                .map_err(|e| format!("upstream sent tool call arguments that are not JSON: {e}"))?,
        };
        content.push(
            json!({"type": "tool_use", "id": call.id, "name": call.function.name, "input": input}),
        );
    }
    let stop = if refused {
        "refusal"
    } else {
        stop_reason(finish.as_deref())
    };
    // The protocol's own count where it made one (it may know more, e.g.
    // Gemini's cache), else the completion's.
    let usage = chat.usage.or(completion.usage).unwrap_or_default();
    let body = json!({
        "id": message_id(&completion.id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": anthropic_usage(&usage),
    });
    Ok(Answer {
        state: None,
        body: Bytes::from(body.to_string()),
        usage: Some(usage),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(chat: Value) -> Value {
        let a = Answer {
            state: None,
            body: Bytes::from(chat.to_string()),
            usage: None,
        };
        serde_json::from_slice(&translate("pub", a).unwrap().body).unwrap()
    }

    #[test]
    fn text_tool_calls_stop_reason_and_cached_usage() {
        let out = answer(
            json!({"id": "chatcmpl-1", "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": "Let me look.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}}]}}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 20}}}),
        );
        assert_eq!(
            out,
            json!({"id": "chatcmpl-1", "type": "message", "role": "assistant", "model": "pub",
                "content": [{"type": "text", "text": "Let me look."},
                            {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "ls"}}],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 10, "output_tokens": 7, "cache_read_input_tokens": 20,
                          "cache_creation_input_tokens": 0}})
        );
    }

    #[test]
    fn finish_reasons_reasoning_and_bad_arguments() {
        let stop = |f: &str| {
            answer(json!({"choices": [{"finish_reason": f, "message": {"content": "x"}}]}))
                ["stop_reason"]
                .clone()
        };
        assert_eq!(stop("stop"), "end_turn");
        assert_eq!(stop("length"), "max_tokens");
        assert_eq!(stop("content_filter"), "refusal");
        let out = answer(json!({"choices": [{"finish_reason": "stop",
            "message": {"content": "4", "reasoning_content": "2+2"}}]}));
        assert_eq!(
            out["content"][0],
            json!({"type": "thinking", "thinking": "2+2", "signature": ""})
        );
        assert!(out["id"].as_str().unwrap().starts_with("msg_"));
        let bad = Answer {
            state: None,
            body: Bytes::from(
                json!({"choices": [{"message": {"tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{"}}]}}]})
                    .to_string(),
            ),
            usage: None,
        };
        assert!(translate("pub", bad).is_err());
    }
}
