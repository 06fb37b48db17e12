//! Transcripts: `reasoning_effort` in, Anthropic `thinking` out.

use serde_json::{json, Value};

use super::request;
use super::thinking::Mode;
use super::Anthropic;
use crate::protocol::{Request, RequestError};

fn body(mode: Mode, req: Value) -> Result<Value, RequestError> {
    let req = Request::chat(req.to_string().as_bytes()).unwrap();
    let a = Anthropic {
        version: "2023-06-01".into(),
        default_max_tokens: 4096,
        thinking: mode,
    };
    request::body(&req, "claude-sonnet-4-5", &a)
}

fn ask(extra: Value) -> Value {
    let mut r = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

#[test]
fn effort_becomes_a_budget_that_max_tokens_makes_room_for() {
    let out = body(Mode::Budget, ask(json!({"reasoning_effort": "medium"}))).unwrap();
    assert_eq!(
        out["thinking"],
        json!({"type": "enabled", "budget_tokens": 8192})
    );
    assert_eq!(
        out["max_tokens"],
        8192 + 4096,
        "the default answer room stays"
    );
    let out = body(
        Mode::Budget,
        ask(json!({"reasoning_effort": "low", "max_completion_tokens": 30000})),
    )
    .unwrap();
    assert_eq!(out["thinking"]["budget_tokens"], 2048);
    assert_eq!(out["max_tokens"], 30000, "room enough already");
    let out = body(
        Mode::Budget,
        ask(json!({"reasoning_effort": "high", "max_tokens": 1000})),
    )
    .unwrap();
    assert_eq!(out["max_tokens"], 24576 + 1000);
    let out = body(Mode::Budget, ask(json!({"reasoning_effort": "none"}))).unwrap();
    assert!(out.get("thinking").is_none());
}

#[test]
fn adaptive_providers_get_an_effort_level() {
    let out = body(Mode::Adaptive, ask(json!({"reasoning_effort": "xhigh"}))).unwrap();
    assert_eq!(out["thinking"], json!({"type": "adaptive"}));
    assert_eq!(out["output_config"], json!({"effort": "max"}));
    assert_eq!(out["max_tokens"], 4096);
}

#[test]
fn what_thinking_cannot_take_is_refused_by_name() {
    let param = |extra: Value| {
        let mut e = extra;
        e["reasoning_effort"] = json!("high");
        body(Mode::Budget, ask(e))
            .unwrap_err()
            .param
            .unwrap()
            .into_owned()
    };
    assert_eq!(param(json!({"temperature": 0.2})), "temperature");
    assert_eq!(param(json!({"top_k": 5})), "top_k");
    assert_eq!(param(json!({"top_p": 0.5})), "top_p");
    assert_eq!(param(json!({"tool_choice": "required"})), "tool_choice");
    let ok = ask(
        json!({"reasoning_effort": "high", "temperature": 1, "top_p": 0.97, "tool_choice": "auto"}),
    );
    let out = body(Mode::Budget, ok).unwrap();
    assert_eq!(
        (out.get("temperature"), &out["top_p"]),
        (None, &json!(0.97))
    );
}

#[test]
fn thinking_blocks_come_back_first_in_their_assistant_turn() {
    let blocks = json!([{"type": "thinking", "thinking": "hmm", "signature": "S"},
                        {"type": "redacted_thinking", "data": "D"}]);
    let req = json!({"model": "m", "reasoning_effort": "low", "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "thinking_blocks": blocks, "reasoning_content": "hmm",
         "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
    ]});
    let out = body(Mode::Budget, req.clone()).unwrap();
    assert_eq!(
        out["messages"][1]["content"],
        json!([blocks[0], blocks[1], {"type": "tool_use", "id": "t1", "name": "w", "input": {}}])
    );
    assert!(out.get("thinking").is_some());
    // Without the blocks the loop cannot go on with thinking: it goes on without.
    let mut bare = req;
    bare["messages"][1]
        .as_object_mut()
        .unwrap()
        .remove("thinking_blocks");
    let out = body(Mode::Budget, bare).unwrap();
    assert!(out.get("thinking").is_none());
    assert_eq!(out["messages"][1]["content"][0]["type"], "tool_use");
}

#[test]
fn streamed_thinking_is_reasoning_then_its_signed_block() {
    use super::stream::Stream;
    use crate::protocol::testing::sse_transcript;
    let events: &[(&str, &str)] = &[
        (
            "message_start",
            r#"{"type":"message_start","message":{"id":"m1","model":"c","usage":{"input_tokens":3}}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me "}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"see."}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"SIG"}}"#,
        ),
        (
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"D"}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":2,"content_block":{"type":"text","text":""}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"Hi"}}"#,
        ),
        (
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}"#,
        ),
        ("message_stop", r#"{"type":"message_stop"}"#),
    ];
    let (lines, infos) = sse_transcript(&mut Stream::new(false, "c"), events).unwrap();
    let deltas: Vec<&Value> = lines.iter().map(|l| &l["choices"][0]["delta"]).collect();
    assert_eq!(
        &deltas[1..6],
        &[
            &json!({"reasoning_content": "Let me "}),
            &json!({"reasoning_content": "see."}),
            &json!({"thinking_blocks": [{"type": "thinking", "thinking": "Let me see.", "signature": "SIG"}]}),
            &json!({"thinking_blocks": [{"type": "redacted_thinking", "data": "D"}]}),
            &json!({"content": "Hi"}),
        ]
    );
    assert!(infos[2].content, "reasoning commits the stream");
    assert!(
        !infos[4].content && !infos[5].content,
        "a signature is not content"
    );
}
