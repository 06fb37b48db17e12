//! Translating whole Responses requests, answers and streams.

use bytes::Bytes;
use serde_json::{json, Value};

use super::request::to_chat;
use super::RESPONSES;
use crate::protocol::testing::backend;
use crate::protocol::{Api, Request};

pub(super) fn req(body: Value) -> Request {
    Request::parse(Api::Responses, Some(&RESPONSES), body.to_string().into()).unwrap()
}

fn chat_fields(r: &Request) -> Value {
    let chat = to_chat(r, "anthropic").unwrap();
    assert_eq!(chat.api, Api::ChatCompletions);
    let fields = chat
        .fields
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::from_str(v.get()).unwrap()));
    Value::Object(fields.collect())
}

#[test]
fn fields_are_mapped_or_dropped() {
    let r = req(json!({
        "model": "m", "instructions": "be brief", "input": "hi", "max_output_tokens": 50,
        "temperature": 0.5, "top_p": 0.9, "user": "u1", "store": false, "metadata": {"k": "v"},
        "reasoning": {"effort": "low", "summary": "auto"}, "prompt_cache_key": "c",
        "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": true}, "verbosity": "low"},
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}, {"type": "web_search"}],
        "tool_choice": "auto", "parallel_tool_calls": false, "include": ["reasoning.encrypted_content"],
        "client_metadata": {"x": "y"},
    }));
    let f = chat_fields(&r);
    assert_eq!(
        f["messages"],
        json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}])
    );
    assert_eq!(f["max_completion_tokens"], 50);
    assert_eq!(
        (
            f["temperature"].clone(),
            f["top_p"].clone(),
            f["user"].clone()
        ),
        (json!(0.5), json!(0.9), json!("u1"))
    );
    assert_eq!(f["reasoning_effort"], "low");
    assert_eq!(f["verbosity"], "low");
    assert_eq!(
        f["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": true}})
    );
    assert_eq!(
        f["tools"].as_array().unwrap().len(),
        1,
        "web_search is left out"
    );
    assert_eq!(
        (f["tool_choice"].clone(), f["parallel_tool_calls"].clone()),
        (json!("auto"), json!(false))
    );
    for dropped in [
        "metadata",
        "store",
        "include",
        "client_metadata",
        "reasoning",
        "text",
    ] {
        assert!(f.get(dropped).is_none(), "{dropped}");
    }
}

#[test]
fn state_and_unknown_fields_are_refused_naming_them() {
    let param = |extra: Value| {
        let mut body = json!({"model": "m", "input": "hi"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        to_chat(&req(body), "gemini")
            .err()
            .map(|e| (e.param.map(|p| p.into_owned()), e.message))
    };
    let (p, m) = param(json!({"previous_response_id": "resp_1"})).unwrap();
    assert_eq!(p.as_deref(), Some("previous_response_id"));
    assert!(m.contains("on gemini backends"), "{m}");
    let named = |extra| param(extra).unwrap().0.unwrap_or_default();
    assert_eq!(named(json!({"store": true})), "store");
    assert_eq!(named(json!({"conversation": "c"})), "conversation");
    assert!(param(json!({"store": false, "previous_response_id": null})).is_none());
    let (p, m) = param(json!({"frobnicate": 1})).unwrap();
    assert_eq!(
        (p, m.as_str()),
        (
            None,
            "the field `frobnicate` is not supported on gemini backends"
        )
    );
}

#[test]
fn a_translated_request_reaches_anthropic() {
    let b = backend(
        "backend_type = \"anthropic\"\nbase_url = \"http://a\"",
        "model = \"claude\"",
    );
    let r = req(
        json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}], "stream": true}),
    );
    let up = b.build(&r).unwrap();
    let body: Value = serde_json::from_slice(&up.body).unwrap();
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    );
    assert_eq!(body["stream"], true);
    let json =
        req(json!({"model": "m", "input": "x", "text": {"format": {"type": "json_object"}}}));
    let e = b.build(&json).err().unwrap();
    assert_eq!(
        e.param.as_deref(),
        Some("text"),
        "named as the client wrote it"
    );
    assert_eq!(
        e.message,
        "`text.format` (JSON output) is not supported on anthropic backends"
    );
    let embed = Request::parse(Api::Embeddings, None, r#"{"model":"m","input":"x"}"#.into());
    let e = b.build(&embed.unwrap()).err().unwrap();
    assert_eq!(
        e.message,
        "the /v1/embeddings endpoint is not supported on anthropic backends"
    );
}

pub(super) fn tools_request() -> Request {
    req(
        json!({"model": "m", "input": "patch it", "metadata": {"a": "b"}, "tools": [
        {"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "syntax": "lark", "definition": "x"}},
        {"type": "namespace", "name": "crm", "description": "", "tools": [{"type": "function", "name": "find"}]}]}),
    )
}

/// The Responses answer to `r` from a chat upstream that answered `chat`.
fn answer_of(r: &Request, chat: &Value) -> Value {
    let b = backend("base_url = \"http://x\"", "model = \"up\"");
    let body = Bytes::from(chat.to_string());
    let a = b.answer(r, body).unwrap();
    serde_json::from_slice(&a.body).unwrap()
}

#[test]
fn answers_become_output_items() {
    let chat = json!({"id": "c", "model": "up-model", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Patching.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "apply_patch", "arguments": "{\"input\":\"*** Begin\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "find", "arguments": "{}"}}]}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 3}}});
    let r = tools_request();
    let v = answer_of(&r, &chat);
    assert_eq!(
        (
            v["object"].as_str(),
            v["status"].as_str(),
            v["model"].as_str()
        ),
        (Some("response"), Some("completed"), Some("up-model"))
    );
    assert!(v["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(v["metadata"], json!({"a": "b"}), "echoed, as OpenAI does");
    let out = v["output"].as_array().unwrap();
    assert_eq!(
        out[0]["content"],
        json!([{"type": "output_text", "text": "Patching.", "annotations": [], "logprobs": []}])
    );
    assert_eq!(
        (out[1]["type"].as_str(), out[1]["input"].as_str()),
        (Some("custom_tool_call"), Some("*** Begin"))
    );
    assert_eq!(
        (
            out[2]["type"].as_str(),
            out[2]["namespace"].as_str(),
            out[2]["call_id"].as_str()
        ),
        (Some("function_call"), Some("crm"), Some("call_2"))
    );
    assert_eq!(v["usage"]["input_tokens_details"]["cached_tokens"], 3);
    assert_eq!(v["usage"]["total_tokens"], 14);
    let cut = json!({"choices": [{"finish_reason": "length", "message": {"content": "Hel"}}]});
    let v = answer_of(&r, &cut);
    assert_eq!(
        (v["status"].clone(), v["incomplete_details"].clone()),
        (json!("incomplete"), json!({"reason": "max_output_tokens"}))
    );
}
