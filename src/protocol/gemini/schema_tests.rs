//! Transcripts: JSON Schema in, `responseJsonSchema` / `parametersJsonSchema`
//! (Gemini 2.5 and later) or `Schema` (earlier models) out.

use serde_json::{json, Value};

use super::request;
use crate::protocol::Request;

fn body_for(model: &str, req: Value) -> Result<Value, String> {
    let req = Request::chat(req.to_string().as_bytes()).unwrap();
    request::body(&req, model).map_err(|e| e.message)
}

/// A nested Pydantic model as the OpenAI SDK sends it: `$defs`, `$ref`,
/// `const`, `anyOf` with null.
fn pydantic_schema() -> Value {
    json!({"$defs": {"Address": {"properties": {"city": {"title": "City", "type": "string"},
                                             "kind": {"const": "home"}},
                                 "required": ["city", "kind"], "title": "Address", "type": "object",
                                 "additionalProperties": false}},
           "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/Address"},
                          "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
           "required": ["name", "address", "note"], "title": "Person", "type": "object",
           "additionalProperties": false})
}

#[test]
fn full_json_schema_goes_unchanged_from_gemini_2_5() {
    let schema = pydantic_schema();
    let req = json!({"model": "m", "messages": [],
        "response_format": {"type": "json_schema", "json_schema": {"name": "Person", "strict": true, "schema": schema}},
        "tools": [{"type": "function", "function": {"name": "save", "strict": true, "parameters": schema}}]});
    for model in [
        "gemini-2.5-flash",
        "models/gemini-2.5-pro",
        "gemini-3-pro-preview",
    ] {
        let out = body_for(model, req.clone()).unwrap();
        assert_eq!(
            out["generationConfig"],
            json!({"responseMimeType": "application/json", "responseJsonSchema": schema}),
            "{model}"
        );
        assert_eq!(
            out["tools"][0]["functionDeclarations"][0],
            json!({"name": "save", "parametersJsonSchema": schema}),
            "{model}"
        );
    }
}

#[test]
fn early_models_get_schema_or_a_refusal_naming_the_field() {
    let refused = |field: &str, schema: Value| {
        let mut req = json!({"model": "m", "messages": []});
        match field {
            "tools" => {
                req["tools"] =
                    json!([{"type": "function", "function": {"name": "f", "parameters": schema}}])
            }
            _ => {
                req["response_format"] =
                    json!({"type": "json_schema", "json_schema": {"name": "x", "schema": schema}})
            }
        }
        let r = Request::chat(req.to_string().as_bytes()).unwrap();
        request::body(&r, "gemini-2.0-flash").unwrap_err()
    };
    let e = refused("response_format", pydantic_schema());
    assert_eq!(e.param.as_deref(), Some("response_format"));
    assert!(
        e.message.contains("`$defs`") && e.message.contains("before Gemini 2.5"),
        "{}",
        e.message
    );
    let e = refused(
        "tools",
        json!({"type": "object", "properties": {"n": {"const": 3}}}),
    );
    assert_eq!(e.param.as_deref(), Some("tools"));
    assert!(
        e.message.contains("`const`") && e.message.contains("\"f\""),
        "{}",
        e.message
    );
    let deep = (0..80).fold(
        json!({"type": "string"}),
        |s, _| json!({"type": "array", "items": s}),
    );
    assert!(refused(
        "tools",
        json!({"type": "object", "properties": {"d": deep}})
    )
    .message
    .contains("deeper"));
    // What converts keeps its meaning: oneOf as anyOf, a string const as an enum.
    let out = body_for("gemini-2.0-flash", json!({"model": "m", "messages": [], "response_format":
        {"type": "json_schema", "json_schema": {"name": "x", "schema":
            {"type": "object", "properties": {"k": {"const": "a"}, "v": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}}}}})).unwrap();
    assert_eq!(
        out["generationConfig"]["responseSchema"],
        json!({"type": "object", "properties": {"k": {"enum": ["a"]}, "v": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}})
    );
}

#[test]
fn the_generation_is_read_from_the_model_name() {
    use super::Generation::*;
    for (model, want) in [
        ("gemini-1.5-pro", Early),
        ("gemini-2.0-flash", Early),
        ("models/gemini-2.0-flash-001", Early),
        ("tunedModels/my-model", Early),
        ("gemma-3-27b-it", Early),
        ("gemini-2.5-flash", Gemini25),
        ("gemini-2.5-flash-lite-preview-06-17", Gemini25),
        ("models/gemini-2.5-pro", Gemini25),
        ("gemini-3-pro-preview", Gemini3),
        ("gemini-3.1-flash", Gemini3),
        ("gemini-exp-1206", Early),
    ] {
        assert_eq!(super::generation(model), want, "{model}");
    }
}
