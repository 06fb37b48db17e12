//! A Responses request → the chat completions request a translated
//! backend gets. Each top-level field is mapped, refused naming it, or
//! dropped only where it cannot change the answer (docs/providers.md).

use indexmap::IndexMap;
use serde_json::{json, Value};

use super::{items, tools};
use crate::protocol::{Api, RawFields, Request, RequestError};

/// What becomes of a top-level field.
enum Rule {
    /// Read by [`to_chat`].
    Mapped,
    /// Cannot change the answer: tunes OpenAI's service (caching, tiers,
    /// logging ids), tags a stored response, or asks for detail only
    /// OpenAI's built-in tools and reasoning produce.
    Dropped,
}

fn rule(name: &str) -> Option<Rule> {
    match name {
        "input"
        | "instructions"
        | "tools"
        | "tool_choice"
        | "parallel_tool_calls"
        | "text"
        | "reasoning"
        | "max_output_tokens"
        | "temperature"
        | "top_p"
        | "user"
        | "store"
        | "include"
        | "truncation"
        | "background"
        | "top_logprobs"
        | "prompt_cache_key"
        | "safety_identifier"
        | "service_tier"
        | "previous_response_id"
        | "conversation"
        | "prompt" => Some(Rule::Mapped),
        "metadata" | "stream_options" | "client_metadata" | "max_tool_calls" => Some(Rule::Dropped),
        _ => None,
    }
}

/// The fields, decoded, nulls dropped (null means the default).
struct Fields(IndexMap<String, Value>);

impl Fields {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
}

fn refuse(field: &'static str, why: &str, protocol: &str) -> RequestError {
    RequestError {
        message: format!("`{field}` {why} on {protocol} backends"),
        param: Some(field.into()),
    }
}

/// The fields, each mapped or dropped by its [`rule`]; an unknown one refused.
fn decode(req: &Request, protocol: &str) -> Result<Fields, RequestError> {
    let mut fields = IndexMap::new();
    for (name, raw) in &req.fields {
        let value: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
        match rule(name) {
            _ if value.is_null() => {}
            Some(Rule::Mapped) => {
                fields.insert(name.to_string(), value);
            }
            Some(Rule::Dropped) => {}
            None => {
                return Err(RequestError {
                    message: format!("the field `{name}` is not supported on {protocol} backends"),
                    param: None,
                })
            }
        }
    }
    Ok(Fields(fields))
}

/// The chat completions request for `req`, a Responses request.
pub(super) fn to_chat(req: &Request, protocol: &str) -> Result<Request, RequestError> {
    let f = decode(req, protocol)?;
    refuse_state(&f, protocol)?;
    let offer = tools::offer(f.get("tools"), protocol)?;
    let instructions = f.get("instructions").and_then(Value::as_str);
    let messages = items::messages(instructions, f.get("input"), &offer.names, protocol)?;
    let mut chat: IndexMap<&str, Value> = IndexMap::new();
    chat.insert("messages", Value::Array(messages));
    let choice = f.get("tool_choice");
    let choice = choice
        .map(|c| tools::choice(c, &offer, protocol))
        .transpose()?;
    // Chat completions take both only beside tools.
    if !offer.tools.is_empty() {
        chat.insert("tools", Value::Array(offer.tools));
        chat.extend(choice.map(|c| ("tool_choice", c)));
        let parallel = f.get("parallel_tool_calls").cloned();
        chat.extend(parallel.map(|p| ("parallel_tool_calls", p)));
    }
    output_options(&f, &mut chat, protocol)?;
    for (from, to) in [
        ("max_output_tokens", "max_completion_tokens"),
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("user", "user"),
        ("prompt_cache_key", "prompt_cache_key"),
        ("safety_identifier", "safety_identifier"),
        ("service_tier", "service_tier"),
    ] {
        if let Some(v) = f.get(from) {
            chat.insert(to, v.clone());
        }
    }
    Ok(Request {
        api: Api::ChatCompletions,
        model: req.model.clone(),
        stream: req.stream,
        backend: None,
        // Usage is part of every Responses answer.
        client_wants_usage: true,
        fields: raw_fields(chat),
        original: None,
        hub: None,
    })
}

/// The gateway keeps no conversations: what needs one is refused.
fn refuse_state(f: &Fields, protocol: &str) -> Result<(), RequestError> {
    let held =
        "needs the conversation state that only a Responses backend holds; it is not supported";
    if f.get("previous_response_id").is_some() {
        return Err(refuse("previous_response_id", held, protocol));
    }
    if f.get("conversation").is_some() {
        return Err(refuse("conversation", held, protocol));
    }
    if f.get("store").and_then(Value::as_bool) == Some(true) {
        return Err(refuse(
            "store",
            "= true (a stored response) is not supported",
            protocol,
        ));
    }
    if f.get("prompt").is_some() {
        return Err(refuse(
            "prompt",
            "(a stored prompt template) is not supported",
            protocol,
        ));
    }
    if f.get("background").and_then(Value::as_bool) == Some(true) {
        return Err(refuse("background", "= true is not supported", protocol));
    }
    if f.get("truncation")
        .and_then(Value::as_str)
        .is_some_and(|t| t != "disabled")
    {
        return Err(refuse(
            "truncation",
            "other than \"disabled\" is not supported",
            protocol,
        ));
    }
    if f.get("top_logprobs")
        .and_then(Value::as_u64)
        .is_some_and(|n| n > 0)
    {
        return Err(refuse("top_logprobs", "is not supported", protocol));
    }
    let include = f.get("include").and_then(Value::as_array);
    if include.is_some_and(|i| i.iter().any(|x| x == "message.output_text.logprobs")) {
        return Err(refuse(
            "include",
            "with message.output_text.logprobs is not supported",
            protocol,
        ));
    }
    Ok(())
}

/// `text.format`, `text.verbosity` and `reasoning.effort`.
fn output_options(
    f: &Fields,
    chat: &mut IndexMap<&str, Value>,
    protocol: &str,
) -> Result<(), RequestError> {
    let text = f.get("text");
    if let Some(format) = text.and_then(|t| t.get("format")).filter(|v| !v.is_null()) {
        let pick = |keys: &[&str]| {
            let picked = keys
                .iter()
                .filter_map(|k| Some((k.to_string(), format.get(*k)?.clone())));
            Value::Object(picked.filter(|(_, v)| !v.is_null()).collect())
        };
        match format.get("type").and_then(Value::as_str) {
            Some("text") => {}
            Some("json_object") => {
                chat.insert("response_format", json!({"type": "json_object"}));
            }
            Some("json_schema") => {
                let schema = pick(&["name", "schema", "strict", "description"]);
                chat.insert(
                    "response_format",
                    json!({"type": "json_schema", "json_schema": schema}),
                );
            }
            _ => {
                return Err(refuse(
                    "text",
                    "format must be text, json_object or json_schema",
                    protocol,
                ))
            }
        }
    }
    if let Some(v) = text
        .and_then(|t| t.get("verbosity"))
        .filter(|v| !v.is_null())
    {
        chat.insert("verbosity", v.clone());
    }
    // A reasoning summary is extra output, not a different answer.
    if let Some(e) = f
        .get("reasoning")
        .and_then(|r| r.get("effort"))
        .filter(|v| !v.is_null())
    {
        chat.insert("reasoning_effort", e.clone());
    }
    Ok(())
}

fn raw_fields(chat: IndexMap<&str, Value>) -> RawFields {
    let mut fields = RawFields::default();
    // The map's names are unique already.
    for (k, v) in chat {
        fields.push(k, &v.to_string());
    }
    fields
}

/// A refusal of the translated request, in the client's terms: the chat
/// field it names is the Responses field it came from.
pub(super) fn in_responses_terms(e: RequestError) -> RequestError {
    const FIELDS: [(&str, &str, &str); 4] = [
        ("response_format", "text", "text.format"),
        (
            "max_completion_tokens",
            "max_output_tokens",
            "max_output_tokens",
        ),
        ("reasoning_effort", "reasoning", "reasoning.effort"),
        ("messages", "input", "input"),
    ];
    let mut e = e.renamed(&FIELDS);
    if let Some(rest) = e.message.strip_prefix("messages[") {
        e.message = format!("input, as chat message [{rest}");
    }
    e
}
