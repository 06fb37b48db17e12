//! Anthropic Messages response → OpenAI `chat.completion`.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use super::{finish_reason, AnthropicUsage};
use crate::protocol::{output, Answer};

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    content: Vec<Block>,
    stop_reason: Option<String>,
    #[serde(default)]
    usage: AnthropicUsage,
}

/// The content blocks a client can see; thinking and server-tool blocks are
/// not part of OpenAI's message and are skipped.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        input: Value,
    },
    #[serde(other)]
    Other,
}

pub fn translate_response(body: Bytes) -> Result<Answer, String> {
    let msg: Message = serde_json::from_slice(&body)
        .map_err(|e| format!("upstream sent an invalid Anthropic message: {e}"))?;
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in msg.content {
        match block {
            Block::Text { text: t } => text.push_str(&t),
            Block::ToolUse { id, name, input } => {
                calls.push(output::tool_call(&id, &name, arguments(&input)));
            }
            Block::Other => {}
        }
    }
    let finish = finish_reason(msg.stop_reason.as_deref());
    let counts = msg.usage.counts();
    let choice = output::choice(0, text, calls, finish);
    let out = output::completion(&msg.id, &msg.model, vec![choice], &counts);
    Ok(Answer {
        body: Bytes::from(out.to_string()),
        usage: Some(counts.usage()),
    })
}

/// OpenAI carries arguments as a JSON string; a missing input means none.
fn arguments(input: &Value) -> String {
    match input {
        Value::Null => "{}".to_string(),
        v => v.to_string(),
    }
}
