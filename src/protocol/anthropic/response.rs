//! Anthropic Messages response → OpenAI `chat.completion`.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use super::{finish_reason, AnthropicUsage};
use crate::protocol::output::{self, AssistantMessage};
use crate::protocol::{carry, Answer};

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

/// The content blocks a client can see or must send back; server-tool
/// blocks are not part of OpenAI's message and are skipped.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        #[serde(default)]
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: String,
    },
    RedactedThinking {
        #[serde(default)]
        data: String,
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
    let mut m = AssistantMessage::default();
    let mut thinking = Vec::new();
    for block in msg.content {
        match block {
            Block::Text { text } => m.text.push_str(&text),
            Block::Thinking {
                thinking: t,
                signature,
            } => {
                m.reasoning.push_str(&t);
                thinking.push(carry::thinking_block(&t, &signature));
            }
            Block::RedactedThinking { data } => thinking.push(carry::redacted_block(&data)),
            Block::ToolUse { id, name, input } => {
                let call = output::tool_call(&id, &name, arguments(&input), None);
                m.tool_calls.push(call);
            }
            Block::Other => {}
        }
    }
    if !thinking.is_empty() {
        m.extra.insert("thinking_blocks".into(), thinking.into());
    }
    let finish = finish_reason(msg.stop_reason.as_deref());
    let counts = msg.usage.counts();
    let choice = output::choice(0, m, finish);
    let out = output::completion(&msg.id, &msg.model, vec![choice], &counts);
    Ok(Answer {
        state: None,
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
