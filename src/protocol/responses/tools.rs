//! Responses tools → chat completions function tools, and back: which
//! function name came from a `custom` tool or a `namespace`, so its calls
//! return as the client's kind of item.

use serde_json::{json, Map, Value};

use crate::protocol::RequestError;

/// Where an offered function came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Origin {
    /// A `custom` tool: one string argument, `input`, returned as a
    /// `custom_tool_call`.
    pub custom: bool,
    /// The `namespace` it was flattened out of.
    pub namespace: Option<String>,
}

/// The function names the chat request offers, with their origins.
#[derive(Debug, Default)]
pub(super) struct Names(Vec<(String, Origin)>);

impl Names {
    pub fn of(&self, name: &str) -> Origin {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, o)| o.clone())
            .unwrap_or_default()
    }

    /// The origins alone, without the chat tools: for answers and streams.
    pub fn read(req: &crate::protocol::Request) -> Names {
        let tools = req.get::<Value>("tools");
        offer(tools.as_ref(), "")
            .map(|o| o.names)
            .unwrap_or_default()
    }
}

/// What a translated backend is offered.
pub(super) struct Offer {
    pub tools: Vec<Value>,
    pub names: Names,
}

fn bad(message: String) -> RequestError {
    RequestError {
        message,
        param: Some("tools".into()),
    }
}

/// The chat tools for `tools`: functions as they are, a `custom` tool as a
/// function of one string, a `namespace` flattened into its tools, and
/// built-in tools (which only OpenAI runs) left out.
pub(super) fn offer(tools: Option<&Value>, protocol: &str) -> Result<Offer, RequestError> {
    let mut offer = Offer {
        tools: Vec::new(),
        names: Names::default(),
    };
    let Some(list) = tools.filter(|t| !t.is_null()) else {
        return Ok(offer);
    };
    let list = list
        .as_array()
        .ok_or_else(|| bad("`tools` must be an array".into()))?;
    for (i, tool) in list.iter().enumerate() {
        match kind(tool) {
            "function" | "custom" => offer.add(tool, None, i)?,
            "namespace" => {
                let ns = tool.get("name").and_then(Value::as_str).unwrap_or_default();
                let about = tool.get("description").and_then(Value::as_str);
                let inner = tool.get("tools").and_then(Value::as_array);
                for t in inner.into_iter().flatten() {
                    offer.add(t, Some((ns, about)), i)?;
                }
            }
            other => tracing::debug!(
                tool = other,
                protocol,
                "built-in tool left out of the offer"
            ),
        }
    }
    Ok(offer)
}

fn kind(tool: &Value) -> &str {
    tool.get("type").and_then(Value::as_str).unwrap_or("")
}

impl Offer {
    fn add(
        &mut self,
        t: &Value,
        ns: Option<(&str, Option<&str>)>,
        i: usize,
    ) -> Result<(), RequestError> {
        let name = t
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("tools[{i}]: a {} tool needs a `name`", kind(t))))?;
        if self.names.0.iter().any(|(n, _)| n == name) {
            return Err(bad(format!(
                "tools[{i}]: two tools are named {name:?}; translated backends cannot tell them apart"
            )));
        }
        let custom = kind(t) == "custom";
        let mut about: Vec<&str> = Vec::new();
        about.extend(ns.and_then(|(_, d)| d).filter(|d| !d.is_empty()));
        about.extend(t.get("description").and_then(Value::as_str));
        let mut description = about.join("\n\n");
        let mut function = Map::new();
        function.insert("name".into(), name.into());
        if custom {
            description.push_str(&grammar_note(t.get("format")));
            function.insert("parameters".into(), one_string());
        } else {
            for key in ["parameters", "strict"] {
                if let Some(v) = t.get(key).filter(|v| !v.is_null()) {
                    function.insert(key.into(), v.clone());
                }
            }
        }
        if !description.is_empty() {
            function.insert("description".into(), description.into());
        }
        self.tools
            .push(json!({"type": "function", "function": function}));
        let namespace = ns.map(|(n, _)| n.to_string());
        self.names
            .0
            .push((name.to_string(), Origin { custom, namespace }));
        Ok(())
    }
}

/// The schema of a custom tool's one argument.
fn one_string() -> Value {
    json!({
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The tool's input, as free text."}},
        "required": ["input"],
        "additionalProperties": false,
    })
}

/// A grammar the chat API cannot enforce, told to the model instead.
fn grammar_note(format: Option<&Value>) -> String {
    let Some(f) = format.filter(|f| kind(f) == "grammar") else {
        return String::new();
    };
    let syntax = f.get("syntax").and_then(Value::as_str).unwrap_or("lark");
    let definition = f.get("definition").and_then(Value::as_str).unwrap_or("");
    format!("\n\nThe `input` argument must follow this {syntax} grammar:\n{definition}")
}

/// `tool_choice` in chat terms. Only a choice that requires a tool the
/// upstream cannot run is refused.
pub(super) fn choice(choice: &Value, offer: &Offer, protocol: &str) -> Result<Value, RequestError> {
    let refuse = |why: String| RequestError {
        message: format!("`tool_choice` {why} on {protocol} backends"),
        param: Some("tool_choice".into()),
    };
    match choice {
        Value::String(s) if s == "required" && offer.tools.is_empty() => Err(refuse(
            "\"required\" needs a function or custom tool; built-in tools cannot run".into(),
        )),
        Value::String(s) if matches!(s.as_str(), "none" | "auto" | "required") => {
            Ok(choice.clone())
        }
        _ => match (kind(choice), choice.get("name").and_then(Value::as_str)) {
            ("function" | "custom", Some(name)) => {
                Ok(json!({"type": "function", "function": {"name": name}}))
            }
            (other, _) => Err(refuse(format!("of type {other:?} is not supported"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_custom_namespaces_and_built_ins() {
        let tools = json!([
            {"type": "function", "name": "exec", "description": "run", "strict": false,
             "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
            {"type": "custom", "name": "apply_patch", "description": "edit",
             "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}},
            {"type": "namespace", "name": "crm", "description": "the CRM",
             "tools": [{"type": "function", "name": "find", "parameters": {"type": "object"}}]},
            {"type": "web_search"},
            {"type": "tool_search", "execution": "client"},
        ]);
        let o = offer(Some(&tools), "gemini").unwrap();
        let names: Vec<&str> = o
            .tools
            .iter()
            .map(|t| t["function"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["exec", "apply_patch", "find"]);
        assert_eq!(o.tools[0]["function"]["strict"], false);
        let patch = &o.tools[1]["function"];
        assert_eq!(patch["parameters"]["required"], json!(["input"]));
        assert!(patch["description"]
            .as_str()
            .unwrap()
            .ends_with("lark grammar:\nstart: x"));
        assert_eq!(o.tools[2]["function"]["description"], "the CRM");
        assert_eq!(
            o.names.of("apply_patch"),
            Origin {
                custom: true,
                namespace: None
            }
        );
        assert_eq!(o.names.of("find").namespace.as_deref(), Some("crm"));
        assert_eq!(o.names.of("exec"), Origin::default());
    }

    #[test]
    fn names_must_be_unique_and_choices_runnable() {
        let twice = json!([{"type": "function", "name": "a"}, {"type": "namespace", "name": "n", "tools": [{"type": "function", "name": "a"}]}]);
        assert_eq!(
            offer(Some(&twice), "x").err().unwrap().param.as_deref(),
            Some("tools")
        );
        let only_builtin = offer(Some(&json!([{"type": "web_search"}])), "x").unwrap();
        assert!(choice(&json!("required"), &only_builtin, "x").is_err());
        assert_eq!(choice(&json!("auto"), &only_builtin, "x").unwrap(), "auto");
        assert!(choice(&json!({"type": "web_search"}), &only_builtin, "x").is_err());
        assert_eq!(
            choice(&json!({"type": "custom", "name": "p"}), &only_builtin, "x").unwrap(),
            json!({"type": "function", "function": {"name": "p"}})
        );
    }
}
