//! OpenAI request → Anthropic Messages request.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::thinking;
use super::turns;
use crate::protocol::input::{common_policy, Input, Policy};
use crate::protocol::messages;
use crate::protocol::tools::{self as openai_tools, Tool, ToolChoice};
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
    let body = body(req, t.model, a)?;
    Ok(UpstreamRequest {
        url: format!("{}/v1/messages", t.base_url),
        headers: a.headers(t),
        body: Bytes::from(body.to_string()),
    })
}

/// The Messages API body for `model`, with the provider's options.
pub(super) fn body(
    req: &Request,
    model: &str,
    a: &super::Anthropic,
) -> Result<Value, RequestError> {
    let input = Input::new(req, "anthropic", policy)?;
    input.reject_common(false)?;
    if let Some(f) = input.get("response_format") {
        if f.get("type").and_then(Value::as_str) != Some("text") {
            return Err(input.unsupported("response_format", "(JSON output) is not supported"));
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), model.into());
    let list = messages::messages(&input)?;
    let effort = thinking::effort(&input, &list)?;
    let (system, msgs) = turns::convert(&list, effort.is_some())?;
    if let Some(system) = system {
        body.insert("system".into(), system);
    }
    body.insert("messages".into(), Value::Array(msgs));
    let client_max = input.max_tokens()?;
    let max = client_max.unwrap_or(a.default_max_tokens);
    body.insert("max_tokens".into(), max.into());
    if let Some(effort) = effort {
        thinking::apply(&input, a.thinking, effort, client_max.is_none(), &mut body)?;
    }
    sampling(&input, model, &mut body)?;
    tools(&input, &mut body)?;
    if let Some(user) = input.string("user")? {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    if req.stream {
        body.insert("stream".into(), true.into());
    }
    Ok(Value::Object(body))
}

fn sampling(input: &Input, model: &str, body: &mut Map<String, Value>) -> Result<(), RequestError> {
    let mut temperature = input.number("temperature")?;
    let mut top_p = input.number("top_p")?;
    // OpenAI's range is 0..2, Anthropic's 0..1; rescaling would change
    // what the client asked for, so only the common range passes.
    if temperature.is_some_and(|t| t > 1.0) {
        return Err(input.unsupported("temperature", "above 1 is not supported"));
    }
    if let (Some(t), Some(p)) = (temperature, top_p) {
        if !takes_temperature_with_top_p(model) {
            // One of them at its default (1) means nothing: leave it out.
            match (t == 1.0, p >= 1.0) {
                (_, true) => top_p = None,
                (true, false) => temperature = None,
                (false, false) => {
                    let why = format!("together with `temperature` is not supported by {model} (Anthropic takes one of them)");
                    return Err(input.unsupported("top_p", &why));
                }
            }
        }
    }
    if let Some(t) = temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = top_p {
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
    let tools = openai_tools::tools(input)?;
    if !tools.is_empty() {
        body.insert("tools".into(), tools.iter().map(tool).collect());
    }
    let serial = input.get("parallel_tool_calls").and_then(Value::as_bool) == Some(false);
    let mut choice = match openai_tools::tool_choice(input)? {
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

/// Models from Claude Opus 4.1 and Sonnet 4.5 on answer 400 to `temperature`
/// and `top_p` together; the older ones, named here, take both.
fn takes_temperature_with_top_p(model: &str) -> bool {
    const OLDER: &[&str] = &[
        "claude-2",
        "claude-instant",
        "claude-3",
        "claude-sonnet-4-0",
        "claude-sonnet-4-2025",
        "claude-opus-4-0",
        "claude-opus-4-2025",
    ];
    OLDER.iter().any(|p| model.starts_with(p))
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
    if t.strict {
        v["strict"] = true.into();
    }
    v
}
