//! `/metrics` after known traffic: counts, a failover, a pinned request,
//! bounded labels, and access control.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use mock_upstream::Fault;
use serde_json::json;

async fn scrape(gw: &Gateway, token: Option<&str>) -> reqwest::Response {
    get(gw, "/metrics", token).await
}

/// The value of the sample whose line starts with `series` (exact labels).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn counts_known_traffic() {
    let bad = mock_with("bad", Fault::status(500)).await;
    let good = mock("good").await;
    let gw = gateway(&config("failover", "", &[("bad", &bad), ("good", &good)])).await;
    for _ in 0..3 {
        assert_eq!(chat(&gw, chat_body(json!({}))).await.status(), 200);
    }
    let pinned = chat(&gw, chat_body(json!({"backend": "good", "stream": true}))).await;
    sse_events(pinned).await;
    assert_eq!(
        chat(&gw, json!({"model": "ghost", "messages": []}))
            .await
            .status(),
        404
    );
    let text = scrape(&gw, None).await.text().await.unwrap();

    let req = |backend: &str, class: &str, pinned: &str, stream: &str| {
        format!("switchyard_requests_total{{model=\"m\",backend=\"{backend}\",endpoint=\"chat_completions\",status_class=\"{class}\",fault=\"none\",pinned=\"{pinned}\",stream=\"{stream}\"}}")
    };
    assert_eq!(value(&text, &req("good", "2xx", "false", "false")), 3.0);
    assert_eq!(value(&text, &req("good", "2xx", "true", "true")), 1.0);
    let unknown = "switchyard_requests_total{model=\"_unknown\",backend=\"_none\",endpoint=\"chat_completions\",status_class=\"4xx\",fault=\"client\",pinned=\"false\",stream=\"false\"}";
    assert_eq!(value(&text, unknown), 1.0);
    assert_eq!(value(&text, "switchyard_failovers_total{model=\"m\"}"), 3.0);
    assert_eq!(
        value(
            &text,
            "switchyard_upstream_attempts_total{backend=\"bad\",outcome=\"status_5xx\"}"
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            "switchyard_upstream_attempts_total{backend=\"good\",outcome=\"ok\"}"
        ),
        4.0
    );
    assert_eq!(
        value(
            &text,
            "switchyard_time_to_first_token_seconds_count{model=\"m\",backend=\"good\"}"
        ),
        1.0
    );
    assert_eq!(value(&text, "switchyard_overhead_seconds_count"), 4.0);
    let completion = value(
        &text,
        "switchyard_tokens_total{model=\"m\",backend=\"good\",kind=\"output\"}",
    );
    assert_eq!(completion, 4.0 * 6.0, "six words per mock reply");
    assert_eq!(
        value(&text, "switchyard_backend_inflight{backend=\"good\"}"),
        0.0
    );
    assert!(
        !text.contains(TOKEN) && !text.contains("secret") && !text.contains("req_"),
        "labels are bounded"
    );
}

#[tokio::test]
async fn the_scrape_itself_is_counted_once() {
    let a = mock("a").await;
    let gw = gateway(&config("failover", "", &[("a", &a)])).await;
    scrape(&gw, None).await.text().await.unwrap();
    let text = scrape(&gw, None).await.text().await.unwrap();
    let none = "switchyard_requests_total{model=\"_none\",backend=\"_none\",endpoint=\"_none\",status_class=\"2xx\",fault=\"none\",pinned=\"false\",stream=\"false\"}";
    assert_eq!(
        value(&text, none),
        1.0,
        "the first scrape is in the second one"
    );
}

#[tokio::test]
async fn admin_access_needs_an_admin_token() {
    let a = mock("a").await;
    let t = config("failover", "", &[("a", &a)])
        + "[users.root]\ntoken = \"root-token\"\nadmin = true\n[metrics]\naccess = \"admin\"\n";
    let gw = gateway(&t).await;
    assert_eq!(scrape(&gw, None).await.status(), 401);
    assert_eq!(scrape(&gw, Some(TOKEN)).await.status(), 403);
    let ok = scrape(&gw, Some("root-token")).await;
    assert_eq!(ok.status(), 200);
    assert!(ok
        .text()
        .await
        .unwrap()
        .contains("switchyard_requests_total"));
}

#[tokio::test]
async fn a_client_that_leaves_before_the_response_is_still_counted() {
    let slow = mock_with(
        "slow",
        Fault {
            delay: std::time::Duration::from_secs(3),
            ..Fault::default()
        },
    )
    .await;
    let gw = gateway(&config("failover", "", &[("slow", &slow)])).await;
    let quick = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    let gone = quick
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(TOKEN)
        .json(&chat_body(json!({})))
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up first");
    let series = "switchyard_requests_total{model=\"m\",backend=\"_none\",endpoint=\"chat_completions\",status_class=\"4xx\",fault=\"client\",pinned=\"false\",stream=\"false\"}";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut text = String::new();
    while std::time::Instant::now() < deadline {
        text = scrape(&gw, None).await.text().await.unwrap();
        if text.contains(series) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        value(&text, series),
        1.0,
        "logged as 499 once the client left"
    );
}
