//! `previous_response_id` over real HTTP: a response is stored at the
//! account that made it (the Responses mocks refuse ids another mock
//! issued, as OpenAI does), so the request that continues it must go back
//! to that backend, streamed or not, whatever the balancer would pick; when
//! that backend is out of rotation the client gets a 409 naming the field;
//! an id the gateway never saw is routed as usual, and a pin wins.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use mock_upstream::{Fault, MockServer};
use serde_json::{json, Value};

/// Model `m` over two Responses backends `a` and `b`, taken in turn, with
/// conversation affinity off so only the stored state can keep a turn on
/// one backend.
fn two(a: &MockServer, b: &MockServer) -> String {
    let mut t = "[health]\nfailure_threshold = 1\nopen_cooldown = \"60s\"\n".to_string();
    t += &(provider("a", a, "responses = true") + &provider("b", b, "responses = true"));
    t += "[models.m]\nstrategy = \"round_robin\"\naffinity = \"off\"\n";
    t += &(backend("m", "a", "") + &backend("m", "b", ""));
    t + &user() + "[users.root]\ntoken = \"root-token\"\nadmin = true\n"
}

async fn respond(gw: &Gateway, body: Value) -> (u16, String, Value) {
    let resp = client()
        .post(format!("{}/v1/responses", gw.url))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let backend = resp
        .headers()
        .get("x-switchyard-backend")
        .map_or(String::new(), |v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    let body = match body["stream"].as_bool() {
        Some(true) if status == 200 => completed(&text),
        _ => serde_json::from_str(&text).unwrap(),
    };
    (status, backend, body)
}

/// The `response` of a stream's `response.completed` event.
fn completed(sse: &str) -> Value {
    sse.split("\n\n")
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .find(|e| e["type"] == "response.completed")
        .map(|e| e["response"].clone())
        .expect("a response.completed event")
}

fn turn(previous: &str, stream: bool) -> Value {
    json!({"model": "m", "input": "and then?", "previous_response_id": previous, "stream": stream})
}

async fn admin(gw: &Gateway, backend: &str, action: &str) {
    let resp = client()
        .post(format!("{}/admin/backends/{backend}/{action}", gw.url))
        .bearer_auth("root-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// The first turn, until backend `a` answers it (the balancer alternates).
async fn stored_at_a(gw: &Gateway) -> String {
    for _ in 0..2 {
        let (status, backend, body) = respond(gw, json!({"model": "m", "input": "hi"})).await;
        assert_eq!(status, 200, "{body}");
        if backend == "a" {
            return body["id"].as_str().unwrap().to_string();
        }
    }
    panic!("round robin never chose a");
}

#[tokio::test]
async fn each_turn_goes_back_to_the_backend_that_stored_the_last() {
    let (a, b) = (mock("a").await, mock("b").await);
    let gw = gateway(&two(&a, &b)).await;
    let mut previous = stored_at_a(&gw).await;
    let b_before = b.received();
    for i in 0..10 {
        let (status, backend, body) = respond(&gw, turn(&previous, i % 2 == 1)).await;
        assert_eq!((status, backend.as_str()), (200, "a"), "turn {i}: {body}");
        let id = body["id"].as_str().unwrap().to_string();
        assert_ne!(id, previous, "every answer stores a new response");
        previous = id;
    }
    assert_eq!(b.received(), b_before, "b never saw the conversation");
    // Without a previous response the balancer still alternates.
    let (_, x, _) = respond(&gw, json!({"model": "m", "input": "new"})).await;
    let (_, y, _) = respond(&gw, json!({"model": "m", "input": "new"})).await;
    assert_ne!(x, y);
}

#[tokio::test]
async fn state_on_a_backend_out_of_rotation_is_a_409_naming_the_field() {
    let (a, b) = (mock("a").await, mock("b").await);
    let gw = gateway(&two(&a, &b)).await;
    let previous = stored_at_a(&gw).await;
    admin(&gw, "a", "disable").await;
    let (a_before, b_before) = (a.received(), b.received());
    for stream in [false, true] {
        let (status, backend, body) = respond(&gw, turn(&previous, stream)).await;
        assert_eq!((status, backend.as_str()), (409, ""), "{body}");
        let e = &body["error"];
        assert_eq!(e["param"], "previous_response_id", "{body}");
        assert_eq!(e["code"], "previous_response_unavailable");
        assert_eq!(e["type"], "invalid_request_error");
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains("\"a\"") && message.contains("disabled"),
            "{message}"
        );
    }
    assert_eq!(
        (a.received(), b.received()),
        (a_before, b_before),
        "nothing was sent"
    );
    admin(&gw, "a", "enable").await;
    let (status, backend, _) = respond(&gw, turn(&previous, false)).await;
    assert_eq!((status, backend.as_str()), (200, "a"));
}

#[tokio::test]
async fn unknown_ids_are_routed_as_usual_and_a_pin_wins() {
    let (a, b) = (mock("a").await, mock("b").await);
    let gw = gateway(&two(&a, &b)).await;
    let previous = stored_at_a(&gw).await;
    let mut pinned = turn(&previous, false);
    pinned["backend"] = "b".into();
    let (status, backend, body) = respond(&gw, pinned).await;
    assert_eq!((status, backend.as_str()), (400, "b"), "{body}");
    assert_eq!(body["error"]["code"], "previous_response_not_found");
    // An id the gateway never saw goes where the balancer says; the
    // backend's own answer is the truth.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (status, backend, _) = respond(&gw, turn("resp_a_999", false)).await;
        seen.push((status, backend));
    }
    seen.sort();
    assert_eq!(seen, vec![(200, "a".into()), (400, "b".into())]);
}

#[tokio::test]
async fn state_on_a_backend_that_is_down_is_a_409_with_a_retry_after() {
    let (a, b) = (mock("a").await, mock("b").await);
    let gw = gateway(&two(&a, &b)).await;
    let previous = stored_at_a(&gw).await;
    a.set_fault(Fault::status(500));
    // It goes to `a` alone, whose failure opens its circuit (threshold 1).
    let (status, backend, _) = respond(&gw, turn(&previous, false)).await;
    assert_eq!((status, backend.as_str()), (502, "a"));
    let resp = client()
        .post(format!("{}/v1/responses", gw.url))
        .bearer_auth(TOKEN)
        .json(&turn(&previous, false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=60).contains(&wait),
        "back within the open cooldown: {wait}"
    );
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("down"),
        "{body}"
    );
}

#[tokio::test]
async fn responses_not_stored_are_not_remembered() {
    let (a, b) = (mock("a").await, mock("b").await);
    let gw = gateway(&two(&a, &b)).await;
    let body = json!({"model": "m", "input": "hi", "store": false});
    let (mut backend, mut id) = (String::new(), String::new());
    for _ in 0..2 {
        let (status, by, answer) = respond(&gw, body.clone()).await;
        assert_eq!(status, 200);
        (backend, id) = (by, answer["id"].as_str().unwrap().to_string());
        if backend == "a" {
            break;
        }
    }
    assert_eq!(backend, "a");
    // Named twice, it is balanced as usual: once to `b`, which refuses it
    // (had it been remembered, both would have gone to `a`).
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (status, by, _) = respond(&gw, turn(&id, false)).await;
        seen.push((status, by));
    }
    assert!(seen.contains(&(400, "b".to_string())), "{seen:?}");
}

#[tokio::test]
async fn a_conversation_stays_at_the_backend_that_keeps_it() {
    let (a, b) = (mock("a").await, mock("b").await);
    let gw = gateway(&two(&a, &b)).await;
    let ask =
        |conversation: Value| json!({"model": "m", "input": "hi", "conversation": conversation});
    let (status, first, _) = respond(&gw, ask("conv_1".into())).await;
    assert_eq!(status, 200);
    for i in 0..6 {
        // Either form of the field names the same conversation.
        let conversation = if i % 2 == 0 {
            json!("conv_1")
        } else {
            json!({"id": "conv_1"})
        };
        let (status, backend, _) = respond(&gw, ask(conversation)).await;
        assert_eq!(
            (status, backend.as_str()),
            (200, first.as_str()),
            "turn {i}"
        );
    }
    admin(&gw, &first, "disable").await;
    let (status, _, body) = respond(&gw, ask("conv_1".into())).await;
    assert_eq!(
        (status, body["error"]["param"].as_str()),
        (409, Some("conversation")),
        "{body}"
    );
}
