//! OpenAI request → Gemini `GenerateContentRequest`.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::schema;
use crate::protocol::input::{common_policy, Input, Policy};
use crate::protocol::messages::{self, Image, Message, Part, Role, ToolChoice};
use crate::protocol::{Request, RequestError, Upstream, UpstreamRequest};

fn policy(name: &str) -> Option<Policy> {
    match name {
        "seed" | "frequency_penalty" | "presence_penalty" | "reasoning_effort" => {
            Some(Policy::Mapped)
        }
        // Gemini has no end-user id, and no switch for parallel calls (a
        // client that asked for one call at a time must accept several).
        "user" | "parallel_tool_calls" => Some(Policy::Dropped),
        _ => common_policy(name),
    }
}

pub(super) fn build(t: &Upstream, req: &Request) -> Result<UpstreamRequest, RequestError> {
    let resource = super::resource(t);
    let url = if req.stream {
        format!(
            "{}/v1beta/{resource}:streamGenerateContent?alt=sse",
            t.base_url
        )
    } else {
        format!("{}/v1beta/{resource}:generateContent", t.base_url)
    };
    Ok(UpstreamRequest {
        url,
        headers: super::headers(t),
        body: Bytes::from(body(req)?.to_string()),
    })
}

/// The `GenerateContentRequest` body.
pub(super) fn body(req: &Request) -> Result<Value, RequestError> {
    let input = Input::new(req, "gemini", policy)?;
    input.reject_common(true)?;
    let mut body = Map::new();
    let (system, contents) = convert(&messages::messages(&input)?)?;
    body.insert("contents".into(), Value::Array(contents));
    if let Some(system) = system {
        body.insert("systemInstruction".into(), system);
    }
    tools(&input, &mut body)?;
    let config = generation_config(&input)?;
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    Ok(Value::Object(body))
}

fn generation_config(input: &Input) -> Result<Map<String, Value>, RequestError> {
    let mut c = Map::new();
    let mut put = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            c.insert(key.to_string(), v);
        }
    };
    put("maxOutputTokens", input.max_tokens()?.map(Value::from));
    put("temperature", input.number("temperature")?.map(Value::from));
    put("topP", input.number("top_p")?.map(Value::from));
    put("topK", input.uint("top_k")?.map(Value::from));
    put("candidateCount", input.uint("n")?.map(Value::from));
    let seed = match input.get("seed") {
        Some(v) if !v.is_i64() => return Err(input.unsupported("seed", "must be an integer")),
        v => v.cloned(),
    };
    put("seed", seed);
    put(
        "presencePenalty",
        input.number("presence_penalty")?.map(Value::from),
    );
    put(
        "frequencyPenalty",
        input.number("frequency_penalty")?.map(Value::from),
    );
    let stop = input.stop()?;
    put("stopSequences", (!stop.is_empty()).then(|| stop.into()));
    put("thinkingConfig", thinking(input)?);
    match input.get("response_format") {
        None => {}
        Some(f) => match f.get("type").and_then(Value::as_str) {
            Some("text") => {}
            Some("json_object") => put("responseMimeType", Some("application/json".into())),
            Some("json_schema") => {
                put("responseMimeType", Some("application/json".into()));
                let s = f.pointer("/json_schema/schema");
                put("responseSchema", s.map(schema::to_gemini));
            }
            _ => {
                return Err(input.unsupported(
                    "response_format",
                    "must be text, json_object or json_schema",
                ))
            }
        },
    }
    Ok(c)
}

/// `reasoning_effort` as a thinking budget, with the budgets Google's own
/// OpenAI-compatible endpoint uses for each effort.
fn thinking(input: &Input) -> Result<Option<Value>, RequestError> {
    let budget = match input.string("reasoning_effort")? {
        None => return Ok(None),
        Some("none") => 0,
        Some("minimal" | "low") => 1024,
        Some("medium") => 8192,
        Some("high") => 24576,
        Some(_) => {
            let why = "must be none, minimal, low, medium or high";
            return Err(input.unsupported("reasoning_effort", why));
        }
    };
    Ok(Some(json!({"thinkingBudget": budget})))
}

fn tools(input: &Input, body: &mut Map<String, Value>) -> Result<(), RequestError> {
    let tools = messages::tools(input)?;
    if !tools.is_empty() {
        let declarations: Vec<Value> = tools
            .iter()
            .map(|t| {
                let mut d = json!({"name": t.name});
                if let Some(desc) = &t.description {
                    d["description"] = desc.clone().into();
                }
                if let Some(p) = t.parameters.as_ref().map(schema::to_gemini) {
                    // Gemini rejects an object schema without properties:
                    // a function without arguments declares none.
                    if p.get("properties")
                        .and_then(Value::as_object)
                        .is_some_and(|m| !m.is_empty())
                    {
                        d["parameters"] = p;
                    }
                }
                d
            })
            .collect();
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
    }
    let config = match messages::tool_choice(input)? {
        None => return Ok(()),
        Some(ToolChoice::None) => json!({"mode": "NONE"}),
        Some(ToolChoice::Auto) => json!({"mode": "AUTO"}),
        Some(ToolChoice::Required) => json!({"mode": "ANY"}),
        Some(ToolChoice::Function(name)) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
    };
    body.insert(
        "toolConfig".into(),
        json!({"functionCallingConfig": config}),
    );
    Ok(())
}

/// The system instruction and the `contents`, consecutive turns of one role
/// merged (tool results of one assistant turn land in one user turn).
fn convert(list: &[Message]) -> Result<(Option<Value>, Vec<Value>), RequestError> {
    // functionResponse needs the function's name; OpenAI only gives the id.
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut system: Vec<Value> = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let (role, parts) = match m.role {
            Role::System => {
                let text = messages::joined_text(&m.parts)
                    .ok_or_else(|| bad(i, "system messages take text only"))?;
                if !text.is_empty() {
                    system.push(json!({"text": text}));
                }
                continue;
            }
            Role::User => ("user", parts(&m.parts)),
            Role::Assistant => {
                let mut p = parts(&m.parts);
                for c in &m.tool_calls {
                    names.insert(&c.id, &c.name);
                    p.push(json!({"functionCall": {"name": c.name, "args": c.arguments}}));
                }
                ("model", p)
            }
            Role::Tool => {
                let name = names.get(m.tool_call_id.as_str()).ok_or_else(|| {
                    bad(i, "`tool_call_id` matches no earlier assistant tool call (gemini needs its function name)")
                })?;
                let text = messages::joined_text(&m.parts)
                    .ok_or_else(|| bad(i, "tool results take text only"))?;
                let part =
                    json!({"functionResponse": {"name": name, "response": {"content": text}}});
                ("user", vec![part])
            }
        };
        match turns.last_mut() {
            _ if parts.is_empty() => {}
            Some((last, content)) if *last == role => content.extend(parts),
            _ => turns.push((role, parts)),
        }
    }
    let system = (!system.is_empty()).then(|| json!({"parts": system}));
    let contents = turns
        .into_iter()
        .map(|(role, parts)| json!({"role": role, "parts": parts}))
        .collect();
    Ok((system, contents))
}

fn bad(i: usize, why: &str) -> RequestError {
    RequestError {
        message: format!("messages[{i}]: {why} on gemini backends"),
        param: Some("messages"),
    }
}

fn parts(list: &[Part]) -> Vec<Value> {
    list.iter()
        .filter_map(|p| match p {
            Part::Text(t) if t.is_empty() => None,
            Part::Text(t) => Some(json!({"text": t})),
            Part::Image(Image::Inline { mime, data }) => {
                Some(json!({"inlineData": {"mimeType": mime, "data": data}}))
            }
            Part::Image(Image::Url(url)) => {
                Some(json!({"fileData": {"mimeType": mime_from_url(url), "fileUri": url}}))
            }
        })
        .collect()
}

/// Gemini needs a media type for a URL; guess it from the extension.
fn mime_from_url(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("heic") => "image/heic",
        Some("heif") => "image/heif",
        _ => "image/jpeg",
    }
}
