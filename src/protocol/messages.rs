//! OpenAI chat messages, decoded into one neutral form that the native
//! protocols (Anthropic, Gemini) render from.

use serde_json::{Map, Value};

use super::carry;
use super::input::Input;
use super::RequestError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// `system` and `developer`.
    System,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Part {
    Text(String),
    Image(Image),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Image {
    /// From a `data:` URL.
    Inline { mime: String, data: String },
    /// An `https://` URL the upstream fetches itself.
    Url(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments, decoded: both protocols take an object, not a string.
    pub arguments: Map<String, Value>,
    /// Gemini's thought signature for this call, carried by the client.
    pub signature: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
    pub tool_calls: Vec<ToolCall>,
    /// Role `tool`: the call this result answers.
    pub tool_call_id: String,
    /// Gemini's thought signature for the message's text, carried by the client.
    pub signature: Option<String>,
    /// Anthropic's signed thinking blocks of an assistant turn, carried by the client.
    pub thinking: Vec<Value>,
}

/// The text a turn OpenAI takes empty gets where the upstream needs some
/// (Anthropic and Gemini refuse empty and whitespace-only text).
pub(super) const EMPTY_TURN: &str = ".";

fn bad(path: &str, message: impl std::fmt::Display) -> RequestError {
    RequestError {
        message: format!("{path}: {message}"),
        param: Some("messages".into()),
    }
}

/// Decodes `messages`, with what neither native protocol has a field for
/// kept in the text: a message's `name` (the speaker) prefixes its text as
/// `name: `, and a system message after the conversation started stays
/// where it is, as a user turn's text prefixed `System: ` (both protocols
/// take system text only before the conversation).
pub(super) fn messages(input: &Input) -> Result<Vec<Message>, RequestError> {
    let Some(Value::Array(list)) = input.get("messages") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(list.len());
    let mut started = false;
    for (i, m) in list.iter().enumerate() {
        let mut msg = message(input, &format!("messages[{i}]"), m)?;
        let name = m
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        let late_system = msg.role == Role::System && started;
        started |= msg.role != Role::System;
        match (late_system, name) {
            (true, Some(name)) => speaker(&mut msg.parts, &format!("System ({name})")),
            (true, None) => speaker(&mut msg.parts, "System"),
            (false, Some(name)) if msg.role != Role::Tool => speaker(&mut msg.parts, name),
            _ => {}
        }
        if late_system {
            msg.role = Role::User;
        }
        out.push(msg);
    }
    Ok(out)
}

/// Starts the text with `label: `.
fn speaker(parts: &mut Vec<Part>, label: &str) {
    match parts.first_mut() {
        Some(Part::Text(t)) => *t = format!("{label}: {t}"),
        _ => parts.insert(0, Part::Text(format!("{label}:"))),
    }
}

fn role(input: &Input, path: &str, m: &Value) -> Result<Role, RequestError> {
    Ok(match m.get("role").and_then(Value::as_str) {
        Some("system" | "developer") => Role::System,
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("tool") => Role::Tool,
        Some("function") => {
            let why = format!(
                "the deprecated role \"function\" is not supported on {} backends; use tools",
                input.protocol
            );
            return Err(bad(path, why));
        }
        _ => {
            return Err(bad(
                path,
                "`role` must be system, developer, user, assistant or tool",
            ))
        }
    })
}

fn message(input: &Input, path: &str, m: &Value) -> Result<Message, RequestError> {
    let role = role(input, path, m)?;
    if m.get("audio").is_some_and(|a| !a.is_null()) {
        let why = format!(
            "assistant audio is not supported on {} backends",
            input.protocol
        );
        return Err(bad(path, why));
    }
    let parts = parts(input, path, m.get("content"))?;
    let tool_calls = match m.get("tool_calls") {
        Some(Value::Array(calls)) if role == Role::Assistant => calls
            .iter()
            .enumerate()
            .map(|(j, c)| tool_call(&format!("{path}.tool_calls[{j}]"), c))
            .collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    let tool_call_id = match (role, m.get("tool_call_id").and_then(Value::as_str)) {
        (Role::Tool, Some(id)) => id.to_string(),
        (Role::Tool, None) => return Err(bad(path, "a tool message needs `tool_call_id`")),
        _ => String::new(),
    };
    let thinking = match role {
        Role::Assistant => carry::thinking_blocks(m),
        _ => Vec::new(),
    };
    Ok(Message {
        role,
        parts,
        tool_calls,
        tool_call_id,
        signature: carry::google_signature(m),
        thinking,
    })
}

fn parts(input: &Input, path: &str, content: Option<&Value>) -> Result<Vec<Part>, RequestError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![Part::Text(s.clone())]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(j, p)| part(input, &format!("{path}.content[{j}]"), p))
            .collect(),
        Some(_) => Err(bad(
            path,
            "`content` must be a string, an array of parts, or null",
        )),
    }
}

fn part(input: &Input, path: &str, p: &Value) -> Result<Part, RequestError> {
    let text = |key: &str| {
        p.get(key)
            .and_then(Value::as_str)
            .map(|t| Part::Text(t.to_string()))
            .ok_or_else(|| bad(path, format!("a {key} part needs a string `{key}`")))
    };
    match p.get("type").and_then(Value::as_str) {
        Some("text") => text("text"),
        Some("refusal") => text("refusal"),
        Some("image_url") => {
            let url = match p.get("image_url") {
                Some(Value::String(u)) => Some(u.as_str()),
                Some(obj) => obj.get("url").and_then(Value::as_str),
                None => None,
            };
            let url = url.ok_or_else(|| bad(path, "an image_url part needs `image_url.url`"))?;
            image(path, url).map(Part::Image)
        }
        Some(other) => Err(bad(
            path,
            format!(
                "content parts of type {other:?} are not supported on {} backends",
                input.protocol
            ),
        )),
        None => Err(bad(path, "a content part needs a `type`")),
    }
}

/// A `data:<mime>;base64,<data>` URL or an https URL.
fn image(path: &str, url: &str) -> Result<Image, RequestError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (head, data) = rest
            .split_once(',')
            .ok_or_else(|| bad(path, "a data URL needs a `,` before its data"))?;
        let mime = head
            .strip_suffix(";base64")
            .filter(|m| !m.is_empty())
            .ok_or_else(|| bad(path, "only base64 data URLs with a media type are supported (data:image/png;base64,...)"))?;
        return Ok(Image::Inline {
            mime: mime.to_string(),
            data: data.to_string(),
        });
    }
    if url.starts_with("https://") {
        return Ok(Image::Url(url.to_string()));
    }
    Err(bad(
        path,
        "an image URL must be https:// or a base64 data: URL",
    ))
}

fn tool_call(path: &str, c: &Value) -> Result<ToolCall, RequestError> {
    let function = c.get("function");
    let name = function
        .and_then(|f| f.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad(path, "a tool call needs `function.name`"))?;
    let id = c
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(path, "a tool call needs an `id`"))?;
    let raw = function
        .and_then(|f| f.get("arguments"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let arguments = if raw.trim().is_empty() {
        Map::new()
    } else {
        match serde_json::from_str(raw) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(bad(
                    path,
                    "`function.arguments` must be a JSON object in a string",
                ))
            }
        }
    };
    Ok(ToolCall {
        id: id.to_string(),
        name: name.to_string(),
        arguments,
        signature: carry::google_signature(c),
    })
}

/// The text of a message's parts, for places that take text only.
pub(super) fn joined_text(parts: &[Part]) -> Option<String> {
    let mut out = String::new();
    for p in parts {
        match p {
            Part::Text(t) => out.push_str(t),
            Part::Image(_) => return None,
        }
    }
    Some(out)
}
