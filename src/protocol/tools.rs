//! OpenAI function tools and tool choice, decoded for the native protocols.

use serde_json::Value;

use super::input::Input;
use super::RequestError;

/// A function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments, as the client sent it.
    pub parameters: Option<Value>,
    /// `function.strict`: the arguments must follow the schema exactly.
    pub strict: bool,
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
                strict: f.get("strict").and_then(Value::as_bool) == Some(true),
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
