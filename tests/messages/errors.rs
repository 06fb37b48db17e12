//! Refusals in Anthropic's shape and with its statuses, the model list in
//! Anthropic's shape, and what an upstream's own rejection looks like.

use mock_upstream::Fault;
use serde_json::{json, Value};

use super::client::{self, messages, VERSION};
use super::common_providers::{backend, gateway, mock, provider, TOKEN};
use super::one;

/// Status and `error.type` of an Anthropic error response.
async fn refusal(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error", "not Anthropic's error shape: {v}");
    let kind = v["error"]["type"].as_str().unwrap().to_string();
    (
        status,
        kind,
        v["error"]["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn refusals_are_anthropic_errors_with_their_status() {
    let up = mock("openai", Fault::default()).await;
    let config = format!(
        "{}{}[models.other]\n[[models.other.backends]]\nprovider = \"p\"\nmodel = \"x\"\n\
         [users.u]\ntoken = \"{TOKEN}\"\nallowed_models = [\"m\"]\n\
         [users.u.rate_limit.models.m]\nrequests_per_minute = 2\n",
        provider("p", "openai", &up, ""),
        backend("p", "gpt-up", "")
    );
    let url = gateway(&config).await;
    let anon = reqwest::Client::new()
        .post(format!("{url}/v1/messages"))
        .header("anthropic-version", VERSION)
        .json(&client::ask("hi", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(anon).await.0, 401);
    let wrong = reqwest::Client::new()
        .post(format!("{url}/v1/messages"))
        .header("x-api-key", "nope")
        .json(&client::ask("hi", json!({})))
        .send()
        .await
        .unwrap();
    let (status, kind, _) = refusal(wrong).await;
    assert_eq!((status, kind.as_str()), (401, "authentication_error"));
    let bearer = reqwest::Client::new()
        .post(format!("{url}/v1/messages"))
        .bearer_auth(TOKEN)
        .json(&client::ask("hi", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200, "a Bearer token works too");

    let cases = [
        // A model the user may not use is not disclosed: 404, as for an unknown one.
        (json!({"model": "other"}), 404, "not_found_error"),
        (json!({"model": "nope"}), 404, "not_found_error"),
        (json!({"backend": "nope"}), 400, "invalid_request_error"),
        (json!({"max_tokens": null}), 400, "invalid_request_error"),
    ];
    for (extra, status, kind) in cases {
        let got = refusal(messages(&url, &client::ask("hi", extra.clone())).await).await;
        assert_eq!(
            (got.0, got.1.as_str()),
            (status, kind),
            "{extra}: {}",
            got.2
        );
    }
    // Two requests a minute: the Bearer one and this one.
    let resp = messages(&url, &client::ask("hi", json!({}))).await;
    assert_eq!(resp.status(), 200);
    let resp = messages(&url, &client::ask("hi", json!({}))).await;
    assert!(resp.headers().contains_key("retry-after"));
    let (status, kind, _) = refusal(resp).await;
    assert_eq!((status, kind.as_str()), (429, "rate_limit_error"));
}

#[tokio::test]
async fn an_anthropic_rejection_passes_through_and_others_are_rewritten() {
    let body = r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long"},"request_id":"req_1"}"#;
    let fault = Fault {
        status: Some(400),
        body: Some(body.into()),
        ..Fault::default()
    };
    let (_mock, url) = one("anthropic", fault).await;
    let resp = messages(&url, &client::ask("hi", json!({}))).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.text().await.unwrap(), body);

    let (_mock, url) = one("openai", Fault::status(400)).await;
    let (status, kind, message) =
        refusal(messages(&url, &client::ask("hi", json!({}))).await).await;
    assert_eq!(
        (status, kind.as_str(), message.as_str()),
        (400, "invalid_request_error", "mock fault: HTTP 400")
    );
}

#[tokio::test]
async fn models_are_listed_in_anthropic_shape_for_anthropic_clients() {
    let (_mock, url) = one("openai", Fault::default()).await;
    let get = |path: &str, anthropic: bool| {
        let mut rb = reqwest::Client::new()
            .get(format!("{url}{path}"))
            .header("x-api-key", TOKEN);
        if anthropic {
            rb = rb.header("anthropic-version", VERSION);
        }
        rb.send()
    };
    let list: Value = get("/v1/models", true).await.unwrap().json().await.unwrap();
    assert_eq!(
        list,
        json!({"data": [{"type": "model", "id": "m", "display_name": "m", "created_at": "1970-01-01T00:00:00Z"}],
               "has_more": false, "first_id": "m", "last_id": "m"})
    );
    let one: Value = get("/v1/models/m", true)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["type"], "model");
    let missing = get("/v1/models/nope", true).await.unwrap();
    assert_eq!(refusal(missing).await.1, "not_found_error");
    let openai: Value = get("/v1/models", false)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openai["object"], "list");
}

#[tokio::test]
async fn requests_are_counted_under_their_endpoint() {
    let (_mock, url) = one("anthropic", Fault::default()).await;
    assert_eq!(
        messages(&url, &client::ask("hi", json!({}))).await.status(),
        200
    );
    let body = client::ask("hi", json!({})).to_string();
    client::send(&url, "/v1/messages/count_tokens", body.as_bytes(), &[]).await;
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = |endpoint: &str| {
        metrics.lines().any(|l| {
            l.starts_with("switchyard_requests_total{")
                && l.contains(&format!("endpoint=\"{endpoint}\""))
                && l.ends_with(" 1")
        })
    };
    assert!(line("messages") && line("count_tokens"), "{metrics}");
}
