//! Auth, permissions, models, request validation and response headers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

async fn two_models() -> (Gateway, mock_upstream::MockServer) {
    let a = mock("a").await;
    let mut t = provider("a", &a, "");
    t += &format!(
        "[models.m]\n{}[models.secret]\n{}",
        backend("m", "a", ""),
        backend("secret", "a", "")
    );
    t += &format!(
        "[models.vip]\n{}",
        backend("vip", "a", "id = \"a_vip\"\ntags = [\"vip\"]")
    );
    t += &format!("[users.tester]\ntoken = \"{TOKEN}\"\nallowed_models = [\"m\", \"vip\"]\n");
    t += "[users.off]\ntoken = \"off-token\"\nenabled = false\n";
    (gateway(&t).await, a)
}

#[tokio::test]
async fn auth_statuses() {
    let (gw, a) = two_models().await;
    let post = |token: Option<&'static str>, model: &'static str| {
        let mut rb = client()
            .post(format!("{}/v1/chat/completions", gw.url))
            .json(&json!({"model": model, "messages": []}));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb.send()
    };
    let cases = [
        (None, "m", 401),
        (Some("nope"), "m", 401),
        (Some("off-token"), "m", 401),
        (Some(TOKEN), "secret", 404),
        (Some(TOKEN), "ghost", 404),
    ];
    let mut not_found = Vec::new();
    for (token, model, status) in cases {
        let resp = post(token, model).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{token:?} {model}");
        let err = error_of(resp).await;
        if status == 404 {
            assert_eq!(err["code"], "model_not_found");
            not_found.push(err["message"].as_str().unwrap().replace(model, "M"));
        }
        assert!(!err.to_string().contains("nope"), "tokens are never echoed");
    }
    assert_eq!(
        not_found[0], not_found[1],
        "a forbidden model is answered like one that does not exist"
    );
    assert_eq!(a.received(), 0);
    assert_eq!(post(Some(TOKEN), "m").await.unwrap().status(), 200);
}

/// The scheme of `Authorization` is case-insensitive (RFC 9110 11.1).
#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let (gw, _a) = two_models().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let resp = client()
            .get(format!("{}/v1/models", gw.url))
            .header("authorization", format!("{scheme} {TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{scheme}");
    }
    for bad in [
        format!("Basic {TOKEN}"),
        format!("Bearer{TOKEN}"),
        TOKEN.into(),
    ] {
        let resp = client()
            .get(format!("{}/v1/models", gw.url))
            .header("authorization", bad.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{bad}");
    }
}

/// A megabyte of model or backend name is echoed as its first few bytes,
/// in the error body and the log line alike.
#[tokio::test]
async fn long_model_and_backend_names_are_echoed_truncated() {
    let (gw, a) = two_models().await;
    let huge = "x".repeat(1 << 20);
    let resp = chat(&gw, chat_body(json!({"model": huge}))).await;
    assert_eq!(resp.status(), 404);
    let body = resp.text().await.unwrap();
    assert!(body.len() < 1024, "{} bytes", body.len());
    assert!(body.contains(&format!("{}…", "x".repeat(100))), "{body}");
    let resp = chat(&gw, chat_body(json!({"backend": huge}))).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().len() < 1024);
    let resp = get(
        &gw,
        &format!("/v1/models/{}", "y".repeat(60_000)),
        Some(TOKEN),
    )
    .await;
    assert_eq!(resp.status(), 404);
    assert!(resp.text().await.unwrap().len() < 1024);
    let resp = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(TOKEN)
        .body(serde_json::to_string(&huge).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "a body that is one long string");
    assert!(resp.text().await.unwrap().len() < 1024);
    assert_eq!(a.received(), 0);
}

#[tokio::test]
async fn models_lists_only_what_the_user_may_use_with_pinnable_backends() {
    let (gw, _a) = two_models().await;
    let list: Value = get(&gw, "/v1/models", Some(TOKEN))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["m", "vip"]);
    let m: Value = get(&gw, "/v1/models/m", Some(TOKEN))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        m,
        json!({"id": "m", "object": "model", "created": 0, "owned_by": "switchyard", "kind": "chat", "backends": ["a"]})
    );
    let vip: Value = get(&gw, "/v1/models/vip", Some(TOKEN))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        vip["backends"],
        json!([]),
        "tagged backend hidden from an untagged user"
    );
    let hidden = get(&gw, "/v1/models/secret", Some(TOKEN)).await;
    assert_eq!(hidden.status(), 404);
    assert_eq!(error_of(hidden).await["code"], "model_not_found");
    assert_eq!(get(&gw, "/v1/models", None).await.status(), 401);
}

#[tokio::test]
async fn bad_bodies_get_openai_errors() {
    let (gw, a) = two_models().await;
    let raw = |body: &'static str| {
        client()
            .post(format!("{}/v1/chat/completions", gw.url))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (body, param) in [
        ("{not json", Value::Null),
        (r#"{"messages": []}"#, json!("model")),
        (r#"{"model": "m"}"#, json!("messages")),
    ] {
        let resp = raw(body).await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        assert_eq!(error_of(resp).await["param"], param);
    }
    assert_eq!(a.received(), 0);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let a = mock("a").await;
    let t = format!(
        "[server]\nmax_body_bytes = 1000\n{}[models.m]\n{}{}",
        provider("a", &a, ""),
        backend("m", "a", ""),
        user()
    );
    let gw = gateway(&t).await;
    let big = "x".repeat(2000);
    let resp = chat(
        &gw,
        chat_body(json!({"messages": [{"role": "user", "content": big}]})),
    )
    .await;
    assert_eq!(resp.status(), 413);
    assert_eq!(error_of(resp).await["code"], "request_too_large");
    let chunked =
        reqwest::Body::wrap_stream(futures_util::stream::iter(vec![Ok::<_, std::io::Error>(
            vec![b' '; 1500],
        )]));
    let resp = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(TOKEN)
        .body(chunked)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        413,
        "a chunked body without content-length is limited too"
    );
    assert_eq!(a.received(), 0);
}

#[tokio::test]
async fn every_response_has_a_request_id_and_upstream_ones_the_route() {
    let (gw, _a) = two_models().await;
    let ok = chat(&gw, chat_body(json!({}))).await;
    assert!(header(&ok, "x-request-id").starts_with("req_"));
    assert_eq!(
        (
            header(&ok, "x-switchyard-backend"),
            header(&ok, "x-switchyard-attempts")
        ),
        ("a", "1")
    );
    for resp in [
        get(&gw, "/health", None).await,
        get(&gw, "/nope", None).await,
        get(&gw, "/v1/models", None).await,
    ] {
        assert!(!header(&resp, "x-request-id").is_empty());
        assert!(resp.headers().get("x-switchyard-backend").is_none());
    }
    let given = client()
        .get(format!("{}/health", gw.url))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&given, "x-request-id"),
        "abc-123",
        "a sane client id is kept"
    );
}

#[tokio::test]
async fn unknown_fields_pass_through_untouched() {
    let (gw, a) = two_models().await;
    let extra =
        json!({"temperature": 0.25, "vendor_x": {"deep": [1, {"k": null}]}, "max_tokens": 3});
    assert_eq!(chat(&gw, chat_body(extra)).await.status(), 200);
    let sent = &a.requests()[0].body;
    assert_eq!(sent["vendor_x"], json!({"deep": [1, {"k": null}]}));
    assert_eq!(sent["temperature"], 0.25);
    assert_eq!(sent["model"], "up-a");
    assert_eq!(
        a.requests()[0].header("authorization"),
        Some("Bearer sk-a-secret")
    );
}

#[tokio::test]
async fn health_and_unknown_routes() {
    let (gw, _a) = two_models().await;
    assert_eq!(get(&gw, "/health", None).await.status(), 200);
    let nf = get(&gw, "/v2/whatever", None).await;
    assert_eq!(nf.status(), 404);
    error_of(nf).await;
    let na = get(&gw, "/v1/chat/completions", Some(TOKEN)).await;
    assert_eq!(na.status(), 405);
    error_of(na).await;
}

/// A body nested deeper than a JSON parser goes is refused at the edge,
/// whatever backend would serve it: it never reaches (or trips) an upstream.
#[tokio::test]
async fn deeply_nested_bodies_are_400_before_any_backend() {
    let a = mock("a").await;
    let claude = mock("claude").await;
    let mut t = provider("a", &a, "");
    t += &provider("claude", &claude, "backend_type = \"anthropic\"");
    t += &format!(
        "[models.m]\n{}[models.c]\n{}{}",
        backend("m", "a", ""),
        backend("c", "claude", ""),
        user()
    );
    let gw = gateway(&t).await;
    let deep = |depth: usize| -> Value {
        let text = format!("{}\"x\"{}", "[".repeat(depth), "]".repeat(depth));
        serde_json::from_str(&text).unwrap_or(Value::Null)
    };
    let raw_deep = format!("{}1{}", "[".repeat(50_000), "]".repeat(50_000));
    for model in ["m", "c"] {
        let body = format!(
            r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}],"tools":{raw_deep}}}"#
        );
        let resp = client()
            .post(format!("{}/v1/chat/completions", gw.url))
            .bearer_auth(TOKEN)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{model}");
        assert_eq!(error_of(resp).await["code"], "json_too_deep");
    }
    assert_eq!((a.received(), claude.received()), (0, 0));
    // Within the limit, a deep vendor field still goes through untouched.
    let resp = chat(&gw, chat_body(json!({"vendor_x": deep(60)}))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(a.requests()[0].body["vendor_x"], deep(60));
}
