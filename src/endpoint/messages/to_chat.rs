//! A Messages request as chat completions, for one upstream that does not
//! speak Anthropic's API. Each field is mapped, refused with a 400 naming
//! it, or dropped only where it cannot change the answer (the table is in
//! docs/providers.md). What an upstream can take depends on its protocol
//! and, for reasoning, on its model, so this runs per attempt.

use serde_json::{json, Map, Value};

use super::turns;
use crate::protocol::{Request, RequestError};

/// The upstream a request is translated for.
#[derive(Clone, Copy)]
pub(super) struct Target<'a> {
    pub protocol: &'a str,
    pub model: &'a str,
}

impl Target<'_> {
    /// An error naming `field` and this upstream's protocol.
    pub fn refuse(&self, field: &'static str, why: impl std::fmt::Display) -> RequestError {
        RequestError {
            message: format!("`{field}` {why} on {} backends", self.protocol),
            param: Some(field.into()),
        }
    }

    fn gemini(&self) -> bool {
        self.protocol == "gemini"
    }

    /// OpenAI's reasoning models take `reasoning_effort` and
    /// `max_completion_tokens` (and refuse `max_tokens`); others refuse
    /// `reasoning_effort`. Known by name: o-series, gpt-5 (not its chat
    /// variant), codex.
    fn reasoning(&self) -> bool {
        let name = self.model.rsplit('/').next().unwrap_or(self.model);
        let o_series = ["o1", "o3", "o4"].iter().any(|p| name.starts_with(p));
        let gpt5 = name.starts_with("gpt-5") && !name.contains("-chat");
        o_series || gpt5 || name.starts_with("codex")
    }
}

/// The chat completions form of `req` for `to`.
pub(super) fn chat(req: &Request, to: Target) -> Result<Request, RequestError> {
    let mut c = Chat {
        to,
        out: Map::new(),
        system: None,
        messages: Value::Null,
        thinking: Thinking::default(),
    };
    c.out.insert("model".into(), req.model.clone().into());
    for (name, raw) in &req.fields {
        let value: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
        if !value.is_null() {
            c.field(name, value)?;
        }
    }
    c.finish(req.stream)
}

/// The chat request being written.
struct Chat<'a> {
    to: Target<'a>,
    out: Map<String, Value>,
    system: Option<Value>,
    messages: Value,
    thinking: Thinking,
}

impl Chat<'_> {
    fn put(&mut self, key: &str, value: Value) {
        self.out.insert(key.to_string(), value);
    }

    fn field(&mut self, name: &str, value: Value) -> Result<(), RequestError> {
        let to = self.to;
        match name {
            "system" => self.system = Some(value),
            "messages" => self.messages = value,
            "max_tokens" if to.reasoning() => self.put("max_completion_tokens", value),
            "max_tokens" | "temperature" | "top_p" => self.put(name, value),
            "top_k" if to.gemini() => self.put(name, value),
            "top_k" => return Err(to.refuse("top_k", "is not supported")),
            "stop_sequences" => self.put("stop", value),
            "metadata" => metadata(&value, &mut self.out, to)?,
            "tools" => self.put("tools", tools(&value, to)?),
            "tool_choice" => tool_choice(&value, &mut self.out, to)?,
            "thinking" => self.thinking.mode = Some(value),
            "output_config" => output_config(&value, &mut self.thinking, &mut self.out, to)?,
            "output_format" => self.put("response_format", response_format(&value, to)?),
            "context_management" => context_management(&value, to)?,
            // Service tier and prompt caching tune Anthropic's service, not the answer.
            "service_tier" | "cache_control" => {}
            _ => {
                let message = format!(
                    "the field `{name}` is not supported on {} backends",
                    to.protocol
                );
                return Err(RequestError {
                    message,
                    param: None,
                });
            }
        }
        Ok(())
    }

    fn finish(mut self, stream: bool) -> Result<Request, RequestError> {
        if let Some(effort) = self.thinking.effort(self.to)? {
            self.put("reasoning_effort", effort.into());
        }
        // OpenAI takes `parallel_tool_calls` only along with tools.
        let serial = self.out.remove("parallel_tool_calls");
        let tools = self.out.get("tools").and_then(Value::as_array);
        if let (Some(serial), true) = (serial, tools.is_some_and(|t| !t.is_empty())) {
            self.put("parallel_tool_calls", serial);
        }
        let messages = turns::chat_messages(self.system.as_ref(), &self.messages, self.to)?;
        self.put("messages", messages.into());
        if stream {
            self.put("stream", true.into());
            // The usage chunk carries what `message_delta` reports.
            self.put("stream_options", json!({"include_usage": true}));
        }
        let body = Value::Object(self.out).to_string();
        Request::chat(body.as_bytes())
    }
}

/// `metadata.user_id` is OpenAI's `user`; Anthropic defines no other key.
fn metadata(v: &Value, out: &mut Map<String, Value>, to: Target) -> Result<(), RequestError> {
    let Some(map) = v.as_object() else {
        return Err(to.refuse("metadata", "must be an object"));
    };
    for (key, value) in map {
        match (key.as_str(), value) {
            ("user_id", Value::String(id)) => {
                out.insert("user".into(), id.clone().into());
            }
            ("user_id", Value::Null) => {}
            _ => return Err(to.refuse("metadata", format_args!("key {key:?} is not supported"))),
        }
    }
    Ok(())
}

/// Client tools as function tools. Anthropic's server tools (web search,
/// code execution, ...) run at Anthropic: no other provider has them.
fn tools(v: &Value, to: Target) -> Result<Value, RequestError> {
    let list = v
        .as_array()
        .ok_or_else(|| to.refuse("tools", "must be an array"))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let kind = t.get("type").and_then(Value::as_str).unwrap_or("custom");
        if kind != "custom" {
            let why =
                format_args!("[{i}] is Anthropic's server tool {kind:?}, which is not supported");
            return Err(to.refuse("tools", why));
        }
        let name = t.get("name").and_then(Value::as_str);
        let name = name.ok_or_else(|| to.refuse("tools", format_args!("[{i}] needs a `name`")))?;
        let mut function = json!({"name": name});
        for (key, value) in t.as_object().into_iter().flatten() {
            match key.as_str() {
                "name" | "type" => {}
                "description" => function["description"] = value.clone(),
                "input_schema" => function["parameters"] = value.clone(),
                "strict" => function["strict"] = value.clone(),
                // A caching hint and a streaming granularity: the answer is the same.
                "cache_control" | "eager_input_streaming" => {}
                _ => {
                    let why = format_args!("[{i}].{key} is not supported");
                    return Err(to.refuse("tools", why));
                }
            }
        }
        out.push(json!({"type": "function", "function": function}));
    }
    Ok(Value::Array(out))
}

fn tool_choice(v: &Value, out: &mut Map<String, Value>, to: Target) -> Result<(), RequestError> {
    let choice = match v.get("type").and_then(Value::as_str) {
        Some("auto") => json!("auto"),
        Some("any") => json!("required"),
        Some("none") => json!("none"),
        Some("tool") => match v.get("name").and_then(Value::as_str) {
            Some(name) => json!({"type": "function", "function": {"name": name}}),
            None => return Err(to.refuse("tool_choice", "of type \"tool\" needs a `name`")),
        },
        _ => return Err(to.refuse("tool_choice", "must be auto, any, tool or none")),
    };
    out.insert("tool_choice".into(), choice);
    if v.get("disable_parallel_tool_use").and_then(Value::as_bool) == Some(true) {
        out.insert("parallel_tool_calls".into(), false.into());
    }
    Ok(())
}

/// How hard the model should think: `thinking`, and `output_config.effort`.
#[derive(Default)]
struct Thinking {
    mode: Option<Value>,
    effort: Option<String>,
}

impl Thinking {
    /// OpenAI's `reasoning_effort` for what the client asked. A budget is a
    /// cost and latency choice, not a meaning: where the upstream model
    /// cannot reason (OpenAI's non-reasoning models, which refuse
    /// `reasoning_effort`) it is dropped.
    fn effort(&self, to: Target) -> Result<Option<&'static str>, RequestError> {
        if !(to.gemini() || to.reasoning()) {
            return Ok(None);
        }
        let from_word = |e: &str| match e {
            "low" => Ok(Some("low")),
            "medium" => Ok(Some("medium")),
            "high" | "max" => Ok(Some("high")),
            _ => Err(to.refuse(
                "output_config",
                format_args!("effort {e:?} is not supported"),
            )),
        };
        let Some(mode) = &self.mode else {
            return self.effort.as_deref().map_or(Ok(None), from_word);
        };
        match mode.get("type").and_then(Value::as_str) {
            Some("disabled") => Ok(None),
            Some("adaptive") => self.effort.as_deref().map_or(Ok(None), from_word),
            // A JSON number however written: `1.024e3` is 1024 to Anthropic too.
            Some("enabled") => match mode.get("budget_tokens").and_then(Value::as_f64) {
                Some(b) if b < 4096.0 => Ok(Some("low")),
                Some(b) if b < 16384.0 => Ok(Some("medium")),
                Some(_) => Ok(Some("high")),
                None => Err(to.refuse("thinking", "of type \"enabled\" needs `budget_tokens`")),
            },
            _ => Err(to.refuse("thinking", "must be enabled, adaptive or disabled")),
        }
    }
}

fn output_config(
    v: &Value,
    thinking: &mut Thinking,
    out: &mut Map<String, Value>,
    to: Target,
) -> Result<(), RequestError> {
    for (key, value) in v.as_object().into_iter().flatten() {
        match (key.as_str(), value) {
            (_, Value::Null) => {}
            ("effort", Value::String(e)) => thinking.effort = Some(e.clone()),
            ("format", f) => {
                out.insert("response_format".into(), response_format(f, to)?);
            }
            _ => {
                let why = format_args!("key {key:?} is not supported");
                return Err(to.refuse("output_config", why));
            }
        }
    }
    Ok(())
}

/// Structured output: a JSON schema the answer must follow.
fn response_format(f: &Value, to: Target) -> Result<Value, RequestError> {
    match (f.get("type").and_then(Value::as_str), f.get("schema")) {
        (Some("json_schema"), Some(schema)) => Ok(json!({"type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": true}})),
        _ => Err(to.refuse(
            "output_config",
            "format must be {\"type\": \"json_schema\", \"schema\": ...}",
        )),
    }
}

/// Context editing that clears old thinking is moot where thinking blocks
/// are never sent (see turns); clearing tool results would change what the
/// model sees, and no other provider does it.
fn context_management(v: &Value, to: Target) -> Result<(), RequestError> {
    let edits = v.get("edits").and_then(Value::as_array);
    for edit in edits.into_iter().flatten() {
        let kind = edit.get("type").and_then(Value::as_str).unwrap_or("");
        if !kind.starts_with("clear_thinking") {
            let why = format_args!("edit {kind:?} is not supported");
            return Err(to.refuse("context_management", why));
        }
    }
    Ok(())
}
