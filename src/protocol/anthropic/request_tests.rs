//! Transcripts: OpenAI requests in, Anthropic Messages requests out.

use serde_json::{json, Value};

use super::*;
use crate::protocol::testing::backend;
use crate::protocol::{Request, RequestError};

fn body_of(req: Value) -> Result<Value, String> {
    body_for("claude-sonnet-4-20250514", thinking::Mode::Budget, req).map_err(|e| e.message)
}

fn body_for(model: &str, mode: thinking::Mode, req: Value) -> Result<Value, RequestError> {
    let req = Request::chat(req.to_string().as_bytes()).unwrap();
    let a = Anthropic {
        version: "2023-06-01".into(),
        default_max_tokens: 4096,
        thinking: mode,
    };
    request::body(&req, model, &a)
}

#[test]
fn text_system_and_sampling() {
    let out = body_of(json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            {"role": "user", "content": "Hi"},
            {"role": "user", "content": [{"type": "text", "text": "there"}]},
        ],
        "max_completion_tokens": 100,
        "temperature": 0.5, "top_p": 0.9, "stop": "END", "user": "u-42",
        "seed": 7, "presence_penalty": 0.1, "stream": true,
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({
            "model": "claude-sonnet-4-20250514",
            "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use French."}],
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]}],
            "max_tokens": 100,
            "temperature": 0.5, "top_p": 0.9,
            "stop_sequences": ["END"],
            "metadata": {"user_id": "u-42"},
            "stream": true,
        })
    );
}

#[test]
fn default_max_tokens_and_single_system_string() {
    let out = body_of(json!({"model": "m", "max_tokens": null, "messages": [
        {"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]}))
    .unwrap();
    assert_eq!(out["max_tokens"], 4096);
    assert_eq!(out["system"], "S");
    assert!(out.get("stream").is_none());
}

#[test]
fn images_become_base64_and_url_sources() {
    let out = body_of(json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}},
    ]}]}))
    .unwrap();
    assert_eq!(
        out["messages"],
        json!([{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        ]}])
    );
}

#[test]
fn tools_calls_and_results() {
    let out = body_of(json!({"model": "m",
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
                  {"type": "function", "function": {"name": "now"}}],
        "tool_choice": "required", "parallel_tool_calls": false,
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "21C"}]},
            {"role": "user", "content": "Thanks"},
        ]}))
    .unwrap();
    assert_eq!(
        out["tools"],
        json!([
            {"name": "get_weather", "description": "Weather",
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
            {"name": "now", "input_schema": {"type": "object", "properties": {}}},
        ])
    );
    assert_eq!(
        out["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "21C"},
                {"type": "text", "text": "Thanks"}]},
        ])
    );
}

#[test]
fn tool_choice_forms() {
    let choice = |c: Value| {
        body_of(json!({"model": "m", "messages": [], "tool_choice": c})).unwrap()["tool_choice"]
            .clone()
    };
    assert_eq!(choice(json!("none")), json!({"type": "none"}));
    assert_eq!(choice(json!("auto")), json!({"type": "auto"}));
    assert_eq!(
        choice(json!({"type": "function", "function": {"name": "f"}})),
        json!({"type": "tool", "name": "f"})
    );
}

#[test]
fn rejects_what_anthropic_cannot_express() {
    let err = |extra: Value| {
        let mut r = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        body_of(r).unwrap_err()
    };
    assert_eq!(
        err(json!({"n": 2})),
        "`n` greater than 1 (several choices) is not supported on anthropic backends"
    );
    assert_eq!(
        err(json!({"logprobs": true})),
        "`logprobs` is not supported on anthropic backends"
    );
    assert!(err(json!({"audio": {"voice": "alloy"}})).starts_with("`audio`"));
    assert!(err(json!({"temperature": 1.5})).starts_with("`temperature` above 1"));
    assert!(
        err(json!({"response_format": {"type": "json_object"}})).starts_with("`response_format`")
    );
    assert_eq!(
        err(json!({"frobnicate": 1})),
        "the field `frobnicate` is not supported on anthropic backends"
    );
    assert!(err(json!({"functions": []})).contains("`functions`"));
    assert!(err(json!({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}))
        .starts_with("messages[0].content[0]: content parts of type \"input_audio\""));
    assert!(err(json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}]}))
        .contains("https://"));
    // Harmless or default values pass.
    assert!(body_of(
        json!({"model": "m", "messages": [], "n": 1, "logprobs": false, "seed": 1,
        "frequency_penalty": 0.5, "response_format": {"type": "text"}, "logit_bias": {}})
    )
    .is_ok());
}

#[test]
fn build_request_sets_url_and_headers() {
    let b = backend(
        "backend_type = \"claude\"\nbase_url = \"https://api.anthropic.com/v1\"\napi_key = \"sk-ant\"\nanthropic_version = \"2024-10-22\"",
        "model = \"claude-sonnet-4\"",
    );
    let req =
        Request::chat(br#"{"model":"x","messages":[{"role":"user","content":"hi"}]}"#).unwrap();
    let up = b.build(&req).unwrap();
    assert_eq!(up.url, "https://api.anthropic.com/v1/messages");
    assert_eq!(
        up.headers,
        vec![
            ("x-api-key", "sk-ant".to_string()),
            ("anthropic-version", "2024-10-22".to_string())
        ]
    );
}

#[test]
fn strict_tools_stay_strict() {
    let out = body_of(json!({"model": "m", "messages": [], "tools": [
        {"type": "function", "function": {"name": "f", "strict": true, "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "g", "strict": false}}]}))
    .unwrap();
    assert_eq!(out["tools"][0]["strict"], true);
    assert!(out["tools"][1].get("strict").is_none());
}

#[test]
fn temperature_and_top_p_only_where_the_model_takes_both() {
    let sampled = |model: &str, t: f64, p: f64| {
        let req = json!({"model": "m", "messages": [], "temperature": t, "top_p": p});
        body_for(model, thinking::Mode::Budget, req)
            .map(|b| (b.get("temperature").cloned(), b.get("top_p").cloned()))
            .map_err(|e| e.param.map(|p| p.into_owned()))
    };
    let (t, p) = (Some(json!(0.5)), Some(json!(0.9)));
    assert_eq!(
        sampled("claude-3-5-haiku-latest", 0.5, 0.9),
        Ok((t.clone(), p.clone()))
    );
    assert_eq!(
        sampled("claude-sonnet-4-20250514", 0.5, 0.9),
        Ok((t.clone(), p.clone()))
    );
    assert_eq!(
        sampled("claude-sonnet-4-5", 0.5, 1.0),
        Ok((t, None)),
        "top_p 1 is the default"
    );
    assert_eq!(
        sampled("claude-opus-4-1", 1.0, 0.9),
        Ok((None, p)),
        "temperature 1 is the default"
    );
    assert_eq!(
        sampled("claude-haiku-4-5", 0.5, 0.9),
        Err(Some("top_p".to_string()))
    );
}

#[test]
fn speakers_late_system_and_empty_turns_keep_their_meaning() {
    let out = body_of(json!({"model": "m", "messages": [
        {"role": "system", "content": "S"},
        {"role": "user", "name": "alice", "content": "Hi"},
        {"role": "user", "name": "bob", "content": [{"type": "image_url", "image_url": {"url": "https://e.com/a.png"}}]},
        {"role": "assistant", "content": "Hello."},
        {"role": "developer", "content": "Now be terse."},
        {"role": "assistant", "content": "Ok."},
        {"role": "user", "content": ""},
    ]}))
    .unwrap();
    assert_eq!(out["system"], "S");
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "alice: Hi"}, {"type": "text", "text": "bob:"},
                {"type": "image", "source": {"type": "url", "url": "https://e.com/a.png"}}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
            {"role": "user", "content": [{"type": "text", "text": "System: Now be terse."}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Ok."}]},
            {"role": "user", "content": [{"type": "text", "text": "."}]},
        ])
    );
    let only_empty =
        body_of(json!({"model": "m", "messages": [{"role": "user", "content": ""}]})).unwrap();
    assert_eq!(
        only_empty["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "."}]}])
    );
}
