//! JSON Schema (as OpenAI tools and `json_schema` carry it) → Gemini's
//! `Schema`, an OpenAPI 3.0 subset that rejects keys it does not know.

use serde_json::{Map, Value};

/// The keys Gemini's `Schema` accepts whose values are not schemas.
const PLAIN_KEYS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "propertyOrdering",
    "default",
    "minimum",
    "maximum",
];

/// Keeps what Gemini understands: unknown keywords (`$schema`,
/// `additionalProperties`, `strict`...) are removed, since Gemini answers
/// 400 to them, and `"type": ["string", "null"]` becomes `nullable`.
/// Constraints that only validate, not shape, the output are what is lost.
pub(super) fn to_gemini(schema: &Value) -> Value {
    convert(schema, 0)
}

/// Depth-limited: a hostile schema nested thousands deep must not
/// overflow the stack (serde_json's own parser stops at 128 levels).
fn convert(schema: &Value, depth: usize) -> Value {
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    if depth > 64 {
        return Value::Object(Map::new());
    }
    let mut out = Map::new();
    for (key, value) in obj {
        match key.as_str() {
            "type" => set_type(&mut out, value),
            "properties" => {
                let props = value.as_object().map(|m| {
                    m.iter()
                        .map(|(name, s)| (name.clone(), convert(s, depth + 1)))
                        .collect::<Map<_, _>>()
                });
                if let Some(props) = props {
                    out.insert(key.clone(), Value::Object(props));
                }
            }
            "items" => {
                out.insert(key.clone(), convert(value, depth + 1));
            }
            "anyOf" => {
                if let Some(list) = value.as_array() {
                    let list = list.iter().map(|s| convert(s, depth + 1)).collect();
                    out.insert(key.clone(), Value::Array(list));
                }
            }
            k if PLAIN_KEYS.contains(&k) => {
                out.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    Value::Object(out)
}

/// Gemini takes one type; JSON Schema's `[T, "null"]` means nullable T.
fn set_type(out: &mut Map<String, Value>, value: &Value) {
    let Some(list) = value.as_array() else {
        out.insert("type".into(), value.clone());
        return;
    };
    let mut types = list.iter().filter(|t| t.as_str() != Some("null"));
    if list.len() > 1 && list.iter().any(|t| t.as_str() == Some("null")) {
        out.insert("nullable".into(), true.into());
    }
    if let Some(t) = types.next() {
        out.insert("type".into(), t.clone());
    }
}
