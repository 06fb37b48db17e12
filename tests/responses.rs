//! `POST /v1/responses` end to end, over real HTTP: passed through to a
//! Responses-speaking mock, translated for chat, Anthropic, Gemini and
//! Azure mocks, streamed or not, with tools, failover and the commit rule.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_providers;
mod common_responses;

use base64::Engine;
use common_responses::*;
use mock_upstream::Fault;
use serde_json::{json, Value};

const KINDS: [&str; 5] = ["responses", "openai", "anthropic", "gemini", "azure"];

#[tokio::test]
async fn a_responses_backend_gets_the_body_byte_for_byte() {
    let mock = mock("resp", Fault::default()).await;
    let url = gateway(&single("responses", &mock)).await;
    let body = "{\"input\":\"Hello\" ,  \"model\":\"m\",\"x_future\":{\"a\":[1, 2]},\"backend\":\"p\",\n\"store\":false}";
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/responses"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-backend"], "p");
    let answer: Value = resp.json().await.unwrap();
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/v1/responses");
    assert_eq!(sent.header("authorization"), Some("Bearer key-p"));
    assert_eq!(
        std::str::from_utf8(&sent.raw).unwrap(),
        "{\"input\":\"Hello\" ,  \"model\":\"up-model\",\"x_future\":{\"a\":[1, 2]},\n\"store\":false}"
    );
    assert_eq!(
        answer["x_mock"]["name"], "resp",
        "unknown fields of the answer survive"
    );
    assert_eq!(output_text(&answer), "Hello from resp. You said: Hello ");
}

#[tokio::test]
async fn encrypted_reasoning_round_trips_through_a_responses_backend() {
    let mock = mock("resp", Fault::default()).await;
    let url = gateway(&single("responses", &mock)).await;
    let ask = json!({"model": "m", "input": "Hi", "stream": true, "include": ["reasoning.encrypted_content"], "store": false});
    let (_, first) = stream(&url, &ask).await;
    let folded = well_formed(&first).unwrap();
    let reasoning = folded.response["output"][0].clone();
    assert_eq!(reasoning["type"], "reasoning");
    assert!(reasoning["encrypted_content"]
        .as_str()
        .is_some_and(|e| !e.is_empty()));
    let mut input = vec![json!({"role": "user", "content": "Hi"}), reasoning.clone()];
    input.extend(
        folded.response["output"].as_array().unwrap()[1..]
            .iter()
            .cloned(),
    );
    input.push(json!({"role": "user", "content": "again"}));
    let (status, again) = create(&url, &json!({"model": "m", "input": input.clone()})).await;
    assert_eq!(status, 200, "the mock verified its own reasoning: {again}");
    assert_eq!(mock.requests()[1].body["input"][1], reasoning);
    // Another backend's reasoning is refused, as OpenAI refuses it.
    input[1]["encrypted_content"] = base64::engine::general_purpose::STANDARD
        .encode("mock-reasoning:other")
        .into();
    let (status, refused) = create(&url, &json!({"model": "m", "input": input})).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (400, Some("invalid_encrypted_content"))
    );
}

#[tokio::test]
async fn every_protocol_answers_whole_and_streamed() {
    for kind in KINDS {
        let mock = mock(kind, Fault::default()).await;
        let url = gateway(&single(kind, &mock)).await;
        let body = json!({"model": "m", "instructions": "be brief", "input": "Hello", "max_output_tokens": 64});
        let (status, answer) = create(&url, &body).await;
        assert_eq!(status, 200, "{kind}: {answer}");
        assert_eq!(
            (answer["object"].as_str(), answer["status"].as_str()),
            (Some("response"), Some("completed")),
            "{kind}"
        );
        assert_eq!(
            output_text(&answer),
            format!("Hello from {kind}. You said: Hello "),
            "{kind}"
        );
        assert!(
            answer["usage"]["input_tokens"].as_u64().unwrap() > 0,
            "{kind}: {answer}"
        );
        let mut body = body;
        body["stream"] = true.into();
        let (_, events) = stream(&url, &body).await;
        let folded = well_formed(&events).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(
            folded.text,
            format!("Hello from {kind}. You said: Hello "),
            "{kind}"
        );
        assert_eq!(folded.output_text(), folded.text, "{kind}");
        assert!(
            folded.response["usage"]["output_tokens"].as_u64().unwrap() > 0,
            "{kind}"
        );
    }
}

fn weather(stream: bool) -> Value {
    json!({"model": "m", "stream": stream, "input": [{"role": "user", "content": [{"type": "input_text", "text": "What's the weather in Paris?"}]}],
           "tools": [{"type": "function", "name": "get_weather", "strict": true,
                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}}]})
}

#[tokio::test]
async fn a_function_call_round_trip_on_every_backend() {
    for kind in KINDS {
        for streamed in [false, true] {
            let mock = mock(kind, Fault::default()).await;
            let url = gateway(&single(kind, &mock)).await;
            let mut body = weather(streamed);
            let first = answer(&url, &body, streamed).await;
            let [(item, call_id, name, args)] = &calls(&first)[..] else {
                panic!("{kind} stream={streamed}: one call expected: {first}")
            };
            assert_eq!(
                (item.as_str(), name.as_str()),
                ("function_call", "get_weather"),
                "{kind}"
            );
            assert_eq!(
                serde_json::from_str::<Value>(args).unwrap(),
                json!({"city": "Paris"}),
                "{kind}"
            );
            let mut input = body["input"].as_array().unwrap().clone();
            input.extend(first["output"].as_array().unwrap().iter().cloned());
            input.push(json!({"type": "function_call_output", "call_id": call_id, "output": "18C and sunny"}));
            body["input"] = input.into();
            let second = answer(&url, &body, streamed).await;
            assert!(calls(&second).is_empty(), "{kind}: {second}");
            assert!(
                output_text(&second).contains("You said: 18C and sunny"),
                "{kind} stream={streamed}: {second}"
            );
        }
    }
}

/// The final `response` object, streamed (checked well formed) or not.
async fn answer(url: &str, body: &Value, streamed: bool) -> Value {
    if streamed {
        let (_, events) = stream(url, body).await;
        return well_formed(&events).unwrap().response;
    }
    let (status, answer) = create(url, body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test]
async fn json_schema_output_reaches_chat_and_gemini_upstreams() {
    let format = json!({"format": {"type": "json_schema", "name": "city", "strict": true,
        "schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false}}});
    for kind in ["openai", "gemini"] {
        let mock = mock(kind, Fault::default()).await;
        let url = gateway(&single(kind, &mock)).await;
        let (status, _) = create(
            &url,
            &json!({"model": "m", "input": "a city", "text": format}),
        )
        .await;
        assert_eq!(status, 200, "{kind}");
        let sent = &mock.requests()[0].body;
        match kind {
            "gemini" => {
                assert_eq!(
                    sent["generationConfig"]["responseMimeType"],
                    "application/json"
                );
                assert_eq!(
                    sent["generationConfig"]["responseJsonSchema"]["required"],
                    json!(["name"])
                );
            }
            _ => assert_eq!(sent["response_format"]["json_schema"]["name"], "city"),
        }
    }
}

#[tokio::test]
async fn codex_tools_are_offered_as_the_upstream_can_run_them() {
    let mock = mock("chat", Fault::default()).await;
    let url = gateway(&single("openai", &mock)).await;
    let tools = json!([
        {"type": "custom", "name": "apply_patch", "description": "edit files", "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}},
        {"type": "web_search", "external_web_access": false},
        {"type": "tool_search", "execution": "client", "parameters": {"type": "object"}},
        {"type": "namespace", "name": "mcp", "description": "d", "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]},
    ]);
    let body = json!({"model": "m", "input": "weather?", "tools": tools, "tool_choice": "auto", "parallel_tool_calls": true});
    let (status, answer) = create(&url, &body).await;
    assert_eq!(status, 200, "{answer}");
    let sent = mock.requests()[0].body.clone();
    let offered: Vec<&str> = sent["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["apply_patch", "lookup"]);
    // The mock called the first tool: a custom one, so it comes back as such.
    let [(item, _, name, _)] = &calls(&answer)[..] else {
        panic!("{answer}")
    };
    assert_eq!(
        (item.as_str(), name.as_str()),
        ("custom_tool_call", "apply_patch")
    );
    let mut body = body;
    body["tool_choice"] = json!({"type": "web_search"});
    let resp = post_to(&url, "/v1/responses", &body).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_param(resp).await, "tool_choice");
}

#[tokio::test]
async fn state_goes_only_to_responses_backends() {
    let chat = mock("chat", Fault::default()).await;
    let url = gateway(&single("anthropic", &chat)).await;
    for field in [
        json!({"previous_response_id": "resp_1"}),
        json!({"store": true}),
    ] {
        let mut body = json!({"model": "m", "input": "more"});
        body.as_object_mut()
            .unwrap()
            .extend(field.as_object().unwrap().clone());
        let resp = post_to(&url, "/v1/responses", &body).await;
        assert_eq!(resp.status(), 400);
        let param = error_param(resp).await;
        assert!(field.get(&param).is_some(), "{param}");
    }
    assert!(chat.requests().is_empty(), "refused before sending");
    let resp = mock("resp", Fault::default()).await;
    let url = gateway(&single("responses", &resp)).await;
    // The mock knows the responses it stored: `resp_resp_N`.
    let (status, _) = create(
        &url,
        &json!({"model": "m", "input": "more", "previous_response_id": "resp_resp_1", "store": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        resp.requests()[0].body["previous_response_id"],
        "resp_resp_1"
    );
}
