//! Transcripts: what Gemini needs back (thought signatures), what it cannot
//! express (names, late system messages, empty turns), and thinking.

use serde_json::{json, Value};

use super::request;
use crate::protocol::Request;

fn body_for(model: &str, req: Value) -> Value {
    let req = Request::chat(req.to_string().as_bytes()).unwrap();
    request::body(&req, model).unwrap()
}

fn contents(model: &str, messages: Value) -> Value {
    body_for(model, json!({"model": "m", "messages": messages}))["contents"].clone()
}

fn signed(sig: &str) -> Value {
    json!({"google": {"thought_signature": sig}})
}

#[test]
fn thought_signatures_go_back_in_the_part_they_came_in() {
    let messages = json!([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "w", "arguments": "{}"}, "extra_content": signed("S1")},
            {"id": "b", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "1"},
        {"role": "tool", "tool_call_id": "b", "content": "2"},
        {"role": "assistant", "content": "Sunny.", "extra_content": signed("S2")},
        {"role": "user", "content": "thanks"},
    ]);
    for model in ["gemini-2.5-flash", "gemini-3-pro-preview"] {
        let c = contents(model, messages.clone());
        assert_eq!(
            c[1]["parts"],
            json!([{"functionCall": {"name": "w", "args": {}}, "thoughtSignature": "S1"},
                   {"functionCall": {"name": "w", "args": {}}}]),
            "{model}: only the first of parallel calls is signed"
        );
        assert_eq!(
            c[3]["parts"],
            json!([{"text": "Sunny.", "thoughtSignature": "S2"}])
        );
    }
}

#[test]
fn gemini_3_gets_the_documented_signature_for_calls_it_did_not_sign() {
    let messages = json!([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "w", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "1"},
    ]);
    let parts = &contents("gemini-3-flash-preview", messages.clone())[1]["parts"];
    assert_eq!(
        parts[0]["thoughtSignature"],
        "skip_thought_signature_validator"
    );
    assert!(parts[1].get("thoughtSignature").is_none());
    let parts = &contents("gemini-2.5-flash", messages)[1]["parts"];
    assert!(
        parts[0].get("thoughtSignature").is_none(),
        "2.5 does not require one"
    );
}

#[test]
fn speakers_and_late_system_messages_stay_in_the_text() {
    let c = body_for(
        "gemini-2.5-flash",
        json!({"model": "m", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "name": "alice", "content": "Hi"},
            {"role": "user", "name": "bob", "content": [{"type": "text", "text": "Hello"}]},
            {"role": "assistant", "content": "Hi both."},
            {"role": "system", "content": "Answer in French from now on."},
            {"role": "user", "content": "Bye"},
        ]}),
    );
    assert_eq!(
        c["systemInstruction"],
        json!({"parts": [{"text": "Be brief."}]})
    );
    assert_eq!(
        c["contents"],
        json!([
            {"role": "user", "parts": [{"text": "alice: Hi"}, {"text": "bob: Hello"}]},
            {"role": "model", "parts": [{"text": "Hi both."}]},
            {"role": "user", "parts": [{"text": "System: Answer in French from now on."}, {"text": "Bye"}]},
        ])
    );
}

#[test]
fn an_empty_user_turn_is_kept_with_the_minimal_text() {
    let c = contents("gemini-2.5-flash", json!([{"role": "user", "content": ""}]));
    assert_eq!(c, json!([{"role": "user", "parts": [{"text": "."}]}]));
    let c = contents(
        "gemini-2.5-flash",
        json!([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
               {"role": "user", "content": []}]),
    );
    assert_eq!(c[2], json!({"role": "user", "parts": [{"text": "."}]}));
}

#[test]
fn reasoning_effort_is_a_budget_before_gemini_3_and_a_level_after() {
    let config = |model: &str, effort: &str| {
        body_for(
            model,
            json!({"model": "m", "messages": [], "reasoning_effort": effort}),
        )["generationConfig"]["thinkingConfig"]
            .clone()
    };
    assert_eq!(
        config("gemini-2.5-flash", "medium"),
        json!({"thinkingBudget": 8192, "includeThoughts": true})
    );
    assert_eq!(config("gemini-2.5-flash", "xhigh")["thinkingBudget"], 24576);
    assert_eq!(
        config("gemini-2.5-flash", "none"),
        json!({"thinkingBudget": 0, "includeThoughts": false})
    );
    assert_eq!(
        config("gemini-3-pro-preview", "low"),
        json!({"thinkingLevel": "low", "includeThoughts": true})
    );
    assert_eq!(
        config("gemini-3-pro-preview", "xhigh")["thinkingLevel"],
        "high"
    );
    assert_eq!(
        config("gemini-3-pro-preview", "none")["thinkingLevel"],
        "minimal"
    );
    let req = Request::chat(br#"{"model":"m","messages":[],"reasoning_effort":"max"}"#).unwrap();
    let e = request::body(&req, "gemini-2.5-flash").unwrap_err();
    assert_eq!(e.param.as_deref(), Some("reasoning_effort"));
}
