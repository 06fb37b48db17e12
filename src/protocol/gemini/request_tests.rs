//! Transcripts: OpenAI requests in, Gemini requests out.

use serde_json::{json, Value};

use super::*;
use crate::protocol::testing::backend;
use crate::protocol::Request;

fn body_of(req: Value) -> Result<Value, String> {
    let req = Request::chat(req.to_string().as_bytes()).unwrap();
    request::body(&req).map_err(|e| e.message)
}

#[test]
fn text_system_and_generation_config() {
    let out = body_of(json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": [{"type": "text", "text": "Bye"}]},
        ],
        "max_tokens": 50, "temperature": 1.5, "top_p": 0.9, "stop": ["a", "b"], "n": 2,
        "seed": 3, "presence_penalty": 0.5, "user": "dropped", "stream": true,
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Hi"}]},
                {"role": "model", "parts": [{"text": "Hello!"}]},
                {"role": "user", "parts": [{"text": "Bye"}]},
            ],
            "generationConfig": {
                "maxOutputTokens": 50, "temperature": 1.5, "topP": 0.9, "candidateCount": 2,
                "seed": 3, "presencePenalty": 0.5, "stopSequences": ["a", "b"],
            },
        })
    );
}

#[test]
fn images_become_inline_and_file_data() {
    let out = body_of(
        json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklGRg=="}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a/cat.PNG?x=1"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/photo"}},
            {"type": "text", "text": "Compare"},
        ]}]}),
    )
    .unwrap();
    assert_eq!(
        out["contents"],
        json!([{"role": "user", "parts": [
            {"inlineData": {"mimeType": "image/webp", "data": "UklGRg=="}},
            {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/a/cat.PNG?x=1"}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/photo"}},
            {"text": "Compare"},
        ]}])
    );
}

#[test]
fn tools_calls_and_results() {
    let out = body_of(json!({"model": "m",
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Weather",
             "parameters": {"$schema": "x", "type": "object", "additionalProperties": false,
                            "properties": {"city": {"type": "string"}, "unit": {"type": ["string", "null"], "enum": ["C", "F"]}},
                            "required": ["city"]}}},
            {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "now", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_b", "content": "noon"},
        ]}))
    .unwrap();
    assert_eq!(
        out["tools"],
        json!([{"functionDeclarations": [
            {"name": "get_weather", "description": "Weather", "parameters": {
                "type": "object", "required": ["city"], "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "nullable": true, "enum": ["C", "F"]}}}},
            {"name": "now"},
        ]}])
    );
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}})
    );
    assert_eq!(
        out["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "now", "args": {}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"content": "18C"}}},
                {"functionResponse": {"name": "now", "response": {"content": "noon"}}}]},
        ])
    );
}

#[test]
fn response_format_becomes_mime_type_and_schema() {
    let cfg = |f: Value| {
        body_of(json!({"model": "m", "messages": [], "response_format": f})).unwrap()
            ["generationConfig"]
            .clone()
    };
    assert_eq!(
        cfg(json!({"type": "json_object"})),
        json!({"responseMimeType": "application/json"})
    );
    assert_eq!(
        cfg(
            json!({"type": "json_schema", "json_schema": {"name": "x", "strict": true,
            "schema": {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": false}}})
        ),
        json!({"responseMimeType": "application/json",
               "responseSchema": {"type": "object", "properties": {"a": {"type": "integer"}}}})
    );
    assert_eq!(
        body_of(json!({"model": "m", "messages": [], "tool_choice": "none"})).unwrap()
            ["toolConfig"],
        json!({"functionCallingConfig": {"mode": "NONE"}})
    );
}

#[test]
fn rejects_what_gemini_cannot_express() {
    let err = |r: Value| body_of(r).unwrap_err();
    assert_eq!(
        err(json!({"model": "m", "messages": [], "logprobs": true})),
        "`logprobs` is not supported on gemini backends"
    );
    assert!(err(json!({"model": "m", "messages": [], "audio": {}})).starts_with("`audio`"));
    assert_eq!(
        err(json!({"model": "m", "messages": [], "web_search_options": {}})),
        "the field `web_search_options` is not supported on gemini backends"
    );
    assert_eq!(
        err(json!({"model": "m", "messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]})),
        "messages[0]: `tool_call_id` matches no earlier assistant tool call (gemini needs its function name) on gemini backends"
    );
}

#[test]
fn build_request_url_never_holds_the_key() {
    let b = backend(
        "backend_type = \"gemini\"\nbase_url = \"https://generativelanguage.googleapis.com/v1beta/\"\napi_key = \"AIza-secret\"",
        "model = \"gemini-2.5-flash\"",
    );
    let mut req =
        Request::chat(br#"{"model":"x","messages":[{"role":"user","content":"hi"}]}"#).unwrap();
    let up = b.build(&req).unwrap();
    assert_eq!(
        up.url,
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(
        up.headers,
        vec![("x-goog-api-key", "AIza-secret".to_string())]
    );
    req.stream = true;
    let up = b.build(&req).unwrap();
    assert_eq!(up.url, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
    assert!(!up.url.contains("secret"));
}

#[test]
fn reasoning_effort_becomes_a_thinking_budget() {
    let budget = |effort: &str| {
        let req = json!({"model": "m", "messages": [], "reasoning_effort": effort});
        body_of(req).map(|b| b["generationConfig"]["thinkingConfig"].clone())
    };
    assert_eq!(budget("low").unwrap(), json!({"thinkingBudget": 1024}));
    assert_eq!(budget("medium").unwrap(), json!({"thinkingBudget": 8192}));
    assert_eq!(budget("high").unwrap(), json!({"thinkingBudget": 24576}));
    assert_eq!(budget("none").unwrap(), json!({"thinkingBudget": 0}));
    assert!(budget("extreme")
        .unwrap_err()
        .starts_with("`reasoning_effort`"));
}
