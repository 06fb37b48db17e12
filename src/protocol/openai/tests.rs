use super::*;
use crate::protocol::{EventInfo, SseEvent, StreamError};

fn req(body: &str) -> Request {
    Request::chat(body.as_bytes()).unwrap()
}

#[test]
fn body_rewrites_model_and_drops_backend() {
    let r = req(
        r#"{"model":"gpt-4o","backend":"x","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"x":{"y":1}}"#,
    );
    let out = String::from_utf8(body(&r, "gpt-4o-2024")).unwrap();
    assert_eq!(
        out,
        r#"{"model":"gpt-4o-2024","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"x":{"y":1}}"#
    );
}

#[test]
fn stream_body_always_asks_for_usage() {
    let r = req(r#"{"model":"m","messages":[],"stream":true,"stream_options":{"x":1}}"#);
    let v: serde_json::Value = serde_json::from_slice(&body(&r, "u")).unwrap();
    assert_eq!(v["stream"], true);
    assert_eq!(
        v["stream_options"],
        serde_json::json!({"x": 1, "include_usage": true})
    );
}

fn run(s: &mut Stream, data: &str) -> (String, EventInfo) {
    let mut out = Vec::new();
    let info = s
        .event(
            &SseEvent {
                event: None,
                data: data.into(),
            },
            &mut out,
        )
        .unwrap();
    (String::from_utf8(out).unwrap(), info)
}

#[test]
fn stream_marks_content_and_hides_unrequested_usage() {
    let mut s = Stream::new(false);
    let (out, info) = run(
        &mut s,
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
    );
    assert!(!info.content && out.starts_with("data: {"));
    let (_, info) = run(
        &mut s,
        r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
    );
    assert!(info.content);
    let (_, info) = run(
        &mut s,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0}]}}]}"#,
    );
    assert!(info.content);
    let (out, info) = run(
        &mut s,
        r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#,
    );
    assert_eq!(out, "");
    assert_eq!(
        info.usage,
        Some(Usage {
            prompt_tokens: 3,
            completion_tokens: 5,
            ..Usage::default()
        })
    );
    let (out, info) = run(&mut s, "[DONE]");
    assert!(info.done && out == "data: [DONE]\n\n");
    let mut s = Stream::new(true);
    let (out, _) = run(
        &mut s,
        r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#,
    );
    assert!(out.contains("usage"));
}

#[test]
fn usage_reads_cached_and_reasoning_details() {
    let body = r#"{"usage":{"prompt_tokens":100,"completion_tokens":40,
        "prompt_tokens_details":{"cached_tokens":60,"audio_tokens":0},
        "completion_tokens_details":{"reasoning_tokens":30}}}"#;
    let answer = translate_response(Bytes::from(body)).unwrap();
    let u = answer.usage.unwrap();
    assert_eq!(
        (
            u.prompt_tokens,
            u.cached_tokens,
            u.completion_tokens,
            u.reasoning_tokens
        ),
        (100, 60, 40, 30)
    );
    let mut s = Stream::new(false);
    let (_, info) = run(
        &mut s,
        r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4}}}"#,
    );
    assert_eq!(info.usage.map(|u| u.cached_tokens), Some(4));
}

#[test]
fn a_close_after_the_finish_reason_is_a_complete_stream() {
    let mut s = Stream::new(false);
    run(
        &mut s,
        r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
    );
    let mut out = Vec::new();
    assert!(!s.closed(&mut out), "no finish reason yet: broken");
    run(
        &mut s,
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    );
    assert!(s.closed(&mut out));
    assert_eq!(out, b"data: [DONE]\n\n");
}

#[test]
fn multi_line_data_keeps_a_prefix_on_every_line() {
    let mut s = Stream::new(false);
    let (out, info) = run(&mut s, "{\"choices\":\n[{\"delta\":{\"content\":\"Hi\"}}]}");
    assert!(info.content);
    assert_eq!(
        out,
        "data: {\"choices\":\ndata: [{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
    );
}

#[test]
fn stream_errors_on_garbage_and_error_events() {
    let mut s = Stream::new(false);
    let ev = |d: &str| SseEvent {
        event: None,
        data: d.into(),
    };
    assert!(matches!(
        s.event(&ev("{\"choices\": [{"), &mut vec![]),
        Err(StreamError::Malformed(_))
    ));
    let e = s
        .event(&ev(r#"{"error":{"message":"overloaded"}}"#), &mut vec![])
        .unwrap_err();
    assert_eq!(e.to_string(), "upstream sent an error event: overloaded");
}
