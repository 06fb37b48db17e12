//! Translating whole Responses requests, answers and streams.

use bytes::Bytes;
use serde_json::{json, Value};

use super::{chat_shell, from_chat, to_chat, FromChat};
use crate::protocol::sse::SseEvent;
use crate::protocol::testing::backend;
use crate::protocol::{speak, Answer, Api, Request, StreamTranslator};

fn req(body: Value) -> Request {
    Request::parse(Api::Responses, body.to_string().as_bytes()).unwrap()
}

fn chat_fields(r: &Request) -> Value {
    let chat = to_chat(r, "anthropic").unwrap();
    assert_eq!(chat.api, Api::ChatCompletions);
    let fields = chat
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::from_str(v.get()).unwrap()));
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
            .map(|e| (e.param, e.message))
    };
    let (p, m) = param(json!({"previous_response_id": "resp_1"})).unwrap();
    assert_eq!(p, Some("previous_response_id"));
    assert!(m.contains("on gemini backends"), "{m}");
    assert_eq!(param(json!({"store": true})).unwrap().0, Some("store"));
    assert_eq!(
        param(json!({"conversation": "c"})).unwrap().0,
        Some("conversation")
    );
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
    let up = speak::build(&*b.protocol, &b.upstream(), &r).unwrap();
    let body: Value = serde_json::from_slice(&up.body).unwrap();
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    );
    assert_eq!(body["stream"], true);
    let json =
        req(json!({"model": "m", "input": "x", "text": {"format": {"type": "json_object"}}}));
    let e = speak::build(&*b.protocol, &b.upstream(), &json)
        .err()
        .unwrap();
    assert_eq!(e.param, Some("text"), "named as the client wrote it");
    assert_eq!(
        e.message,
        "`text.format` (JSON output) is not supported on anthropic backends"
    );
    let embed = Request::parse(Api::Embeddings, br#"{"model":"m","input":"x"}"#).unwrap();
    let e = speak::build(&*b.protocol, &b.upstream(), &embed)
        .err()
        .unwrap();
    assert_eq!(
        e.message,
        "the /v1/embeddings endpoint is not supported on anthropic backends"
    );
}

fn tools_request() -> Request {
    req(
        json!({"model": "m", "input": "patch it", "metadata": {"a": "b"}, "tools": [
        {"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "syntax": "lark", "definition": "x"}},
        {"type": "namespace", "name": "crm", "description": "", "tools": [{"type": "function", "name": "find"}]}]}),
    )
}

#[test]
fn answers_become_output_items() {
    let chat = json!({"id": "c", "model": "up-model", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Patching.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "apply_patch", "arguments": "{\"input\":\"*** Begin\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "find", "arguments": "{}"}}]}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 3}}});
    let r = tools_request();
    let a = from_chat(
        &r,
        Answer {
            body: Bytes::from(chat.to_string()),
            usage: None,
        },
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&a.body).unwrap();
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
    let a = from_chat(
        &r,
        Answer {
            body: Bytes::from(cut.to_string()),
            usage: None,
        },
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(
        (v["status"].clone(), v["incomplete_details"].clone()),
        (json!("incomplete"), json!({"reason": "max_output_tokens"}))
    );
}

/// Feeds chat chunks (`data` payloads) through a translated stream; the
/// Responses events it wrote, as `(event name, data)`.
fn events(t: &mut dyn StreamTranslator, chunks: &[&str]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for c in chunks {
        t.event(
            &SseEvent {
                event: None,
                data: c.to_string(),
            },
            &mut out,
        )
        .unwrap();
    }
    parse(&out)
}

fn parse(out: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(out).unwrap();
    text.split_terminator("\n\n")
        .map(|e| {
            let (name, data) = e.split_once('\n').unwrap();
            let name = name.strip_prefix("event: ").unwrap().to_string();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], name.as_str());
            (name, data)
        })
        .collect()
}

fn openai_stream(r: &Request) -> FromChat {
    let b = backend("base_url = \"http://x\"", "model = \"up\"");
    FromChat::new(r, b.protocol.stream(&b.upstream(), &chat_shell(r)))
}

#[test]
fn a_chat_stream_becomes_the_event_sequence() {
    let r = tools_request();
    let mut t = openai_stream(&r);
    let got = events(
        &mut t,
        &[
            r#"{"model":"up","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_9","type":"function","function":{"name":"find","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_8","function":{"name":"apply_patch","arguments":"{\"input\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\"x\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#,
            "[DONE]",
        ],
    );
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.output_item.added",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.custom_tool_call_input.delta",
            "response.custom_tool_call_input.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let seq: Vec<u64> = got
        .iter()
        .map(|(_, d)| d["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(seq, (0..got.len() as u64).collect::<Vec<_>>());
    assert_eq!(got[0].1["response"]["model"], "up");
    let done = &got[16].1["response"];
    assert_eq!(
        (
            done["status"].as_str(),
            done["usage"]["output_tokens"].as_u64()
        ),
        (Some("completed"), Some(2))
    );
    let out = done["output"].as_array().unwrap();
    assert_eq!(out[1]["namespace"], "crm");
    assert_eq!(
        (out[2]["type"].as_str(), out[2]["input"].as_str()),
        (Some("custom_tool_call"), Some("x"))
    );
    assert_eq!(got[14].1["input"], "x");
}

#[test]
fn a_broken_stream_ends_failed_never_completed() {
    let r = req(json!({"model": "m", "input": "hi", "stream": true}));
    let mut t = openai_stream(&r);
    let got = events(
        &mut t,
        &[r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#],
    );
    assert_eq!(got.len(), 5);
    let mut out = Vec::new();
    assert!(!t.closed(&mut out), "no finish yet: incomplete");
    t.broken("upstream went away", &mut out);
    let end = parse(&out);
    assert_eq!(end.len(), 1);
    assert_eq!(end[0].0, "response.failed");
    assert_eq!(end[0].1["sequence_number"], 5);
    assert_eq!(
        end[0].1["response"]["error"]["message"],
        "upstream went away"
    );
    assert_eq!(
        end[0].1["response"]["output"][0]["content"][0]["text"],
        "Hi"
    );
}

#[test]
fn an_anthropic_stream_becomes_the_event_sequence() {
    let b = backend(
        "backend_type = \"anthropic\"\nbase_url = \"http://a\"",
        "model = \"claude\"",
    );
    let r = req(json!({"model": "m", "input": "hi", "stream": true, "max_output_tokens": 3}));
    let mut t = speak::stream(&*b.protocol, &b.upstream(), &r);
    let mut out = Vec::new();
    for (name, data) in [
        (
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_1","model":"claude-x","usage":{"input_tokens":4,"output_tokens":1}}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
        ),
        (
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":3}}"#,
        ),
        ("message_stop", r#"{"type":"message_stop"}"#),
    ] {
        t.event(
            &SseEvent {
                event: Some(name.into()),
                data: data.into(),
            },
            &mut out,
        )
        .unwrap();
    }
    let got = parse(&out);
    let (last, data) = got.last().unwrap();
    assert_eq!(last, "response.incomplete");
    assert_eq!(
        data["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert_eq!(data["response"]["model"], "claude-x");
    assert_eq!(data["response"]["usage"]["input_tokens"], 4);
    assert_eq!(data["response"]["output"][0]["content"][0]["text"], "Hello");
}
