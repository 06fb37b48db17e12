//! Transcripts: chat chunks in, Anthropic events out.

use serde_json::{json, Value};

use super::events::Encoder;
use crate::protocol::sse::SseEvent;
use crate::protocol::StreamTranslator;

fn encode(chunks: &[&str]) -> Vec<(String, Value)> {
    let inner = crate::protocol::testing::openai_stream();
    let mut e = Encoder::new(inner, "pub");
    let mut out = Vec::new();
    for c in chunks {
        let ev = SseEvent {
            event: None,
            data: c.to_string(),
        };
        e.event(&ev, &mut out).unwrap();
    }
    String::from_utf8(out)
        .unwrap()
        .split_terminator("\n\n")
        .map(|ev| {
            let (name, data) = ev.split_once('\n').unwrap();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], name.strip_prefix("event: ").unwrap());
            (data["type"].as_str().unwrap().to_string(), data)
        })
        .collect()
}

#[test]
fn a_chat_stream_becomes_anthropic_events() {
    let events = encode(&[
        r#"{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":"think"}}]}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"Bash","arguments":""}}]}}]}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"command\":"}}]}}]}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"ls\"}"}}]}}]}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        r#"{"id":"c1","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4}}"#,
        "[DONE]",
    ]);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert_eq!(events[0].1["message"]["model"], "pub");
    assert_eq!(events[1].1["content_block"]["type"], "thinking");
    assert_eq!(
        events[2].1["delta"],
        json!({"type": "thinking_delta", "thinking": "think"})
    );
    assert_eq!(
        events[5].1["delta"],
        json!({"type": "text_delta", "text": "Hi"})
    );
    assert_eq!(
        events[7].1,
        json!({"type": "content_block_start", "index": 2,
               "content_block": {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {}}})
    );
    let args: String = events[8..10]
        .iter()
        .map(|(_, e)| e["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert_eq!(args, "{\"command\":\"ls\"}");
    assert_eq!(
        events[11].1,
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
               "usage": {"input_tokens": 9, "output_tokens": 4, "cache_read_input_tokens": 0,
                         "cache_creation_input_tokens": 0}})
    );
}

#[test]
fn a_broken_stream_ends_with_an_error_event() {
    let mut e = Encoder::new(crate::protocol::testing::openai_stream(), "pub");
    let mut out = Vec::new();
    let mut closed = Vec::new();
    let ev = SseEvent {
        event: None,
        data: r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#.into(),
    };
    assert!(e.event(&ev, &mut out).unwrap().content);
    assert!(!e.closed(&mut closed), "no finish reason: not complete");
    e.broken("upstream went away", &mut out);
    let text = String::from_utf8(out).unwrap();
    let (head, last) = text.trim_end().rsplit_once("\n\n").unwrap();
    let data = last.strip_prefix("event: error\ndata: ").unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(data).unwrap(),
        json!({"type": "error", "error": {"type": "api_error", "message": "upstream went away"}})
    );
    assert!(!head.contains("message_stop"));
}

#[test]
fn a_streamed_refusal_ends_with_stop_reason_refusal() {
    // The finish reason of a refusal is a plain `stop`: the refusal delta
    // is what tells it apart, as in a whole answer.
    let events = encode(&[
        r#"{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","refusal":"I can't help with that."}}]}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        "[DONE]",
    ]);
    let text: String = events
        .iter()
        .filter_map(|(_, e)| e["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "I can't help with that.");
    let (name, delta) = &events[events.len() - 2];
    assert_eq!(name, "message_delta");
    assert_eq!(delta["delta"]["stop_reason"], "refusal");
}
