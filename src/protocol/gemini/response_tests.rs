//! Transcripts: Gemini answers and streams in, OpenAI answers and chunks out.

use bytes::Bytes;
use serde_json::{json, Value};

use super::response::translate_response;
use super::stream::Stream;
use crate::protocol::testing::sse_transcript;
use crate::protocol::Answer;
use crate::protocol::StreamError;

fn translate(body: Value) -> Value {
    let Answer { body: out, .. } =
        translate_response(Bytes::from(body.to_string()), "fallback").unwrap();
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
                         "message": {"role": "assistant", "content": "Hello there",
                                     "reasoning_content": "thinking..."}}],
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

#[test]
fn thought_signatures_and_thoughts_reach_the_openai_shape() {
    let out = translate(
        json!({"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Let me think.", "thought": true},
        {"functionCall": {"name": "w", "args": {}}, "thoughtSignature": "S1"},
        {"functionCall": {"name": "w", "args": {"city": "Rome"}}}]}, "finishReason": "STOP"}]}),
    );
    let msg = &out["choices"][0]["message"];
    assert_eq!(msg["reasoning_content"], "Let me think.");
    assert_eq!(
        msg["tool_calls"][0]["extra_content"],
        json!({"google": {"thought_signature": "S1"}})
    );
    assert!(msg["tool_calls"][1].get("extra_content").is_none());
    let out = translate(
        json!({"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Sunny"}, {"text": ".", "thoughtSignature": "S2"}]}, "finishReason": "STOP"}]}),
    );
    let msg = &out["choices"][0]["message"];
    assert_eq!(msg["content"], "Sunny.");
    assert_eq!(
        msg["extra_content"],
        json!({"google": {"thought_signature": "S2"}})
    );
}

#[test]
fn streamed_thoughts_calls_and_signatures() {
    let events: &[(&str, &str)] = &[
        (
            "",
            r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hmm","thought":true}]},"index":0}]}"#,
        ),
        (
            "",
            r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Sunny"}]},"index":0}]}"#,
        ),
        (
            "",
            r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"","thoughtSignature":"S2"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"thoughtsTokenCount":4}}"#,
        ),
    ];
    let mut s = Stream::new(true, 1, "m");
    let (lines, infos) = sse_transcript(&mut s, events).unwrap();
    let deltas: Vec<&Value> = lines.iter().map(|l| &l["choices"][0]["delta"]).collect();
    assert_eq!(deltas[1], &json!({"reasoning_content": "Hmm"}));
    assert_eq!(deltas[2], &json!({"content": "Sunny"}));
    assert_eq!(
        deltas[3],
        &json!({"extra_content": {"google": {"thought_signature": "S2"}}})
    );
    assert!(infos[0].content, "a thought is content the client sees");
    let usage = &lines[5]["usage"];
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 4);
    assert_eq!(usage["completion_tokens"], 5);

    let call = r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"w","args":{}},"thoughtSignature":"S1"}]},"finishReason":"STOP"}]}"#;
    let (lines, _) = sse_transcript(&mut Stream::new(false, 1, "m"), &[("", call)]).unwrap();
    assert_eq!(
        lines[1]["choices"][0]["delta"]["tool_calls"][0]["extra_content"],
        json!({"google": {"thought_signature": "S1"}})
    );
}
