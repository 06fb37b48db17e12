//! Translation that keeps meaning, over real HTTP: what reached the mock
//! upstream (it records every request, and refuses what the real API
//! refuses) and what the OpenAI client got back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_providers;

use common_providers::*;
use mock_upstream::{Fault, MockServer};
use serde_json::{json, Value};

/// One backend of `kind` (`anthropic` or `gemini`) serving `upstream` as model `m`.
async fn native(kind: &str, upstream: &str) -> (String, MockServer) {
    let mock = mock(kind, Fault::default()).await;
    let config = format!(
        "{}{}{}",
        provider("p", kind, &mock, ""),
        backend("p", upstream, ""),
        user()
    );
    (gateway(&config).await, mock)
}

/// Tool conversation turns: the user asks, the model calls, the client
/// answers with `results` in turn, each time sending back the assistant
/// message as it got it (extras included). Returns each turn's answer.
async fn tool_conversation(url: &str, stream: bool, results: &[&str]) -> Vec<Answer> {
    let mut messages = vec![json!({"role": "user", "content": "What's the weather in Paris?"})];
    let mut answers = Vec::new();
    for result in results.iter().map(Some).chain([None]) {
        let req = json!({"model": "m", "messages": messages, "tools": weather_tool(),
                         "stream": stream, "reasoning_effort": "low"});
        let (status, answer, _) = ask(url, &req).await;
        assert_eq!(status, 200, "{answer:?}");
        if let Some(result) = result {
            let (id, _, _) = answer.tool_calls.first().expect("a call").clone();
            messages.push(answer.message.clone());
            messages.push(json!({"role": "tool", "tool_call_id": id, "content": result}));
        }
        answers.push(answer);
    }
    answers
}

fn signatures(contents: &Value) -> Vec<String> {
    let parts = contents
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["parts"].as_array().unwrap());
    parts
        .filter_map(|p| p["thoughtSignature"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn gemini_thought_signatures_survive_a_three_turn_tool_conversation() {
    for stream in [false, true] {
        let (url, mock) = native("gemini", "gemini-3-flash-preview").await;
        let answers = tool_conversation(&url, stream, &["18C, call again for Rome", "21C"]).await;
        assert_eq!(
            answers[0].message["tool_calls"][0]["extra_content"]["google"]["thought_signature"],
            "sig-call-0"
        );
        assert_eq!(
            answers[2].message["extra_content"]["google"]["thought_signature"],
            "sig-text-2"
        );
        assert!(answers[2].text.contains("21C"), "{:?}", answers[2]);
        let sent: Vec<Value> = mock
            .requests()
            .iter()
            .map(|r| r.body["contents"].clone())
            .collect();
        assert_eq!(sent.len(), 3);
        assert_eq!(signatures(&sent[1]), ["sig-call-0"], "stream={stream}");
        assert_eq!(
            signatures(&sent[2]),
            ["sig-call-0", "sig-call-1"],
            "stream={stream}"
        );
        assert_eq!(
            sent[2][1]["parts"][0]["functionCall"]["name"],
            "get_weather"
        );
    }
}

#[tokio::test]
async fn gemini_reasoning_effort_shows_thoughts_and_counts_them() {
    let (url, mock) = native("gemini", "gemini-2.5-flash").await;
    for stream in [false, true] {
        let req = json!({"model": "m", "stream": stream, "stream_options": {"include_usage": true},
                         "reasoning_effort": "high", "messages": [{"role": "user", "content": "two words"}]});
        let (status, answer, _) = ask(&url, &req).await;
        assert_eq!(status, 200);
        assert_eq!(
            answer.reasoning, "Thinking about: two words",
            "stream={stream}"
        );
        let usage = answer.usage.unwrap();
        assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 4);
        let sent = mock.requests().last().unwrap().body.clone();
        assert_eq!(
            sent["generationConfig"]["thinkingConfig"],
            json!({"thinkingBudget": 24576, "includeThoughts": true})
        );
    }
}

#[tokio::test]
async fn anthropic_thinking_round_trips_through_a_tool_loop() {
    for stream in [false, true] {
        let (url, mock) = native("anthropic", "claude-sonnet-4-5").await;
        let answers = tool_conversation(&url, stream, &["18C"]).await;
        let blocks = &answers[0].message["thinking_blocks"];
        assert_eq!(blocks.as_array().map(Vec::len), Some(1), "stream={stream}");
        assert_eq!(blocks[0]["type"], "thinking");
        assert_eq!(
            blocks[0]["thinking"],
            "Thinking about: What's the weather in Paris?"
        );
        // Signed at step 0 (no tool result yet), bound to the text.
        let signature = blocks[0]["signature"].as_str().unwrap_or("");
        assert!(signature.starts_with("sig-think-0-"), "{signature}");
        assert_eq!(
            answers[0].reasoning,
            "Thinking about: What's the weather in Paris?"
        );
        assert!(answers[1].text.contains("18C"));
        let sent = mock.requests();
        assert_eq!(
            sent[0].body["thinking"],
            json!({"type": "enabled", "budget_tokens": 2048})
        );
        assert_eq!(sent[0].body["max_tokens"], 2048 + 4096);
        // The mock, like Anthropic, refuses the turn unless it starts with its block.
        assert_eq!(sent[1].body["messages"][1]["content"][0], blocks[0]);
    }
}

#[tokio::test]
async fn a_client_that_drops_thinking_blocks_still_gets_its_tool_loop_answered() {
    let (url, mock) = native("anthropic", "claude-sonnet-4-5").await;
    let call = json!({"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}});
    let req = json!({"model": "m", "reasoning_effort": "low", "tools": weather_tool(), "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "t1", "content": "18C"}]});
    let (status, answer, _) = ask(&url, &req).await;
    assert_eq!(status, 200, "{answer:?}");
    assert!(mock.requests()[0].body.get("thinking").is_none());
}

#[tokio::test]
async fn an_empty_user_message_is_answered_everywhere() {
    for (kind, upstream) in [
        ("anthropic", "claude-sonnet-4-5"),
        ("gemini", "gemini-2.5-flash"),
    ] {
        let (url, mock) = native(kind, upstream).await;
        let req = json!({"model": "m", "messages": [{"role": "user", "content": ""}]});
        let (status, answer, _) = ask(&url, &req).await;
        assert_eq!(status, 200, "{kind}: {answer:?}");
        let body = mock.requests()[0].body.clone();
        let sent = match kind {
            "anthropic" => &body["messages"][0]["content"][0]["text"],
            _ => &body["contents"][0]["parts"][0]["text"],
        };
        assert_eq!(sent, ".", "{kind}");
    }
}

#[tokio::test]
async fn anthropic_takes_temperature_or_top_p_and_strict_tools() {
    let (url, mock) = native("anthropic", "claude-sonnet-4-5").await;
    let both = |p: f64| {
        json!({"model": "m", "temperature": 0.3, "top_p": p, "messages": [{"role": "user", "content": "x"}],
               "tools": [{"type": "function", "function": {"name": "f", "strict": true,
                          "parameters": {"type": "object", "properties": {}, "additionalProperties": false}}}]})
    };
    let resp = post(&url, &both(0.8)).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["param"], "top_p");
    assert_eq!(mock.received(), 0);
    let (status, _, _) = ask(&url, &both(1.0)).await;
    assert_eq!(status, 200);
    let sent = mock.requests()[0].body.clone();
    assert_eq!(
        (&sent["temperature"], sent.get("top_p")),
        (&json!(0.3), None)
    );
    assert_eq!(sent["tools"][0]["strict"], true);
}

#[tokio::test]
async fn speakers_and_late_system_messages_reach_the_upstream_in_the_text() {
    let req = json!({"model": "m", "messages": [
        {"role": "user", "name": "alice", "content": "I like tea."},
        {"role": "user", "name": "bob", "content": "I like coffee."},
        {"role": "assistant", "content": "Noted."},
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "name": "alice", "content": "What do we like?"}]});
    let texts = [
        "alice: I like tea.",
        "bob: I like coffee.",
        "Noted.",
        "System: Answer in French.",
        "alice: What do we like?",
    ];
    for (kind, upstream) in [
        ("anthropic", "claude-sonnet-4-5"),
        ("gemini", "gemini-2.5-flash"),
    ] {
        let (url, mock) = native(kind, upstream).await;
        let (status, answer, _) = ask(&url, &req).await;
        assert_eq!(status, 200, "{kind}: {answer:?}");
        assert!(
            answer.text.ends_with("alice: What do we like? "),
            "{kind}: {}",
            answer.text
        );
        let body = mock.requests()[0].body.clone();
        let (turns, parts) = match kind {
            "anthropic" => ("messages", "content"),
            _ => ("contents", "parts"),
        };
        let sent: Vec<Vec<&str>> = body[turns]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                t[parts]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["text"].as_str().unwrap())
                    .collect()
            })
            .collect();
        assert_eq!(
            sent,
            [&texts[..2], &texts[2..3], &texts[3..]],
            "{kind}: three turns, in order"
        );
        assert!(
            body.get("system").is_none() && body.get("systemInstruction").is_none(),
            "{kind}"
        );
    }
}
