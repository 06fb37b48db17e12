//! OpenAI request → Gemini `GenerateContentRequest`.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::{contents, generation, schema, tools, Generation};
use crate::protocol::input::{common_policy, Effort, Input, Policy};
use crate::protocol::messages;
use crate::protocol::{Request, RequestError, Upstream, UpstreamRequest};

fn policy(name: &str) -> Option<Policy> {
    match name {
        "seed" | "frequency_penalty" | "presence_penalty" | "parallel_tool_calls" => {
            Some(Policy::Mapped)
        }
        // Gemini has no end-user id (an abuse-tracking id only).
        "user" => Some(Policy::Dropped),
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
        body: Bytes::from(body(req, t.model)?.to_string()),
    })
}

/// The `GenerateContentRequest` body for `model`.
pub(super) fn body(req: &Request, model: &str) -> Result<Value, RequestError> {
    let generation = generation(model);
    let input = Input::new(req, "gemini", policy)?;
    input.reject_common(true)?;
    let mut body = Map::new();
    let (system, contents) = contents::convert(&messages::messages(&input)?, generation)?;
    body.insert("contents".into(), Value::Array(contents));
    if let Some(system) = system {
        body.insert("systemInstruction".into(), system);
    }
    tools::tools(&input, generation, &mut body)?;
    let config = generation_config(&input, generation)?;
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    Ok(Value::Object(body))
}

fn generation_config(
    input: &Input,
    generation: Generation,
) -> Result<Map<String, Value>, RequestError> {
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
    response_format(input, generation, &mut c)?;
    if let Some(effort) = input.reasoning_effort()? {
        c.insert("thinkingConfig".into(), thinking(effort, generation));
    }
    Ok(c)
}

/// The largest budget every Gemini 2.5 model takes (2.5 Flash's maximum).
const MAX_BUDGET: u64 = 24576;

/// `reasoning_effort`: a level from Gemini 3, a token budget before (Gemini
/// 3 cannot switch thinking off: `none` is its `minimal`). Thought
/// summaries come back as `reasoning_content` unless the effort is `none`.
fn thinking(effort: Effort, generation: Generation) -> Value {
    let show = effort != Effort::None;
    if generation < Generation::Gemini3 {
        let budget = effort.budget().min(MAX_BUDGET);
        return json!({"thinkingBudget": budget, "includeThoughts": show});
    }
    let level = match effort {
        Effort::None | Effort::Minimal => "minimal",
        Effort::Low => "low",
        Effort::Medium => "medium",
        Effort::High | Effort::XHigh => "high",
    };
    json!({"thinkingLevel": level, "includeThoughts": show})
}

/// JSON output: the schema unchanged where the model takes JSON Schema,
/// else converted to `Schema` (or refused).
fn response_format(
    input: &Input,
    generation: Generation,
    c: &mut Map<String, Value>,
) -> Result<(), RequestError> {
    let Some(f) = input.get("response_format") else {
        return Ok(());
    };
    let kind = f.get("type").and_then(Value::as_str);
    if kind == Some("text") {
        return Ok(());
    }
    if !matches!(kind, Some("json_object" | "json_schema")) {
        let why = "must be text, json_object or json_schema";
        return Err(input.unsupported("response_format", why));
    }
    c.insert("responseMimeType".into(), "application/json".into());
    let Some(s) = f
        .pointer("/json_schema/schema")
        .filter(|_| kind == Some("json_schema"))
    else {
        return Ok(());
    };
    if generation >= Generation::Gemini25 {
        c.insert("responseJsonSchema".into(), s.clone());
        return Ok(());
    }
    let converted = schema::to_gemini(s).map_err(|what| {
        let why = format!("schemas with {what} are not supported by models before Gemini 2.5");
        input.unsupported("response_format", &why)
    })?;
    c.insert("responseSchema".into(), converted);
    Ok(())
}
