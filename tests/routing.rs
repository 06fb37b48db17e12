//! Every strategy over real HTTP: which backend the gateway reports serving
//! each request. Exact distributions are unit-tested in `routing::tests`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::*;
use serde_json::json;

/// Backend ids serving `n` sequential requests to model `m`.
async fn served(toml: &str, n: usize) -> Vec<String> {
    let gw = gateway(toml).await;
    let mut out = Vec::new();
    for _ in 0..n {
        let resp = chat(&gw, chat_body(json!({}))).await;
        assert_eq!(resp.status(), 200);
        out.push(header(&resp, "x-switchyard-backend").to_string());
    }
    out
}

fn counts(ids: &[String]) -> HashMap<&str, usize> {
    let mut m = HashMap::new();
    for id in ids {
        *m.entry(id.as_str()).or_default() += 1;
    }
    m
}

async fn three(strategy: &str, extras: [&str; 3]) -> (String, Vec<mock_upstream::MockServer>) {
    let mocks = vec![mock("a").await, mock("b").await, mock("c").await];
    let mut t = String::new();
    for (n, m) in ["a", "b", "c"].iter().zip(&mocks) {
        t += &provider(n, m, "");
    }
    t += &format!("[models.m]\nstrategy = \"{strategy}\"\n");
    for (n, extra) in ["a", "b", "c"].iter().zip(extras) {
        t += &backend("m", n, extra);
    }
    (t + &user(), mocks)
}

#[tokio::test]
async fn round_robin_cycles_smoothly_by_weight() {
    let (t, _m) = three("round_robin", ["weight = 2", "", ""]).await;
    // nginx smooth weighted round robin for weights 2,1,1: period a,b,c,a.
    assert_eq!(
        served(&t, 8).await,
        ["a", "b", "c", "a", "a", "b", "c", "a"]
    );
}

#[tokio::test]
async fn failover_uses_priority_order() {
    let (t, _m) = three("failover", ["priority = 3", "priority = 1", "priority = 2"]).await;
    assert!(served(&t, 5).await.iter().all(|b| b == "b"));
}

#[tokio::test]
async fn weighted_strategies_spread_by_weight() {
    for strategy in ["weighted_random", "weighted_failover"] {
        let (t, _m) = three(strategy, ["weight = 8", "weight = 1", "weight = 1"]).await;
        let ids = served(&t, 200).await;
        let c = counts(&ids);
        assert!(c["a"] > 130 && c["a"] < 190, "{strategy}: {c:?}");
    }
}

#[tokio::test]
async fn random_and_least_strategies_use_every_backend() {
    for strategy in ["random", "least_busy", "least_latency"] {
        let (t, _m) = three(strategy, ["weight = 50", "", ""]).await;
        let ids = served(&t, 120).await;
        let c = counts(&ids);
        assert_eq!(c.len(), 3, "{strategy}: {c:?}");
        if strategy == "random" {
            assert!(c.values().all(|&n| n > 20), "random ignores weights: {c:?}");
        }
    }
}

#[tokio::test]
async fn tagged_backends_serve_only_users_sharing_a_tag() {
    let (t, mocks) = three(
        "round_robin",
        ["tags = [\"vip\"]", "", "tags = [\"vip\", \"beta\"]"],
    )
    .await;
    let t = t + "[users.vip]\ntoken = \"vip-token\"\ntags = [\"vip\"]\n";
    let gw = gateway(&t).await;
    for _ in 0..4 {
        assert_eq!(
            header(
                &chat(&gw, chat_body(json!({}))).await,
                "x-switchyard-backend"
            ),
            "b"
        );
    }
    assert_eq!((mocks[0].received(), mocks[2].received()), (0, 0));
    let vip = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth("vip-token")
        .json(&chat_body(json!({})));
    let resp = vip.send().await.unwrap();
    assert_eq!(resp.status(), 200);
}
