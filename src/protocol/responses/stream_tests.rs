//! Translating chat streams (a chat upstream's, Anthropic's) into the
//! Responses event sequence.

use serde_json::{json, Value};

use super::tests::{req, tools_request};
use crate::protocol::sse::SseEvent;
use crate::protocol::testing::backend;
use crate::protocol::{Request, StreamTranslator};

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

fn openai_stream(r: &Request) -> Box<dyn StreamTranslator> {
    let b = backend("base_url = \"http://x\"", "model = \"up\"");
    b.stream(r)
}

#[test]
fn a_chat_stream_becomes_the_event_sequence() {
    let r = tools_request();
    let mut t = openai_stream(&r);
    let got = events(
        &mut *t,
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
        &mut *t,
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
    let mut t = b.stream(&r);
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
