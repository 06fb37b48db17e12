//! A chat completion (from a chat upstream, or written by a native
//! protocol's translation) → a Responses `response` object.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use super::output::{self, Call, Item, Part};
use super::tools::Names;
use crate::protocol::output::{now, random_id};
use crate::protocol::{Answer, Request};

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    model: String,
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    content: Option<Value>,
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCall>,
}

#[derive(Deserialize)]
struct ToolCall {
    #[serde(default)]
    id: String,
    function: Function,
}

#[derive(Deserialize)]
struct Function {
    name: String,
    #[serde(default)]
    arguments: String,
}

/// The Responses answer for `req` from the chat answer `chat`.
pub(crate) fn from_chat(req: &Request, chat: Answer) -> Result<Answer, String> {
    let c: Completion = serde_json::from_slice(&chat.body)
        .map_err(|e| format!("upstream sent an unreadable chat completion: {e}"))?;
    let choice = c.choices.into_iter().next();
    let finish = choice.as_ref().and_then(|c| c.finish_reason.clone());
    let items = choice
        .map(|c| items(c.message, &Names::read(req)))
        .unwrap_or_default();
    let model = if c.model.is_empty() {
        req.model.clone()
    } else {
        c.model
    };
    let mut body = output::skeleton(req, &random_id("resp_"), &model, now());
    let (status, incomplete) = output::status(finish.as_deref());
    body.insert("status".into(), status.into());
    body.insert("incomplete_details".into(), incomplete);
    let output: Vec<Value> = items.iter().map(|i| i.json("completed")).collect();
    body.insert("output".into(), output.into());
    if let Some(u) = &chat.usage {
        body.insert("usage".into(), output::usage_json(u));
    }
    Ok(Answer {
        state: None,
        body: Bytes::from(Value::Object(body).to_string()),
        usage: chat.usage,
    })
}

fn items(m: Message, names: &Names) -> Vec<Item> {
    let mut parts = Vec::new();
    let text = match m.content {
        Some(Value::String(s)) => s,
        // Some relays send content as text parts.
        Some(Value::Array(p)) => p.iter().filter_map(|p| p.get("text")?.as_str()).collect(),
        _ => String::new(),
    };
    if !text.is_empty() {
        parts.push(Part {
            refusal: false,
            text,
        });
    }
    if let Some(r) = m.refusal.filter(|r| !r.is_empty()) {
        parts.push(Part {
            refusal: true,
            text: r,
        });
    }
    let mut items = Vec::new();
    if !parts.is_empty() {
        items.push(Item::Message {
            id: random_id("msg_"),
            parts,
        });
    }
    items.extend(m.tool_calls.into_iter().map(|t| {
        let origin = names.of(&t.function.name);
        let prefix = if origin.custom { "ctc_" } else { "fc_" };
        Item::Call(Call {
            id: random_id(prefix),
            call_id: t.id,
            name: t.function.name,
            arguments: t.function.arguments,
            origin,
        })
    }));
    items
}
