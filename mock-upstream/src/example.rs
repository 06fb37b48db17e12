//! An instance of a JSON Schema, so JSON-mode answers parse: the mock
//! follows `$ref` (into the root's `$defs`), `const`, `enum`, `anyOf` /
//! `oneOf` (the first alternative), objects (every property) and arrays
//! (one item).

use serde_json::{json, Map, Value};

pub fn instance(root: &Value) -> Value {
    generate(root, root, 0)
}

fn generate(schema: &Value, root: &Value, depth: usize) -> Value {
    if depth > 32 {
        return Value::Null;
    }
    if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        let path = target.trim_start_matches('#');
        return match root.pointer(path) {
            Some(s) => generate(s, root, depth + 1),
            None => Value::Null,
        };
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(first) = schema.get("enum").and_then(|e| e.get(0)) {
        return first.clone();
    }
    let alternatives = schema.get("anyOf").or_else(|| schema.get("oneOf"));
    if let Some(first) = alternatives.and_then(|a| a.get(0)) {
        return generate(first, root, depth + 1);
    }
    let kind = match schema.get("type") {
        Some(Value::Array(types)) => types.first().and_then(Value::as_str),
        Some(t) => t.as_str(),
        None if schema.get("properties").is_some() => Some("object"),
        None => None,
    };
    match kind.map(str::to_ascii_lowercase).as_deref() {
        Some("object") => {
            let props = schema.get("properties").and_then(Value::as_object);
            let fields: Map<String, Value> = props
                .into_iter()
                .flatten()
                .map(|(k, s)| (k.clone(), generate(s, root, depth + 1)))
                .collect();
            Value::Object(fields)
        }
        Some("array") => match schema.get("items") {
            Some(items) => json!([generate(items, root, depth + 1)]),
            None => json!([]),
        },
        Some("string") => json!("text"),
        Some("integer") => json!(1),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_refs_consts_and_any_of() {
        let schema = json!({"$defs": {"A": {"type": "object", "properties": {"k": {"const": "home"}}}},
            "type": "object", "properties": {"a": {"$ref": "#/$defs/A"}, "n": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "l": {"type": "array", "items": {"type": "string"}}}});
        assert_eq!(
            instance(&schema),
            json!({"a": {"k": "home"}, "n": 1, "l": ["text"]})
        );
    }
}
