//! JSON Schema (as OpenAI tools and `json_schema` carry it) → Gemini's
//! `Schema`, an OpenAPI 3.0 subset that rejects keys it does not know. Only
//! for models before Gemini 2.5: later ones take the schema unchanged
//! (`responseJsonSchema`, `parametersJsonSchema`).

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

/// Keywords that shape what may be produced and that `Schema` cannot say:
/// removing one would let the model produce what the schema forbids (or
/// nothing where it asks for something), so the request is refused.
const REFUSED_KEYS: &[&str] = &[
    "$ref",
    "$defs",
    "definitions",
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "prefixItems",
    "contains",
    "patternProperties",
    "dependentSchemas",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
];

/// Deeper schemas are refused: a hostile one nested thousands deep must not
/// overflow the stack (serde_json's own parser stops at 128 levels).
const MAX_DEPTH: usize = 64;

/// The `Schema` for `schema`, or the keyword it cannot express. What is
/// removed only annotates or validates (`$schema`, `additionalProperties:
/// false`, `examples`, `multipleOf`...); `oneOf` becomes `anyOf` (the model
/// produces one alternative either way), a string `const` a one-value
/// `enum`, `"type": ["T", "null"]` a nullable T.
pub(super) fn to_gemini(schema: &Value) -> Result<Value, String> {
    convert(schema, 0)
}

fn convert(schema: &Value, depth: usize) -> Result<Value, String> {
    let Some(obj) = schema.as_object() else {
        return Ok(schema.clone());
    };
    if depth > MAX_DEPTH {
        return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
    }
    let mut out = Map::new();
    for (key, value) in obj {
        match key.as_str() {
            "type" => set_type(&mut out, value)?,
            "properties" => {
                let Some(props) = value.as_object() else {
                    continue;
                };
                let mut converted = Map::new();
                for (name, s) in props {
                    converted.insert(name.clone(), convert(s, depth + 1)?);
                }
                out.insert(key.clone(), Value::Object(converted));
            }
            "items" => {
                out.insert(key.clone(), convert(value, depth + 1)?);
            }
            "anyOf" | "oneOf" => {
                let list = value.as_array().into_iter().flatten();
                let list = list
                    .map(|s| convert(s, depth + 1))
                    .collect::<Result<_, _>>()?;
                out.insert("anyOf".into(), Value::Array(list));
            }
            "const" => match value {
                Value::String(_) => {
                    out.insert("enum".into(), Value::Array(vec![value.clone()]));
                }
                _ => return Err("a `const` that is not a string".to_string()),
            },
            "additionalProperties" if value.is_object() => {
                return Err("`additionalProperties` with a schema (a map)".to_string())
            }
            k if REFUSED_KEYS.contains(&k) => return Err(format!("`{k}`")),
            k if PLAIN_KEYS.contains(&k) => {
                out.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    Ok(Value::Object(out))
}

/// Gemini takes one type; JSON Schema's `[T, "null"]` means nullable T.
fn set_type(out: &mut Map<String, Value>, value: &Value) -> Result<(), String> {
    let Some(list) = value.as_array() else {
        out.insert("type".into(), value.clone());
        return Ok(());
    };
    let types: Vec<&Value> = list.iter().filter(|t| t.as_str() != Some("null")).collect();
    if types.len() > 1 {
        return Err("a `type` of several types".to_string());
    }
    if types.len() < list.len() {
        out.insert("nullable".into(), true.into());
    }
    if let Some(t) = types.first() {
        out.insert("type".into(), (*t).clone());
    }
    Ok(())
}
