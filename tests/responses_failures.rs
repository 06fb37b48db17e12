//! `POST /v1/responses` when things go wrong, over real HTTP: failover
//! before the first event, `response.failed` after it, errors in OpenAI's
//! shape, and the request counted under `endpoint="responses"`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_providers;
mod common_responses;

use common_responses::*;
use mock_upstream::Fault;
use serde_json::{json, Value};

#[tokio::test]
async fn fails_over_before_the_first_event() {
    let bad = mock("bad", Fault::status(503)).await;
    let good = mock("good", Fault::default()).await;
    let config = format!(
        "[models.m]\nstrategy = \"failover\"\n{}{}{}{}{}",
        provider("bad", "openai", &bad, "responses = true"),
        provider("good", "anthropic", &good, ""),
        backend("bad", "up", "priority = 1"),
        backend("good", "claude", "priority = 2"),
        user()
    );
    let url = gateway(&config).await;
    let resp = post_to(
        &url,
        "/v1/responses",
        &json!({"model": "m", "input": "Hi", "stream": true}),
    )
    .await;
    assert_eq!(
        (
            resp.headers()["x-switchyard-backend"].to_str().unwrap(),
            resp.headers()["x-switchyard-attempts"].to_str().unwrap()
        ),
        ("good", "2")
    );
    let folded = well_formed(&events(&resp.text().await.unwrap())).unwrap();
    assert!(folded.text.starts_with("Hello from good."));
    assert_eq!(bad.requests().len(), 1);
}

#[tokio::test]
async fn a_stream_broken_after_commit_ends_failed() {
    for kind in ["responses", "openai", "anthropic"] {
        // The delay makes the mock flush each event before it resets the
        // connection; without it the reset could overtake the buffered ones.
        let fault = Fault {
            close_after: Some(2),
            chunk_delay: std::time::Duration::from_millis(50),
            ..Fault::default()
        };
        let mock = mock(kind, fault).await;
        let url = gateway(&single(kind, &mock)).await;
        let resp = post_to(
            &url,
            "/v1/responses",
            &json!({"model": "m", "input": "Count to ten please", "stream": true}),
        )
        .await;
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert_eq!(status, 200, "{kind}: {text}");
        let events = events(&text);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.last(), Some(&"response.failed"), "{kind}: {names:?}");
        assert!(!names.contains(&"response.completed"), "{kind}");
        assert!(
            names.contains(&"response.output_text.delta"),
            "{kind}: committed first"
        );
        let (_, failed) = events.last().unwrap();
        assert_eq!(failed["response"]["status"], "failed");
        let seq = failed["sequence_number"].as_u64().unwrap();
        assert_eq!(
            seq,
            events[events.len() - 2].1["sequence_number"]
                .as_u64()
                .unwrap()
                + 1,
            "{kind}"
        );
    }
}

#[tokio::test]
async fn errors_are_openai_shaped_and_counted_under_responses() {
    let mock = mock("chat", Fault::default()).await;
    let config = format!("{}[models.e]\nkind = \"embeddings\"\n[[models.e.backends]]\nprovider = \"p\"\nmodel = \"emb\"\n", single("openai", &mock));
    let url = gateway(&config).await;
    let resp = post_to(&url, "/v1/responses", &json!({"model": "e", "input": "x"})).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["error"]["code"].as_str(), v["error"]["param"].as_str()),
        (Some("model_kind_mismatch"), Some("model"))
    );
    let resp = post_to(
        &url,
        "/v1/responses",
        &json!({"model": "m", "input": "x", "backend": "nope"}),
    )
    .await;
    assert_eq!(
        (resp.status().as_u16(), error_param(resp).await.as_str()),
        (400, "backend")
    );
    let (status, _) = create(&url, &json!({"model": "m", "input": "x"})).await;
    assert_eq!(status, 200);
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ok = "switchyard_requests_total{model=\"m\",backend=\"p\",endpoint=\"responses\",status_class=\"2xx\",fault=\"none\",pinned=\"false\",stream=\"false\",outcome=\"completed\"} 1";
    assert!(metrics.contains(ok), "{metrics}");
}
