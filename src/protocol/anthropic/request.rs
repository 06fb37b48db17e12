//! OpenAI request → Anthropic Messages request.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::protocol::input::{common_policy, Input, Policy};
use crate::protocol::messages::{self, Image, Message, Part, Role, Tool, ToolChoice};
use crate::protocol::{Request, RequestError, Upstream, UpstreamRequest};

fn policy(name: &str) -> Option<Policy> {
    match name {
        "user" | "parallel_tool_calls" => Some(Policy::Mapped),
        // Sampling nudges Anthropic has no equivalent for; the answer's
        // meaning does not depend on them.
        "seed" | "frequency_penalty" | "presence_penalty" => Some(Policy::Dropped),
        _ => common_policy(name),
    }
}

pub(super) fn build(
    a: &super::Anthropic,
    t: &Upstream,
    req: &Request,
) -> Result<UpstreamRequest, RequestError> {
    let body = body(req, t.model, a.default_max_tokens)?;
    Ok(UpstreamRequest {
        url: format!("{}/v1/messages", t.base_url),
        headers: a.headers(t),
        body: Bytes::from(body.to_string()),
    })
}

/// The Messages API body.
pub(super) fn body(req: &Request, model: &str, default_max: u64) -> Result<Value, RequestError> {
    let input = Input::new(req, "anthropic", policy)?;
    input.reject_common(false)?;
    if let Some(f) = input.get("response_format") {
        if f.get("type").and_then(Value::as_str) != Some("text") {
            return Err(input.unsupported("response_format", "(JSON output) is not supported"));
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), model.into());
    let (system, msgs) = convert(&messages::messages(&input)?)?;
    if let Some(system) = system {
        body.insert("system".into(), system);
    }
    body.insert("messages".into(), Value::Array(msgs));
    let max = input.max_tokens()?.unwrap_or(default_max);
    body.insert("max_tokens".into(), max.into());
    sampling(&input, &mut body)?;
    tools(&input, &mut body)?;
    if let Some(user) = input.string("user")? {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    if req.stream {
        body.insert("stream".into(), true.into());
    }
    Ok(Value::Object(body))
}

fn sampling(input: &Input, body: &mut Map<String, Value>) -> Result<(), RequestError> {
    if let Some(t) = input.number("temperature")? {
        // OpenAI's range is 0..2, Anthropic's 0..1; rescaling would change
        // what the client asked for, so only the common range passes.
        if t > 1.0 {
            return Err(input.unsupported("temperature", "above 1 is not supported"));
        }
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = input.number("top_p")? {
        body.insert("top_p".into(), json!(p));
    }
    if let Some(k) = input.uint("top_k")? {
        body.insert("top_k".into(), k.into());
    }
    let stop = input.stop()?;
    if !stop.is_empty() {
        body.insert("stop_sequences".into(), stop.into());
    }
    Ok(())
}

fn tools(input: &Input, body: &mut Map<String, Value>) -> Result<(), RequestError> {
    let tools = messages::tools(input)?;
    if !tools.is_empty() {
        body.insert("tools".into(), tools.iter().map(tool).collect());
    }
    let serial = input.get("parallel_tool_calls").and_then(Value::as_bool) == Some(false);
    let mut choice = match messages::tool_choice(input)? {
        Some(ToolChoice::None) => json!({"type": "none"}),
        Some(ToolChoice::Auto) => json!({"type": "auto"}),
        Some(ToolChoice::Required) => json!({"type": "any"}),
        Some(ToolChoice::Function(name)) => json!({"type": "tool", "name": name}),
        None if serial && !tools.is_empty() => json!({"type": "auto"}),
        None => return Ok(()),
    };
    if serial && choice["type"] != "none" {
        choice["disable_parallel_tool_use"] = true.into();
    }
    body.insert("tool_choice".into(), choice);
    Ok(())
}

fn tool(t: &Tool) -> Value {
    let mut v = json!({
        "name": t.name,
        // Anthropic requires a schema; OpenAI allows none for no arguments.
        "input_schema": t.parameters.clone().unwrap_or_else(|| json!({"type": "object", "properties": {}})),
    });
    if let Some(d) = &t.description {
        v["description"] = d.clone().into();
    }
    v
}

/// System text, and the conversation as strictly alternating user and
/// assistant turns: Anthropic rejects two turns of one role in a row, so
/// those are merged (tool results become user turns, hence merge too).
fn convert(list: &[Message]) -> Result<(Option<Value>, Vec<Value>), RequestError> {
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
                let mut blocks = content_blocks(&m.parts);
                blocks.extend(m.tool_calls.iter().map(|c| {
                    json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments})
                }));
                ("assistant", blocks)
            }
            Role::Tool => ("user", vec![tool_result(m)]),
        };
        match turns.last_mut() {
            _ if blocks.is_empty() => {}
            Some((last, content)) if *last == role => content.extend(blocks),
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
        .map(|(role, content)| json!({"role": role, "content": content}))
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
