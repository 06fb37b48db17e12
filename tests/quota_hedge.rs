//! Quota-aware routing (an upstream's rate-limit headers steer traffic
//! before any 429) and hedged requests (a slow first backend is raced by a
//! second), over real HTTP against real mock upstreams.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod common_health;

use std::time::{Duration, Instant};

use common::*;
use common_health::{eventually, skip};
use mock_upstream::{Fault, MockServer};
use serde_json::json;

fn model(strategy: &str, extra: &str, mocks: &[(&str, &MockServer)]) -> String {
    config(strategy, "", mocks).replace("[models.m]\n", &format!("[models.m]\n{extra}\n"))
}

async fn served(gw: &Gateway, body: serde_json::Value) -> String {
    let resp = chat(gw, chat_body(body)).await;
    assert_eq!(resp.status(), 200);
    header(&resp, "x-switchyard-backend").to_string()
}

#[tokio::test]
async fn a_backend_reporting_no_requests_left_gets_none_until_its_reset() {
    let (a, b) = (mock("a").await, mock("b").await);
    a.set_reply_headers(&[
        ("x-ratelimit-limit-requests", "100"),
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-requests", "30s"),
    ]);
    let gw = gateway(&model("failover", "", &[("a", &a), ("b", &b)])).await;
    assert_eq!(served(&gw, json!({})).await, "a", "its answer said 0 left");
    for _ in 0..10 {
        assert_eq!(served(&gw, json!({})).await, "b");
    }
    assert_eq!(
        a.received(),
        1,
        "no request went to a after it said it had none"
    );
    let snap = gw.state.snapshot();
    let entries = snap.entries();
    let a_entry = entries.iter().find(|e| e.backend == "a").unwrap();
    assert_eq!(a_entry.health.cooldown_reason, Some("quota"));
    assert_eq!(a_entry.health.quota_share, 0.0);
    drop(entries);
    a.set_reply_headers(&[]);
    skip(Duration::from_secs(31)).await;
    assert_eq!(served(&gw, json!({})).await, "a", "back after its reset");
}

#[tokio::test]
async fn a_backend_short_of_tokens_is_skipped_for_a_big_request() {
    let (a, b) = (mock("a").await, mock("b").await);
    a.set_reply_headers(&[
        ("x-ratelimit-remaining-tokens", "300"),
        ("x-ratelimit-reset-tokens", "20s"),
    ]);
    let gw = gateway(&model("failover", "", &[("a", &a), ("b", &b)])).await;
    assert_eq!(served(&gw, json!({"max_tokens": 10})).await, "a");
    assert_eq!(
        served(&gw, json!({"max_tokens": 10})).await,
        "a",
        "small fits"
    );
    assert_eq!(
        served(&gw, json!({"max_tokens": 5000})).await,
        "b",
        "big does not"
    );
}

#[tokio::test]
async fn weight_follows_the_quota_left() {
    let (a, b) = (mock("a").await, mock("b").await);
    a.set_reply_headers(&[
        ("x-ratelimit-limit-requests", "1000"),
        ("x-ratelimit-remaining-requests", "20"),
        ("x-ratelimit-reset-requests", "1m"),
    ]);
    let gw = gateway(&model("weighted_random", "", &[("a", &a), ("b", &b)])).await;
    // Until a answers once its share is unknown, and it gets half.
    while served(&gw, json!({})).await != "a" {}
    let mut to_a = 0;
    for _ in 0..300 {
        to_a += usize::from(served(&gw, json!({})).await == "a");
    }
    // 2% of the quota left: about 2% of the traffic (6 of 300), not 150.
    assert!(
        to_a < 30,
        "{to_a} of 300 went to the nearly exhausted backend"
    );
}

#[tokio::test]
async fn a_slow_first_backend_is_hedged_and_the_fast_answer_wins() {
    let slow = mock_with(
        "slow",
        Fault {
            delay: Duration::from_secs(5),
            ..Fault::default()
        },
    )
    .await;
    let fast = mock("fast").await;
    let text = model(
        "failover",
        "hedge_after = \"200ms\"",
        &[("slow", &slow), ("fast", &fast)],
    );
    let gw = gateway(&text).await;
    let started = Instant::now();
    let resp = chat(&gw, chat_body(json!({}))).await;
    let took = started.elapsed();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-switchyard-backend"), "fast");
    assert!(
        took >= Duration::from_millis(200),
        "{took:?}: the hedge waited"
    );
    assert!(
        took < Duration::from_secs(2),
        "{took:?}: not the slow answer"
    );
    let won = metric(&gw, "switchyard_hedges_total{model=\"m\",result=\"won\"}").await;
    assert_eq!(won, 1.0);
    // The request's record (its log line and these counters) has both attempts.
    let cancelled =
        "switchyard_upstream_attempts_total{backend=\"slow\",outcome=\"hedge_cancelled\"}";
    assert_eq!(metric(&gw, cancelled).await, 1.0);
    let ok = "switchyard_upstream_attempts_total{backend=\"fast\",outcome=\"ok\"}";
    assert_eq!(metric(&gw, ok).await, 1.0);
}

#[tokio::test]
async fn a_hedged_stream_closes_the_slow_upstream() {
    let slow = mock_with(
        "slow",
        Fault {
            first_token_delay: Duration::from_secs(5),
            ..Fault::default()
        },
    )
    .await;
    let fast = mock("fast").await;
    let text = model(
        "failover",
        "hedge_after = \"200ms\"",
        &[("slow", &slow), ("fast", &fast)],
    );
    let gw = gateway(&text).await;
    let resp = chat(&gw, chat_body(json!({"stream": true}))).await;
    assert_eq!(header(&resp, "x-switchyard-backend"), "fast");
    let events = sse_events(resp).await;
    assert!(!stream_text(&events).is_empty());
    assert!(
        eventually(Duration::from_secs(3), || async {
            slow.streams_cancelled() == 1
        })
        .await,
        "the slow upstream stream was closed"
    );
}

#[tokio::test]
async fn a_fast_first_backend_and_a_pinned_request_are_never_hedged() {
    let slow = mock_with(
        "slow",
        Fault {
            delay: Duration::from_millis(600),
            ..Fault::default()
        },
    )
    .await;
    let fast = mock("fast").await;
    let text = model(
        "failover",
        "hedge_after = \"200ms\"",
        &[("fast", &fast), ("slow", &slow)],
    );
    let gw = gateway(&text).await;
    assert_eq!(served(&gw, json!({})).await, "fast");
    assert_eq!(
        served(&gw, json!({"backend": "slow"})).await,
        "slow",
        "pinned: waited"
    );
    assert_eq!(slow.received() + fast.received(), 2, "no hedge was sent");
    let lost = metric(&gw, "switchyard_hedges_total{model=\"m\",result=\"lost\"}").await;
    let won = metric(&gw, "switchyard_hedges_total{model=\"m\",result=\"won\"}").await;
    assert_eq!((lost, won), (0.0, 0.0));
}
