//! OpenAI `tools`, `tool_choice` and `parallel_tool_calls` → Gemini `tools`
//! and `toolConfig`.

use serde_json::{json, Map, Value};

use super::{schema, Generation};
use crate::protocol::input::Input;
use crate::protocol::tools::{self as openai_tools, Tool, ToolChoice};
use crate::protocol::RequestError;

pub(super) fn tools(
    input: &Input,
    generation: Generation,
    body: &mut Map<String, Value>,
) -> Result<(), RequestError> {
    let tools = openai_tools::tools(input)?;
    if !tools.is_empty() {
        let declarations = tools
            .iter()
            .map(|t| declaration(input, generation, t))
            .collect::<Result<Vec<_>, _>>()?;
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
    }
    let choice = openai_tools::tool_choice(input)?;
    let serial = input.get("parallel_tool_calls").and_then(Value::as_bool) == Some(false);
    if serial && !tools.is_empty() && choice != Some(ToolChoice::None) {
        // Gemini has no switch for it: the client could get several calls.
        return Err(input.unsupported(
            "parallel_tool_calls",
            "false (at most one call per turn) is not supported",
        ));
    }
    let config = match choice {
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

/// One function declaration: the parameters' JSON Schema unchanged where the
/// model takes JSON Schema, else converted to `Schema` (or refused).
fn declaration(input: &Input, generation: Generation, t: &Tool) -> Result<Value, RequestError> {
    let mut d = json!({"name": t.name});
    if let Some(desc) = &t.description {
        d["description"] = desc.clone().into();
    }
    let Some(parameters) = &t.parameters else {
        return Ok(d);
    };
    if generation >= Generation::Gemini25 {
        d["parametersJsonSchema"] = parameters.clone();
        return Ok(d);
    }
    let converted = schema::to_gemini(parameters).map_err(|what| {
        let why = format!(
            "with {what} (function {:?}) are not supported by models before Gemini 2.5",
            t.name
        );
        input.unsupported("tools", &why)
    })?;
    // `Schema` rejects an object without properties: a function without
    // arguments declares none.
    let has_properties = converted
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty());
    if has_properties {
        d["parameters"] = converted;
    }
    Ok(d)
}
