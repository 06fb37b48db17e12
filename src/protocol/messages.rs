//! OpenAI chat messages, tools and tool choice, decoded into one neutral
//! form that the native protocols (Anthropic, Gemini) render from.

use serde_json::{Map, Value};

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
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
    pub tool_calls: Vec<ToolCall>,
    /// Role `tool`: the call this result answers.
    pub tool_call_id: String,
}

fn bad(path: &str, message: impl std::fmt::Display) -> RequestError {
    RequestError {
        message: format!("{path}: {message}"),
        param: Some("messages".into()),
    }
}

/// Decodes `messages`.
pub(super) fn messages(input: &Input) -> Result<Vec<Message>, RequestError> {
    let Some(Value::Array(list)) = input.get("messages") else {
        return Ok(Vec::new());
    };
    list.iter()
        .enumerate()
        .map(|(i, m)| message(input, &format!("messages[{i}]"), m))
        .collect()
}

fn message(input: &Input, path: &str, m: &Value) -> Result<Message, RequestError> {
    let role = match m.get("role").and_then(Value::as_str) {
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
    };
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
    Ok(Message {
        role,
        parts,
        tool_calls,
        tool_call_id,
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
    })
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments, as the client sent it.
    pub parameters: Option<Value>,
}

/// Decodes `tools`; only function tools exist in the chat completions API.
pub(super) fn tools(input: &Input) -> Result<Vec<Tool>, RequestError> {
    let Some(list) = input.get("tools") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| input.unsupported("tools", "must be an array"))?;
    list.iter()
        .map(|t| {
            let f = t
                .get("function")
                .filter(|_| t.get("type").and_then(Value::as_str) == Some("function"));
            let name = f.and_then(|f| f.get("name")).and_then(Value::as_str);
            let (Some(f), Some(name)) = (f, name) else {
                return Err(
                    input.unsupported("tools", "other than named function tools are not supported")
                );
            };
            Ok(Tool {
                name: name.to_string(),
                description: f
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                parameters: f.get("parameters").filter(|p| !p.is_null()).cloned(),
            })
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum ToolChoice {
    None,
    Auto,
    Required,
    Function(String),
}

pub(super) fn tool_choice(input: &Input) -> Result<Option<ToolChoice>, RequestError> {
    let Some(v) = input.get("tool_choice") else {
        return Ok(None);
    };
    let choice = match v.as_str() {
        Some("none") => ToolChoice::None,
        Some("auto") => ToolChoice::Auto,
        Some("required") => ToolChoice::Required,
        _ => match v.pointer("/function/name").and_then(Value::as_str) {
            Some(name) => ToolChoice::Function(name.to_string()),
            None => {
                return Err(input.unsupported(
                    "tool_choice",
                    "must be none, auto, required or a named function",
                ))
            }
        },
    };
    Ok(Some(choice))
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
