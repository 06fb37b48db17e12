//! Transcripts: Messages requests in, chat completions requests out.

use bytes::Bytes;
use serde_json::{json, Value};

use super::to_chat::{chat, Target};
use super::{parse, CHAT};
use crate::protocol::Api;

fn to(protocol: &str, model: &str, req: Value) -> Result<Value, String> {
    let body = Bytes::from(req.to_string());
    let head = axum::http::Request::new(()).into_parts().0;
    let req = parse::parse(Api::Messages, Some(&CHAT), body, &head).unwrap();
    let out = chat(&req, Target { protocol, model }).map_err(|e| e.message)?;
    let mut v: serde_json::Map<String, Value> = out
        .fields
        .iter()
        .map(|(k, raw)| (k.to_string(), serde_json::from_str(raw.get()).unwrap()))
        .collect();
    v.insert("model".into(), out.model.into());
    if out.stream {
        v.insert("stream".into(), true.into());
    }
    Ok(Value::Object(v))
}

fn openai(req: Value) -> Result<Value, String> {
    to("openai", "gpt-4o", req)
}

#[test]
fn a_claude_code_turn_with_thinking_text_and_tool_use() {
    let out = openai(json!({
        "model": "claude-x", "max_tokens": 100, "stream": true,
        "system": [{"type": "text", "text": "You are helpful.", "cache_control": {"type": "ephemeral"}}],
        "metadata": {"user_id": "u-1"},
        "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "tools": [{"name": "Bash", "description": "Run", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
        "messages": [
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "c2ln"},
                {"type": "text", "text": "I'll look."},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
                {"type": "text", "text": "Running it."}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt", "is_error": false},
                {"type": "text", "text": "and?"}]},
            {"role": "system", "content": "Be brief."},
        ],
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({
            "model": "claude-x", "max_tokens": 100, "stream": true,
            "stream_options": {"include_usage": true},
            "user": "u-1",
            "tools": [{"type": "function", "function": {"name": "Bash", "description": "Run", "parameters": {"type": "object"}}}],
            "tool_choice": "auto", "parallel_tool_calls": false,
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": "You are helpful."}]},
                {"role": "user", "content": "list files"},
                {"role": "assistant", "content": [{"type": "text", "text": "I'll look."}, {"type": "text", "text": "Running it."}],
                 "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}}]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "a.txt"},
                {"role": "user", "content": [{"type": "text", "text": "and?"}]},
                {"role": "system", "content": "Be brief."},
            ],
        })
    );
}

#[test]
fn thinking_becomes_reasoning_effort_where_the_model_reasons() {
    let req = |thinking: Value| json!({"model": "m", "max_tokens": 10, "thinking": thinking, "messages": [{"role": "user", "content": "q"}]});
    let enabled = req(json!({"type": "enabled", "budget_tokens": 31999}));
    let out = to("openai", "o4-mini", enabled.clone()).unwrap();
    assert_eq!(
        (&out["reasoning_effort"], &out["max_completion_tokens"]),
        (&json!("high"), &json!(10))
    );
    assert!(out.get("max_tokens").is_none());
    let out = to(
        "azure",
        "gpt-5",
        req(json!({"type": "enabled", "budget_tokens": 2000})),
    )
    .unwrap();
    assert_eq!(out["reasoning_effort"], "low");
    let written = req(json!({"type": "enabled", "budget_tokens": 1.024e4}));
    assert_eq!(
        to("openai", "o3", written).unwrap()["reasoning_effort"],
        "medium"
    );
    assert_eq!(
        to("gemini", "gemini-2.5-flash", enabled.clone()).unwrap()["reasoning_effort"],
        "high"
    );
    // A model that does not reason: the budget is dropped, the request goes.
    let out = to("openai", "gpt-4o", enabled).unwrap();
    assert!(out.get("reasoning_effort").is_none() && out["max_tokens"] == 10);
    let out = to("openai", "o3", req(json!({"type": "disabled"}))).unwrap();
    assert!(out.get("reasoning_effort").is_none());
}

#[test]
fn images_tool_choice_and_error_results() {
    let out = openai(json!({"model": "m", "max_tokens": 5,
        "tool_choice": {"type": "tool", "name": "f"}, "stop_sequences": ["END"], "temperature": 0.2,
        "messages": [
            {"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
                {"type": "image", "source": {"type": "url", "url": "https://x/cat.jpg"}}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "is_error": true,
                "content": [{"type": "text", "text": "boom"}]}]},
        ]}))
    .unwrap();
    assert_eq!(
        out["tool_choice"],
        json!({"type": "function", "function": {"name": "f"}})
    );
    assert_eq!(
        (&out["stop"], &out["temperature"]),
        (&json!(["END"]), &json!(0.2))
    );
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
                {"type": "image_url", "image_url": {"url": "https://x/cat.jpg"}}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "Error: boom"},
        ])
    );
    let choice = |c: Value| {
        openai(json!({"model": "m", "max_tokens": 1, "messages": [], "tool_choice": c})).unwrap()
            ["tool_choice"]
            .clone()
    };
    assert_eq!(choice(json!({"type": "any"})), "required");
    assert_eq!(choice(json!({"type": "none"})), "none");
}

#[test]
fn refuses_what_chat_completions_cannot_express_naming_it() {
    let err = |extra: Value| {
        let mut r =
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}]});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        openai(r).unwrap_err()
    };
    assert_eq!(
        err(json!({"top_k": 5})),
        "`top_k` is not supported on openai backends"
    );
    assert!(to(
        "gemini",
        "g",
        json!({"model": "m", "max_tokens": 1, "top_k": 5, "messages": []})
    )
    .is_ok());
    assert!(
        err(json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}))
            .contains("server tool \"web_search_20250305\"")
    );
    assert!(err(json!({"messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "x"}}]}]}))
        .starts_with("messages[0].content[0]: \"document\" blocks are not supported on openai"));
    assert!(err(
        json!({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
        "content": [{"type": "image", "source": {}}]}]}]})
    )
    .contains("image blocks in tool results"));
    assert!(
        err(json!({"context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]}}))
            .starts_with("`context_management` edit")
    );
    assert_eq!(
        err(json!({"mcp_servers": []})),
        "the field `mcp_servers` is not supported on openai backends"
    );
    // Hints that cannot change the answer pass.
    assert!(openai(
        json!({"model": "m", "max_tokens": 1, "messages": [], "service_tier": "auto",
        "cache_control": {"type": "ephemeral"}})
    )
    .is_ok());
}
