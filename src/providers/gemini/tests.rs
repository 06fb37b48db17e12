//! Transcripts: OpenAI requests in, Gemini requests out; Gemini answers and
//! streams in, OpenAI answers and chunks out.

use bytes::Bytes;
use serde_json::{json, Value};

use super::*;
use crate::providers::testing::{model, sse_transcript};
use crate::providers::{ChatRequest, StreamError};

fn body_of(req: Value) -> Result<Value, String> {
    let req = ChatRequest::parse(req.to_string().as_bytes()).unwrap();
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
    let m = model(
        "backend_type = \"gemini\"\nbase_url = \"https://generativelanguage.googleapis.com/v1beta/\"\napi_key = \"AIza-secret\"",
        "model = \"gemini-2.5-flash\"",
    );
    let mut req =
        ChatRequest::parse(br#"{"model":"x","messages":[{"role":"user","content":"hi"}]}"#)
            .unwrap();
    let up = build_request(&m.backends[0], &req).unwrap();
    assert_eq!(
        up.url,
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(
        up.headers,
        vec![("x-goog-api-key", "AIza-secret".to_string())]
    );
    req.stream = true;
    let up = build_request(&m.backends[0], &req).unwrap();
    assert_eq!(up.url, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
    assert!(!up.url.contains("secret"));
}

fn translate(body: Value) -> Value {
    let (out, _) = translate_response(Bytes::from(body.to_string()), "fallback").unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn response_text_and_usage() {
    let mut out = translate(json!({
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "thinking...", "thought": true}, {"text": "Hello"}, {"text": " there"}]},
            "finishReason": "STOP", "index": 0, "safetyRatings": []}],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 3, "totalTokenCount": 25,
                          "cachedContentTokenCount": 4, "thoughtsTokenCount": 10},
        "modelVersion": "gemini-2.5-flash", "responseId": "resp-1",
    }));
    out["created"] = json!(0);
    assert_eq!(
        out,
        json!({
            "id": "resp-1", "object": "chat.completion", "created": 0, "model": "gemini-2.5-flash",
            "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Hello there"}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 13, "total_tokens": 25,
                      "prompt_tokens_details": {"cached_tokens": 4},
                      "completion_tokens_details": {"reasoning_tokens": 10}},
        })
    );
}

#[test]
fn response_function_call_and_finish_reasons() {
    let out = translate(
        json!({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]}, "finishReason": "STOP"}]}),
    );
    let msg = &out["choices"][0]["message"];
    assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(msg["content"], Value::Null);
    let call = &msg["tool_calls"][0];
    assert!(
        call["id"].as_str().unwrap().starts_with("call_")
            && call["id"].as_str().unwrap().len() == 29
    );
    assert_eq!(call["type"], "function");
    assert_eq!(
        call["function"],
        json!({"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"})
    );
    assert_eq!(out["model"], "fallback");
    let finish = |r: &str| {
        translate(json!({"candidates": [{"finishReason": r}]}))["choices"][0]["finish_reason"]
            .clone()
    };
    assert_eq!(finish("MAX_TOKENS"), "length");
    for r in ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT"] {
        assert_eq!(finish(r), "content_filter", "{r}");
    }
    let blocked = translate(json!({"promptFeedback": {"blockReason": "SAFETY"}}));
    assert_eq!(blocked["choices"][0]["finish_reason"], "content_filter");
}

#[test]
fn text_stream_transcript() {
    let events: &[(&str, &str)] = &[
        (
            "",
            r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]},"index":0}],"usageMetadata":{"promptTokenCount":7},"modelVersion":"gemini-2.5-flash","responseId":"r1"}"#,
        ),
        (
            "",
            r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"index":0}],"modelVersion":"gemini-2.5-flash","responseId":"r1"}"#,
        ),
        (
            "",
            r#"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":2,"totalTokenCount":9},"modelVersion":"gemini-2.5-flash","responseId":"r1"}"#,
        ),
    ];
    let mut s = Stream::new(true, 1, "fallback");
    let (lines, infos) = sse_transcript(&mut s, events).unwrap();
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "r1", "object": "chat.completion.chunk", "model": "gemini-2.5-flash",
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    };
    assert_eq!(
        lines,
        vec![
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"content": "Hel"}), Value::Null),
            chunk(json!({"content": "lo"}), Value::Null),
            chunk(json!({}), json!("stop")),
            json!({"id": "r1", "object": "chat.completion.chunk", "model": "gemini-2.5-flash", "choices": [],
                   "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}}),
            json!("[DONE]"),
        ]
    );
    assert!(infos.iter().all(|i| i.content));
    assert_eq!(
        infos.iter().map(|i| i.done).collect::<Vec<_>>(),
        vec![false, false, true]
    );
    assert_eq!(
        infos[2]
            .usage
            .map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((7, 2))
    );
}

#[test]
fn function_call_stream_and_hidden_usage() {
    let events: &[(&str, &str)] = &[(
        "",
        r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":5}}"#,
    )];
    let mut s = Stream::new(false, 1, "gemini-x");
    let (lines, infos) = sse_transcript(&mut s, events).unwrap();
    assert_eq!(lines.len(), 4, "{lines:?}");
    let call = &lines[1]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(call["index"], 0);
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(
        call["function"],
        json!({"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"})
    );
    assert_eq!(lines[2]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(lines[3], json!("[DONE]"));
    assert!(infos[0].done && infos[0].usage.is_some());
    assert_eq!(lines[0]["model"], "gemini-x");
}

#[test]
fn stream_errors_and_garbage() {
    let mut s = Stream::new(false, 1, "m");
    let err = sse_transcript(
        &mut s,
        &[(
            "",
            r#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#,
        )],
    )
    .unwrap_err();
    assert!(
        matches!(&err, StreamError::Upstream(m) if m == "The model is overloaded."),
        "{err:?}"
    );
    let err = sse_transcript(&mut Stream::new(false, 1, "m"), &[("", "[1,2")]).unwrap_err();
    assert!(matches!(err, StreamError::Malformed(_)));
}
