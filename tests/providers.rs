//! Native protocols end to end, over real HTTP: an OpenAI client in front,
//! mock Anthropic / Gemini / Azure / OpenAI upstreams behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_providers;

use common_providers::*;
use mock_upstream::{Fault, MockServer};
use serde_json::{json, Value};

/// One backend of `kind` in front of `mock`, as model `m`.
fn single(kind: &str, mock: &MockServer) -> String {
    let (upstream, extra) = match kind {
        "anthropic" => ("claude-sonnet-4", ""),
        "gemini" => ("gemini-2.5-flash", ""),
        "azure" => ("gpt-4o", "deployment = \"dep-1\""),
        _ => ("gpt-4o", ""),
    };
    format!(
        "{}{}{}",
        provider("p", kind, mock, ""),
        backend("p", upstream, extra),
        user()
    )
}

/// Tools offered → the mock calls get_weather → the client answers with
/// the tool result → the mock answers in text that quotes it.
async fn tool_round_trip(kind: &str, stream: bool) {
    let mock = mock(kind, Fault::default()).await;
    let url = gateway(&single(kind, &mock)).await;
    let mut messages = vec![json!({"role": "user", "content": "What's the weather in Paris?"})];
    let mut req =
        json!({"model": "m", "messages": messages, "tools": weather_tool(), "stream": stream});
    let (status, first, headers) = ask(&url, &req).await;
    assert_eq!(status, 200, "{kind} stream={stream}: {first:?}");
    assert_eq!(headers["x-switchyard-backend"], "p");
    assert_eq!(
        first.finish_reason.as_deref(),
        Some("tool_calls"),
        "{kind} {first:?}"
    );
    let [(id, name, args)] = &first.tool_calls[..] else {
        panic!("{kind} stream={stream}: one tool call expected: {first:?}")
    };
    assert!(!id.is_empty());
    assert_eq!(name, "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(args).unwrap(),
        json!({"city": "Paris"})
    );
    if stream {
        assert!(first.done, "{kind}: a finished stream ends with [DONE]");
    }

    messages.push(json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": id, "type": "function", "function": {"name": name, "arguments": args}}]}));
    messages.push(json!({"role": "tool", "tool_call_id": id, "content": "18C and sunny"}));
    req["messages"] = json!(messages);
    let (status, second, _) = ask(&url, &req).await;
    assert_eq!(status, 200, "{kind}: {second:?}");
    assert!(second.tool_calls.is_empty(), "{kind}: {second:?}");
    assert!(
        second.text.contains("You said: 18C and sunny"),
        "{kind}: {:?}",
        second.text
    );
    assert_eq!(second.finish_reason.as_deref(), Some("stop"));
    check_upstream_requests(kind, &mock, id);
}

/// The upstream saw the provider's key in its protocol's header, never the
/// user's token, and (second request) the tool result tied to the call id.
fn check_upstream_requests(kind: &str, mock: &MockServer, call_id: &str) {
    let recorded = mock.requests();
    assert_eq!(recorded.len(), 2, "{kind}");
    for r in &recorded {
        let all = format!("{} {:?}", r.path, r.headers);
        assert!(
            !all.contains(TOKEN),
            "{kind}: user token leaked upstream: {all}"
        );
        assert!(!r.path.contains("key-p"), "{kind}: key in URL {}", r.path);
        let key_header = match kind {
            "anthropic" => "x-api-key",
            "gemini" => "x-goog-api-key",
            "azure" => "api-key",
            _ => "authorization",
        };
        let want = if kind == "openai" {
            "Bearer key-p"
        } else {
            "key-p"
        };
        assert_eq!(r.header(key_header), Some(want), "{kind}: {:?}", r.headers);
    }
    let body = &recorded[1].body;
    match kind {
        "anthropic" => {
            assert_eq!(recorded[1].header("anthropic-version"), Some("2023-06-01"));
            assert_eq!(body["messages"][2]["content"][0]["tool_use_id"], call_id);
            assert_eq!(body["messages"][1]["content"][0]["type"], "tool_use");
        }
        "gemini" => {
            let part = &body["contents"][2]["parts"][0]["functionResponse"];
            assert_eq!(part["name"], "get_weather");
            assert_eq!(part["response"]["content"], "18C and sunny");
        }
        "azure" => {
            assert!(recorded[1]
                .path
                .starts_with("/openai/deployments/dep-1/chat/completions?api-version=2024-10-21"));
            assert_eq!(body["messages"][2]["tool_call_id"], call_id);
        }
        _ => assert_eq!(body["messages"][2]["tool_call_id"], call_id),
    }
}

#[tokio::test]
async fn tool_round_trip_every_protocol() {
    for kind in ["openai", "anthropic", "gemini", "azure"] {
        tool_round_trip(kind, false).await;
    }
}

#[tokio::test]
async fn streamed_tool_round_trip_every_protocol() {
    for kind in ["openai", "anthropic", "gemini", "azure"] {
        tool_round_trip(kind, true).await;
    }
}

#[tokio::test]
async fn usage_follows_include_usage_on_native_streams() {
    for kind in ["anthropic", "gemini"] {
        let mock = mock(kind, Fault::default()).await;
        let url = gateway(&single(kind, &mock)).await;
        let req = |usage: bool| {
            json!({"model": "m", "stream": true, "stream_options": {"include_usage": usage},
                   "messages": [{"role": "user", "content": "one two three"}]})
        };
        let (_, with, _) = ask(&url, &req(true)).await;
        let usage = with.usage.expect("usage chunk");
        assert_eq!(usage["prompt_tokens"], 3, "{kind}");
        assert_eq!(
            usage["total_tokens"].as_u64(),
            Some(3 + usage["completion_tokens"].as_u64().unwrap())
        );
        assert!(
            with.text.starts_with(&format!("Hello from {kind}.")),
            "{kind}: {}",
            with.text
        );
        let (_, without, _) = ask(&url, &req(false)).await;
        assert!(
            without.usage.is_none() && without.done,
            "{kind}: {without:?}"
        );
    }
}

/// A failover model: `first` (priority 1, faulty) then `second`.
async fn failover(
    first: (&str, Fault),
    second: &str,
    timeout: &str,
) -> (String, MockServer, MockServer) {
    let a = mock("first", first.1).await;
    let b = mock("second", Fault::default()).await;
    let up = |k: &str| {
        if k == "anthropic" {
            "claude-sonnet-4"
        } else {
            "gpt-4o"
        }
    };
    let config = format!(
        "[models.m]\nstrategy = \"failover\"\n{}{}{}{}{}",
        provider(
            "a",
            first.0,
            &a,
            &format!("first_token_timeout = \"{timeout}\"")
        ),
        provider("b", second, &b, ""),
        backend("a", up(first.0), "priority = 1"),
        backend("b", up(second), "priority = 2"),
        user()
    );
    (gateway(&config).await, a, b)
}

#[tokio::test]
async fn anthropic_overloaded_fails_over_to_gemini_and_openai() {
    for (second, stream) in [("gemini", false), ("gemini", true), ("openai", true)] {
        let (url, a, _b) = failover(("anthropic", Fault::status(529)), second, "5s").await;
        let req = json!({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
        let (status, answer, headers) = ask(&url, &req).await;
        assert_eq!(status, 200, "{second} {stream}: {answer:?}");
        assert_eq!(headers["x-switchyard-backend"], "b");
        assert_eq!(headers["x-switchyard-attempts"], "2");
        assert!(answer.text.starts_with("Hello from second."), "{answer:?}");
        assert_eq!(a.received(), 1);
    }
}

#[tokio::test]
async fn anthropic_first_token_stall_fails_over_mid_stream_setup() {
    let stall = Fault {
        stall_after: Some(0),
        ..Fault::default()
    };
    let (url, _a, _b) = failover(("anthropic", stall), "gemini", "300ms").await;
    let req = json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}],
                     "tools": weather_tool()});
    let (status, answer, headers) = ask(&url, &req).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-switchyard-backend"], "b");
    assert!(
        answer.done && answer.text.starts_with("Hello from second."),
        "{answer:?}"
    );
}

#[tokio::test]
async fn gemini_unavailable_fails_over_to_anthropic() {
    let (url, _a, b) = failover(("gemini", Fault::status(503)), "anthropic", "5s").await;
    let req = json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "What is the weather?"}],
                     "tools": weather_tool()});
    let (status, answer, headers) = ask(&url, &req).await;
    assert_eq!(
        (status.as_u16(), &headers["x-switchyard-backend"]),
        (200, &"b".parse().unwrap())
    );
    assert_eq!(answer.tool_calls.len(), 1, "{answer:?}");
    assert_eq!(b.requests()[0].body["tools"][0]["name"], "get_weather");
}

#[tokio::test]
async fn native_client_errors_come_back_in_openai_shape() {
    let cases = [
        (
            "anthropic",
            json!({"message": "mock fault: HTTP 400", "type": "invalid_request_error", "param": null, "code": "invalid_request_error"}),
        ),
        (
            "gemini",
            json!({"message": "mock fault: HTTP 400", "type": "invalid_request_error", "param": null, "code": "invalid_argument"}),
        ),
    ];
    for (kind, want) in cases {
        let mock = mock(kind, Fault::status(400)).await;
        let url = gateway(&single(kind, &mock)).await;
        let resp = post(
            &url,
            &json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
        assert_eq!(resp.status(), 400, "{kind}");
        assert_eq!(resp.headers()["content-type"], "application/json");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body, json!({"error": want}), "{kind}");
    }
}

#[tokio::test]
async fn unsupported_fields_are_refused_or_routed_elsewhere() {
    let a = mock("claude", Fault::default()).await;
    let url = gateway(&single("anthropic", &a)).await;
    let req = json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "x"}]});
    for (field, value) in [("n", json!(2)), ("web_search_options", json!({}))] {
        let mut req = req.clone();
        req.as_object_mut().unwrap().remove("n");
        req[field] = value;
        let resp = post(&url, &req).await;
        assert_eq!(resp.status(), 400);
        assert!(
            !resp.headers().contains_key("x-switchyard-backend"),
            "nothing reached a backend"
        );
        assert_eq!(resp.headers()["x-switchyard-attempts"], "0");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unsupported_parameter");
        assert_eq!(body["error"]["param"], field);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("\"p\"") && message.contains(&format!("`{field}`")),
            "{message}"
        );
    }
    assert_eq!(a.received(), 0, "nothing was sent upstream");

    let (url, a, _b) = failover(("anthropic", Fault::default()), "openai", "5s").await;
    let (status, answer, headers) = ask(&url, &req).await;
    assert_eq!((status.as_u16(), answer.text.is_empty()), (200, false));
    assert_eq!(headers["x-switchyard-backend"], "b");
    assert_eq!(
        headers["x-switchyard-attempts"], "1",
        "the skip is no attempt"
    );
    assert_eq!(a.received(), 0);
}

#[tokio::test]
async fn a_native_stream_broken_after_commit_ends_with_an_error_event() {
    // The delay makes the mock flush each chunk before it resets the
    // connection; without it the reset could overtake the buffered chunks.
    let fault = Fault {
        close_after: Some(2),
        chunk_delay: std::time::Duration::from_millis(50),
        ..Fault::default()
    };
    let a = mock("claude", fault).await;
    let url = gateway(&single("anthropic", &a)).await;
    let req = json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "x"}]});
    let (status, answer, _) = ask(&url, &req).await;
    assert_eq!(status, 200);
    assert_eq!(answer.text, "Hello from ");
    assert!(!answer.done, "{answer:?}");
    assert_eq!(answer.error.unwrap()["code"], "stream_broken");
}

/// A nested Pydantic model as the OpenAI SDK sends it.
fn person_schema() -> Value {
    json!({"$defs": {"Address": {"properties": {"city": {"type": "string"}, "kind": {"const": "home", "type": "string"}},
                                 "required": ["city", "kind"], "type": "object", "additionalProperties": false}},
           "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/Address"}},
           "required": ["name", "address"], "type": "object", "additionalProperties": false})
}

#[tokio::test]
async fn gemini_gets_full_json_schema_for_answers_and_tools() {
    let mock = mock("gemini", Fault::default()).await;
    let url = gateway(&single("gemini", &mock)).await;
    let schema = person_schema();
    let req = json!({"model": "m", "messages": [{"role": "user", "content": "who?"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "Person", "strict": true, "schema": schema}},
        "tools": [{"type": "function", "function": {"name": "save", "parameters": schema}}]});
    let (status, answer, _) = ask(&url, &req).await;
    assert_eq!(status, 200, "{answer:?}");
    let parsed: Value = serde_json::from_str(&answer.text).unwrap();
    assert_eq!(parsed["address"]["kind"], "home", "{parsed}");
    let sent = &mock.requests()[0].body;
    assert_eq!(sent["generationConfig"]["responseJsonSchema"], schema);
    assert_eq!(
        sent["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(
        sent["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"],
        schema
    );
    assert!(sent["generationConfig"].get("responseSchema").is_none());
}
