//! Transcripts: Anthropic messages and streams in, OpenAI answers and chunks out.

use bytes::Bytes;
use serde_json::{json, Value};

use super::response::translate_response;
use super::stream::Stream;
use crate::protocol::testing::sse_transcript;
use crate::protocol::Answer;
use crate::protocol::StreamError;

#[test]
fn response_with_text_tool_use_and_cache_usage() {
    let body = json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 20,
                  "cache_creation_input_tokens": 5, "cache_read_input_tokens": 100},
    });
    let Answer {
        body: out, usage, ..
    } = translate_response(Bytes::from(body.to_string())).unwrap();
    let mut out: Value = serde_json::from_slice(&out).unwrap();
    assert!(out["created"].as_u64().unwrap() > 0);
    out["created"] = json!(0);
    assert_eq!(
        out,
        json!({
            "id": "msg_01", "object": "chat.completion", "created": 0, "model": "claude-sonnet-4",
            "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Let me check.", "reasoning_content": "hmm",
                "thinking_blocks": [{"type": "thinking", "thinking": "hmm", "signature": "s"},
                                    {"type": "redacted_thinking", "data": "opaque"}],
                "tool_calls": [{"id": "toolu_1", "type": "function",
                                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
            "usage": {"prompt_tokens": 115, "completion_tokens": 20, "total_tokens": 135,
                      "prompt_tokens_details": {"cached_tokens": 100}},
        })
    );
    assert_eq!(
        usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((115, 20))
    );
}

#[test]
fn finish_reasons() {
    let finish = |r: &str| {
        let body = json!({"content": [], "stop_reason": r, "usage": {"input_tokens": 1, "output_tokens": 0}});
        let Answer { body: out, .. } = translate_response(Bytes::from(body.to_string())).unwrap();
        serde_json::from_slice::<Value>(&out).unwrap()["choices"][0]["finish_reason"].clone()
    };
    assert_eq!(finish("end_turn"), "stop");
    assert_eq!(finish("stop_sequence"), "stop");
    assert_eq!(finish("max_tokens"), "length");
    assert_eq!(finish("tool_use"), "tool_calls");
    assert!(translate_response(Bytes::from_static(b"<html>")).is_err());
}

const TEXT_STREAM: &[(&str, &str)] = &[
    (
        "message_start",
        r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4","content":[],"stop_reason":null,"usage":{"input_tokens":25,"cache_read_input_tokens":5,"output_tokens":1}}}"#,
    ),
    (
        "content_block_start",
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    ),
    ("ping", r#"{"type":"ping"}"#),
    (
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
    ),
    (
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" world"}}"#,
    ),
    (
        "content_block_stop",
        r#"{"type":"content_block_stop","index":0}"#,
    ),
    (
        "message_delta",
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":12}}"#,
    ),
    ("message_stop", r#"{"type":"message_stop"}"#),
];

#[test]
fn text_stream_transcript() {
    let mut s = Stream::new(true, "fallback");
    let (lines, infos) = sse_transcript(&mut s, TEXT_STREAM).unwrap();
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "msg_1", "object": "chat.completion.chunk", "model": "claude-sonnet-4",
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    };
    assert_eq!(
        lines,
        vec![
            json!(chunk(
                json!({"role": "assistant", "content": ""}),
                Value::Null
            )),
            chunk(json!({"content": "Hello"}), Value::Null),
            chunk(json!({"content": " world"}), Value::Null),
            chunk(json!({}), json!("stop")),
            json!({"id": "msg_1", "object": "chat.completion.chunk", "model": "claude-sonnet-4", "choices": [],
                   "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42,
                             "prompt_tokens_details": {"cached_tokens": 5}}}),
            json!("[DONE]"),
        ]
    );
    let content: Vec<bool> = infos.iter().map(|i| i.content).collect();
    assert_eq!(
        content,
        vec![false, false, false, true, true, false, true, true]
    );
    let last = infos.last().unwrap();
    assert!(last.done);
    assert_eq!(
        last.usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((30, 12))
    );
}

#[test]
fn usage_is_reported_but_hidden_when_not_asked() {
    let mut s = Stream::new(false, "m");
    let (lines, infos) = sse_transcript(&mut s, TEXT_STREAM).unwrap();
    assert!(lines.iter().all(|l| l.get("usage").is_none()));
    assert_eq!(lines.last(), Some(&json!("[DONE]")));
    assert_eq!(
        infos.last().unwrap().usage.map(|u| u.completion_tokens),
        Some(12)
    );
}

#[test]
fn tool_stream_transcript() {
    let events: &[(&str, &str)] = &[
        (
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_2","model":"claude-sonnet-4","usage":{"input_tokens":50,"output_tokens":1}}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_9","name":"get_weather","input":{}}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Pa"}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"ris\"}"}}"#,
        ),
        (
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        (
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}}"#,
        ),
        ("message_stop", r#"{"type":"message_stop"}"#),
    ];
    let mut s = Stream::new(false, "m");
    let (lines, infos) = sse_transcript(&mut s, events).unwrap();
    let deltas: Vec<Value> = lines
        .iter()
        .filter_map(|l| l.pointer("/choices/0/delta").cloned())
        .collect();
    assert_eq!(
        deltas,
        vec![
            json!({"role": "assistant", "content": ""}),
            json!({"tool_calls": [{"index": 0, "id": "toolu_9", "type": "function",
                                   "function": {"name": "get_weather", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": \"Pa"}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "ris\"}"}}]}),
            json!({}),
        ]
    );
    assert_eq!(lines[4]["choices"][0]["finish_reason"], "tool_calls");
    assert!(infos[1].content, "a tool call start is content");
}

#[test]
fn error_event_and_garbage() {
    let mut s = Stream::new(false, "m");
    let err = sse_transcript(&mut s, &[
        ("message_start", r#"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":1}}}"#),
        ("error", r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#),
    ])
    .unwrap_err();
    assert!(
        matches!(&err, StreamError::Upstream(m) if m == "Overloaded"),
        "{err:?}"
    );
    let err = sse_transcript(&mut Stream::new(false, "m"), &[("x", "{not json")]).unwrap_err();
    assert!(matches!(err, StreamError::Malformed(_)));
}

#[test]
fn escaped_text_and_events_missing_their_payload() {
    let start = (
        "message_start",
        r#"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":1}}}"#,
    );
    let delta = (
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"line\n\"two\" \u00e9"}}"#,
    );
    let (lines, _) = sse_transcript(&mut Stream::new(false, "m"), &[start, delta]).unwrap();
    assert_eq!(
        lines[1]["choices"][0]["delta"]["content"],
        "line\n\"two\" é"
    );
    for (name, data) in [
        ("message_start", r#"{"type":"message_start"}"#),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0}"#,
        ),
    ] {
        let err = sse_transcript(&mut Stream::new(false, "m"), &[(name, data)]).unwrap_err();
        assert!(
            matches!(err, StreamError::Malformed(ref m) if m.contains(name)),
            "{err:?}"
        );
    }
}

/// Dropping a delta whose text is not a string would silently corrupt the
/// answer; the event fails instead (failover before commit, an SSE error
/// after).
#[test]
fn a_delta_with_non_string_text_is_malformed() {
    let delta = (
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":42}}"#,
    );
    let err = sse_transcript(&mut Stream::new(false, "m"), &[delta]).unwrap_err();
    assert!(matches!(err, StreamError::Malformed(_)), "{err:?}");
}
