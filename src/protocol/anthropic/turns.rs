//! OpenAI messages → Anthropic `system` and `messages`.

use serde_json::{json, Value};

use crate::protocol::messages::{self, Image, Message, Part, Role, EMPTY_TURN};
use crate::protocol::RequestError;

/// System text, and the conversation as strictly alternating user and
/// assistant turns: Anthropic rejects two turns of one role in a row, so
/// those are merged (tool results become user turns, hence merge too).
/// With thinking on, each assistant turn starts with the thinking blocks
/// the client carried back (Anthropic requires them in a tool loop).
pub(super) fn convert(
    list: &[Message],
    thinking: bool,
) -> Result<(Option<Value>, Vec<Value>), RequestError> {
    let mut system: Vec<Value> = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let (role, blocks) = match m.role {
            Role::System => {
                let text = messages::joined_text(&m.parts).ok_or_else(|| RequestError {
                    message: format!(
                        "messages[{i}]: system messages take text only on anthropic backends"
                    ),
                    param: Some("messages".into()),
                })?;
                if !text.is_empty() {
                    system.push(json!({"type": "text", "text": text}));
                }
                continue;
            }
            Role::User => ("user", content_blocks(&m.parts)),
            Role::Assistant => {
                let mut blocks = match thinking {
                    true => m.thinking.clone(),
                    false => Vec::new(),
                };
                blocks.extend(content_blocks(&m.parts));
                blocks.extend(m.tool_calls.iter().map(|c| {
                    json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments})
                }));
                ("assistant", blocks)
            }
            Role::Tool => ("user", vec![tool_result(m)]),
        };
        match turns.last_mut() {
            Some((last, content)) if *last == role => content.extend(blocks),
            // An empty user turn stays (Anthropic needs some text in it);
            // an empty assistant turn says nothing.
            _ if blocks.is_empty() && role == "assistant" => {}
            _ => turns.push((role, blocks)),
        }
    }
    let system = match system.len() {
        0 => None,
        1 => system
            .pop()
            .and_then(|mut b| b.get_mut("text").map(Value::take)),
        _ => Some(Value::Array(system)),
    };
    let turns = turns
        .into_iter()
        .map(|(role, mut content)| {
            if content.is_empty() {
                content.push(json!({"type": "text", "text": EMPTY_TURN}));
            }
            json!({"role": role, "content": content})
        })
        .collect();
    Ok((system, turns))
}

/// Text and image blocks; empty text is left out, since Anthropic rejects
/// empty text blocks.
fn content_blocks(parts: &[Part]) -> Vec<Value> {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) if t.is_empty() => None,
            Part::Text(t) => Some(json!({"type": "text", "text": t})),
            Part::Image(Image::Inline { mime, data }) => Some(json!({
                "type": "image",
                "source": {"type": "base64", "media_type": mime, "data": data},
            })),
            Part::Image(Image::Url(url)) => Some(json!({
                "type": "image",
                "source": {"type": "url", "url": url},
            })),
        })
        .collect()
}

fn tool_result(m: &Message) -> Value {
    let mut block = json!({"type": "tool_result", "tool_use_id": m.tool_call_id});
    match messages::joined_text(&m.parts) {
        Some(text) if text.is_empty() => {}
        Some(text) => block["content"] = text.into(),
        None => block["content"] = content_blocks(&m.parts).into(),
    }
    block
}
