//! The `backend` field: pins one request to a named backend, never goes
//! upstream, and never bypasses permissions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use mock_upstream::{Fault, MockServer};
use serde_json::{json, Value};

struct Setup {
    gw: Gateway,
    a: MockServer,
    b: MockServer,
    down: MockServer,
}

/// Model `m`: `a`, `b` (tagged vip), `down` (HTTP 500), `off` (disabled); model `other`: `a`.
/// Users: tester (all), plain (no tags), nopin (may not pin), limited (only `other`).
async fn setup() -> Setup {
    let (a, b) = (mock("a").await, mock("b").await);
    let down = mock_with("down", Fault::status(500)).await;
    let off = mock("off").await;
    let mut t = String::new();
    for (n, m) in [("a", &a), ("b", &b), ("down", &down), ("off", &off)] {
        t += &provider(n, m, "");
    }
    t += "[models.m]\nstrategy = \"failover\"\n";
    t += &(backend("m", "a", "")
        + &backend("m", "b", "tags = [\"vip\"]")
        + &backend("m", "down", "")
        + &backend("m", "off", "enabled = false"));
    t += &format!("[models.other]\n{}", backend("other", "a", ""));
    t += &format!("[users.tester]\ntoken = \"{TOKEN}\"\ntags = [\"vip\"]\n");
    t += "[users.plain]\ntoken = \"plain-token\"\n[users.nopin]\ntoken = \"nopin-token\"\nallow_backend_pin = false\n";
    t += "[users.limited]\ntoken = \"limited-token\"\nallowed_models = [\"other\"]\n";
    Setup {
        gw: gateway(&t).await,
        a,
        b,
        down,
    }
}

async fn chat_as(gw: &Gateway, token: &str, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn pins_to_the_named_backend_and_never_sends_the_field() {
    let s = setup().await;
    for _ in 0..3 {
        let resp = chat(&s.gw, chat_body(json!({"backend": "b", "max_tokens": 1}))).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-switchyard-backend"), "b");
    }
    assert_eq!(
        (s.a.received(), s.b.received()),
        (0, 3),
        "failover strategy would pick `a`; the pin wins"
    );
    for req in s.b.requests() {
        assert!(
            req.body.get("backend").is_none(),
            "`backend` went upstream: {}",
            req.body
        );
        assert_eq!(req.body["model"], "up-b");
        assert_eq!(req.body["max_tokens"], 1);
    }
}

#[tokio::test]
async fn pinned_streams_work() {
    let s = setup().await;
    let resp = chat(&s.gw, chat_body(json!({"backend": "b", "stream": true}))).await;
    assert_eq!(header(&resp, "x-switchyard-backend"), "b");
    assert!(stream_text(&sse_events(resp).await).starts_with("Hello from b."));
    assert!(s.b.requests()[0].body.get("backend").is_none());
}

#[tokio::test]
async fn a_failing_pinned_backend_is_not_failed_over() {
    let s = setup().await;
    let resp = chat(&s.gw, chat_body(json!({"backend": "down"}))).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(header(&resp, "x-switchyard-backend"), "down");
    assert_eq!(header(&resp, "x-switchyard-attempts"), "1");
    let err = error_of(resp).await;
    assert!(
        err["message"].as_str().unwrap().contains("down: HTTP 500"),
        "{err}"
    );
    assert_eq!(
        (s.a.received(), s.b.received(), s.down.received()),
        (0, 0, 1)
    );
}

#[tokio::test]
async fn null_means_no_pin() {
    let s = setup().await;
    let resp = chat(&s.gw, chat_body(json!({"backend": null}))).await;
    assert_eq!(header(&resp, "x-switchyard-backend"), "a");
}

#[tokio::test]
async fn unknown_or_foreign_backends_are_400_backend_not_found() {
    let s = setup().await;
    for pin in ["nope", "problematic", ""] {
        let resp = chat(&s.gw, chat_body(json!({"backend": pin}))).await;
        assert_eq!(resp.status(), 400);
        let err = error_of(resp).await;
        assert_eq!(
            (err["param"].as_str(), err["code"].as_str()),
            (Some("backend"), Some("backend_not_found"))
        );
        let msg = err["message"].as_str().unwrap();
        assert!(msg.ends_with("backends you may pin: a, b, down"), "{msg}");
    }
    let other = chat(
        &s.gw,
        json!({"model": "other", "messages": [], "backend": "b"}),
    )
    .await;
    assert_eq!(
        error_of(other).await["code"],
        "backend_not_found",
        "b does not serve model `other`"
    );
}

#[tokio::test]
async fn tag_hidden_backends_look_unknown() {
    let s = setup().await;
    let resp = chat_as(&s.gw, "plain-token", chat_body(json!({"backend": "b"}))).await;
    assert_eq!(resp.status(), 400);
    let err = error_of(resp).await;
    assert_eq!(err["code"], "backend_not_found");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .ends_with("backends you may pin: a, down"),
        "{err}"
    );
    assert_eq!(s.b.received(), 0);
}

#[tokio::test]
async fn disabled_backends_are_400_backend_disabled() {
    let s = setup().await;
    let resp = chat(&s.gw, chat_body(json!({"backend": "off"}))).await;
    assert_eq!(resp.status(), 400);
    let err = error_of(resp).await;
    assert_eq!(
        (err["param"].as_str(), err["code"].as_str()),
        (Some("backend"), Some("backend_disabled"))
    );
}

#[tokio::test]
async fn non_string_values_are_400_on_param_backend() {
    let s = setup().await;
    for bad in [json!(1), json!(true), json!(["a"]), json!({"id": "a"})] {
        let resp = chat(&s.gw, chat_body(json!({"backend": bad}))).await;
        assert_eq!(resp.status(), 400);
        assert_eq!(error_of(resp).await["param"], "backend");
    }
    assert_eq!(s.a.received(), 0);
}

#[tokio::test]
async fn pinning_never_bypasses_permissions() {
    let s = setup().await;
    let resp = chat_as(&s.gw, "nopin-token", chat_body(json!({"backend": "a"}))).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(error_of(resp).await["code"], "backend_pin_not_allowed");
    let resp = chat_as(&s.gw, "limited-token", chat_body(json!({"backend": "a"}))).await;
    assert_eq!(
        resp.status(),
        404,
        "allowed_models applies to pinned requests (a forbidden model is not disclosed)"
    );
    assert_eq!(error_of(resp).await["code"], "model_not_found");
    let resp = chat_as(&s.gw, "wrong-token", chat_body(json!({"backend": "a"}))).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(s.a.received(), 0);
}

#[tokio::test]
async fn a_rate_limited_pin_answers_429_when_it_cools_down() {
    let limited = mock_with(
        "limited",
        Fault {
            retry_after: Some("4".into()),
            ..Fault::status(429)
        },
    )
    .await;
    let other = mock("other").await;
    let mut t = provider("limited", &limited, "") + &provider("other", &other, "");
    t += "[models.m]\n";
    t += &(backend("m", "limited", "") + &backend("m", "other", "") + &user());
    let gw = gateway(&t).await;
    let resp = chat(&gw, chat_body(json!({"backend": "limited"}))).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "retry-after"), "4");
    assert_eq!(header(&resp, "x-switchyard-backend"), "limited");
    assert_eq!(error_of(resp).await["type"], "rate_limit_error");
    assert_eq!((limited.received(), other.received()), (1, 0));
}
