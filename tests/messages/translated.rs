//! Anthropic clients to OpenAI, Azure and Gemini upstreams: the request as
//! chat completions, the answer and the stream as Anthropic's.

use mock_upstream::Fault;
use serde_json::{json, Value};

use super::client::{self, messages};
use super::common_providers::{backend, gateway, mock, provider, user};
use super::one;

#[tokio::test]
async fn a_whole_answer_from_each_protocol() {
    for kind in ["openai", "gemini"] {
        let (mock, url) = one(kind, Fault::default()).await;
        let resp = messages(
            &url,
            &client::ask("Hello there", json!({"system": "Be brief."})),
        )
        .await;
        assert_eq!(resp.status(), 200, "{kind}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(
            (&v["type"], &v["role"], &v["model"]),
            (&json!("message"), &json!("assistant"), &json!("m"))
        );
        let text = v["content"][0]["text"].as_str().unwrap();
        assert!(
            text.starts_with(&format!("Hello from {kind}.")) && text.contains("Hello there"),
            "{v}"
        );
        assert_eq!(v["stop_reason"], "end_turn");
        assert!(
            v["usage"]["input_tokens"].as_u64().unwrap() > 0
                && v["usage"]["output_tokens"].as_u64().unwrap() > 0
        );
        if kind == "openai" {
            let sent = &mock.requests()[0].body;
            assert_eq!(sent["model"], "gpt-up");
            assert_eq!(sent["max_tokens"], 256);
            assert_eq!(
                sent["messages"][0],
                json!({"role": "system", "content": "Be brief."})
            );
        }
    }
}

/// The mock calls Bash, the client runs it and answers with the result, the
/// mock answers in text quoting it.
async fn tool_round_trip(kind: &str, stream: bool) {
    let (mock, url) = one(kind, Fault::default()).await;
    let mut req = client::ask(
        "please list the files here",
        json!({"tools": client::bash_tool(), "stream": stream}),
    );
    let resp = messages(&url, &req).await;
    assert_eq!(resp.status(), 200);
    let first = if stream {
        client::stream(resp).await
    } else {
        whole(resp.json().await.unwrap())
    };
    assert_eq!(
        first.stop_reason.as_deref(),
        Some("tool_use"),
        "{kind} {first:?}"
    );
    let call = first.tool_uses()[0].clone();
    assert_eq!(
        (&call["name"], &call["input"]),
        (&json!("Bash"), &json!({"command": "ls"})),
        "{kind}"
    );
    let result = json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": call["id"], "content": [{"type": "text", "text": "notes.txt"}]}]});
    req["messages"].as_array_mut().unwrap().extend([
        json!({"role": "assistant", "content": first.content}),
        result,
    ]);
    let resp = messages(&url, &req).await;
    assert_eq!(resp.status(), 200);
    let second = if stream {
        client::stream(resp).await
    } else {
        whole(resp.json().await.unwrap())
    };
    assert_eq!(second.stop_reason.as_deref(), Some("end_turn"));
    assert!(
        second.text().contains("notes.txt"),
        "{kind}: {:?}",
        second.content
    );
    if kind == "openai" {
        let sent = &mock.requests()[1].body["messages"];
        assert_eq!(sent[1]["tool_calls"][0]["function"]["name"], "Bash");
        assert_eq!(
            sent[2],
            json!({"role": "tool", "tool_call_id": call["id"], "content": "notes.txt"})
        );
    }
}

fn whole(v: Value) -> client::Folded {
    client::Folded {
        content: v["content"].as_array().cloned().unwrap_or_default(),
        stop_reason: v["stop_reason"].as_str().map(str::to_string),
        usage: v["usage"].clone(),
        message: v,
        error: None,
    }
}

#[tokio::test]
async fn tool_round_trips_through_openai_and_gemini() {
    for kind in ["openai", "gemini"] {
        for stream in [false, true] {
            tool_round_trip(kind, stream).await;
        }
    }
}

#[tokio::test]
async fn streams_are_anthropic_event_sequences() {
    for kind in ["openai", "gemini"] {
        let (_mock, url) = one(kind, Fault::default()).await;
        let resp = messages(&url, &client::ask("Count to 5", json!({"stream": true}))).await;
        assert_eq!(resp.status(), 200);
        let f = client::stream(resp).await;
        assert_eq!(f.message["model"], "m");
        assert!(
            f.text().starts_with(&format!("Hello from {kind}.")),
            "{kind}: {}",
            f.text()
        );
        assert_eq!(f.stop_reason.as_deref(), Some("end_turn"));
        assert!(
            f.usage["output_tokens"].as_u64().unwrap() > 0,
            "{kind}: {}",
            f.usage
        );
        assert!(
            f.usage["input_tokens"].as_u64().unwrap() > 0,
            "{kind}: {}",
            f.usage
        );
    }
}

#[tokio::test]
async fn thinking_from_an_earlier_anthropic_turn_is_left_out() {
    let (mock, url) = one("openai", Fault::default()).await;
    let req = json!({"model": "m", "max_tokens": 50, "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "secret reasoning", "signature": "c2ln"},
                {"type": "redacted_thinking", "data": "abc"},
                {"type": "text", "text": "Hello!"}]},
            {"role": "user", "content": "again"}]});
    let resp = messages(&url, &req).await;
    assert_eq!(resp.status(), 200);
    let sent = &mock.requests()[0].body;
    assert_eq!(
        sent["messages"][1],
        json!({"role": "assistant", "content": "Hello!"})
    );
    assert!(!sent.to_string().contains("secret reasoning"));
    // gpt-up is no reasoning model: the budget is not sent either.
    assert!(sent.get("reasoning_effort").is_none());
}

#[tokio::test]
async fn what_chat_completions_cannot_express_is_a_400_naming_it() {
    let (mock, url) = one("openai", Fault::default()).await;
    let req = client::ask(
        "hi",
        json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
    );
    let resp = messages(&url, &req).await;
    assert_eq!(resp.status(), 400);
    // Refused before any upstream call: no attempt, no backend (issue 15's rule).
    assert_eq!(resp.headers()["x-switchyard-attempts"], "0");
    assert!(resp.headers().get("x-switchyard-backend").is_none());
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "invalid_request_error");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`tools`") && message.contains("web_search_20250305"),
        "{message}"
    );
    assert_eq!(mock.received(), 0, "nothing was sent");
}

#[tokio::test]
async fn a_failing_backend_fails_over_before_the_first_event() {
    let bad = mock("anthropic", Fault::status(500)).await;
    let good = mock("openai", Fault::default()).await;
    let config = format!(
        "[models.m]\nstrategy = \"failover\"\n{}{}{}{}{}",
        provider("bad", "anthropic", &bad, ""),
        provider("good", "openai", &good, ""),
        backend("bad", "claude-up", ""),
        backend("good", "gpt-up", ""),
        user()
    );
    let url = gateway(&config).await;
    for stream in [false, true] {
        let resp = messages(&url, &client::ask("Hello", json!({"stream": stream}))).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-switchyard-backend"], "good");
        assert_eq!(resp.headers()["x-switchyard-attempts"], "2");
        let text = if stream {
            client::stream(resp).await.text()
        } else {
            whole(resp.json().await.unwrap()).text()
        };
        assert!(text.starts_with("Hello from openai."), "{text}");
    }
}

#[tokio::test]
async fn a_stream_broken_after_its_first_event_ends_with_an_error_event() {
    for kind in ["anthropic", "openai"] {
        // The delay makes the mock flush each event before it resets the
        // connection; without it the reset could overtake them.
        let fault = Fault {
            close_after: Some(2),
            chunk_delay: std::time::Duration::from_millis(50),
            ..Fault::default()
        };
        let (_mock, url) = one(kind, fault).await;
        let resp = messages(&url, &client::ask("Count to 5", json!({"stream": true}))).await;
        assert_eq!(resp.status(), 200, "{kind}: {:?}", resp.text().await);
        let f = client::stream(resp).await;
        let error = f.error.unwrap_or_else(|| panic!("{kind}: no error event"));
        assert_eq!(error["type"], "api_error");
        assert!(
            f.stop_reason.is_none(),
            "{kind}: no message_delta, no message_stop"
        );
    }
}

#[tokio::test]
async fn count_tokens_without_an_anthropic_backend_is_an_estimate() {
    let (mock, url) = one("openai", Fault::default()).await;
    let body =
        json!({"model": "m", "messages": [{"role": "user", "content": "abcdefgh abcdefgh"}]});
    // "role" "user" "content" and the text: 4 + 4 + 7 + 17 bytes, 4 a token.
    assert_eq!(
        client::count_tokens(&url, &body).await,
        json!({"input_tokens": 8})
    );
    assert_eq!(mock.received(), 0);
}

#[tokio::test]
async fn a_long_silence_in_a_translated_stream_gets_pings() {
    // Seven seconds of silence after the first token: one ping (the gateway
    // sends one after 5 s without upstream data).
    let fault = Fault {
        chunk_delay: std::time::Duration::from_secs(7),
        ..Fault::default()
    };
    let mock = mock_upstream::MockServer::start(mock_upstream::MockConfig {
        chunks: Some(2),
        ..mock_upstream::MockConfig::new("openai").with_fault(fault)
    })
    .await
    .unwrap();
    let url = super::single("openai", &mock).await;
    let resp = messages(&url, &client::ask("hi", json!({"stream": true}))).await;
    let text = resp.text().await.unwrap();
    let events = client::events(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let first = names
        .iter()
        .position(|n| *n == "content_block_delta")
        .unwrap();
    assert_eq!(names[first + 1], "ping", "{names:?}");
    assert_eq!(names[first + 2], "content_block_delta", "{names:?}");
    assert_eq!(client::fold(&events).unwrap().text(), "c0 c1 ");
}
