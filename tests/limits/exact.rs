//! Exactly the limit is admitted when many requests arrive at once.

use std::time::Duration;

use futures_util::future::join_all;
use mock_upstream::{Fault, MockServer};
use serde_json::{json, Value};
use switchyard::health::cooldown::go_duration;

use super::common::*;
use super::{eventually, limited, Store};

fn hang() -> Fault {
    Fault {
        stall_after: Some(0),
        ..Fault::default()
    }
}

/// Sends `n` chat requests at once and returns their responses.
async fn burst(gw: &Gateway, n: usize, body: Value) -> Vec<reqwest::Response> {
    join_all((0..n).map(|_| chat(gw, body.clone()))).await
}

fn count(resps: &[reqwest::Response]) -> (usize, usize) {
    let ok = resps.iter().filter(|r| r.status() == 200).count();
    let limited = resps.iter().filter(|r| r.status() == 429).count();
    (ok, limited)
}

async fn requests(store: Store) {
    let mock = mock("a").await;
    let limits = "[users.tester.rate_limit]\nrequests_per_minute = 5\nrequests_per_day = 100\n";
    let gw = gateway(&limited(&store, &mock, limits)).await;
    let resps = burst(&gw, 12, chat_body(json!({}))).await;
    assert_eq!(count(&resps), (5, 7));
    for r in &resps {
        assert_eq!(
            header(r, "x-ratelimit-limit-requests"),
            "5",
            "the tighter window"
        );
        let reset = go_duration(header(r, "x-ratelimit-reset-requests")).unwrap();
        assert!(
            reset <= Duration::from_secs(60) && !reset.is_zero(),
            "{reset:?}"
        );
        assert!(
            header(r, "x-ratelimit-limit-tokens").is_empty(),
            "no token limit set"
        );
    }
    let mut remaining: Vec<u64> = resps
        .iter()
        .filter(|r| r.status() == 200)
        .map(|r| header(r, "x-ratelimit-remaining-requests").parse().unwrap())
        .collect();
    remaining.sort();
    assert_eq!(remaining, vec![0, 1, 2, 3, 4]);
    let refused = resps.into_iter().find(|r| r.status() == 429).unwrap();
    assert_eq!(header(&refused, "x-ratelimit-remaining-requests"), "0");
    let retry: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!(
        (1..=12).contains(&retry),
        "one request frees up every 12s: {retry}"
    );
    let err = error_of(refused).await;
    assert_eq!(
        (err["type"].as_str(), err["code"].as_str()),
        (Some("requests"), Some("rate_limit_exceeded"))
    );
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.contains("requests per minute") && msg.contains("tester"),
        "{msg}"
    );
    assert_eq!(mock.received(), 5);
    let metrics = client()
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains("switchyard_rate_limited_total{user=\"tester\"} 7"),
        "{metrics}"
    );
}

#[tokio::test]
async fn request_limit_is_exact_under_concurrency_in_memory() {
    requests(Store::Memory).await;
}

#[tokio::test]
async fn request_limit_is_exact_under_concurrency_in_redis() {
    requests(Store::redis()).await;
}

#[tokio::test]
async fn request_limit_is_exact_under_concurrency_synced() {
    requests(Store::synced()).await;
}

/// Fires `n` requests; returns the refused ones (status, Retry-After, error)
/// as they come back, and the tasks of those still waiting.
async fn fire(
    gw: &Gateway,
    n: usize,
    body: Value,
    refusals: usize,
) -> (Vec<(u16, String, Value)>, Vec<tokio::task::JoinHandle<()>>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let tasks = (0..n)
        .map(|_| {
            let (url, body, tx) = (gw.url.clone(), body.clone(), tx.clone());
            tokio::spawn(async move {
                let resp = client()
                    .post(format!("{url}/v1/chat/completions"))
                    .bearer_auth(TOKEN)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let retry = header(&resp, "retry-after").to_string();
                let _ = tx.send((resp.status().as_u16(), retry, error_of(resp).await));
            })
        })
        .collect();
    let mut refused = Vec::new();
    while refused.len() < refusals {
        let got = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
        refused.push(got.expect("the refused requests answer at once").unwrap());
    }
    (refused, tasks)
}

async fn tokens(store: Store) {
    // Admitted requests hang upstream, so no correction can free tokens
    // while the others are checked: exactly three reservations fit.
    let mock = mock_with("a", hang()).await;
    let body = chat_body(json!({"max_tokens": 100}));
    let reserve = serde_json::to_vec(&body).unwrap().len() as u64 / 4 + 100;
    let limits = format!(
        "[users.tester.rate_limit]\ntokens_per_minute = {}\n",
        3 * reserve + reserve / 2
    );
    let gw = gateway(&limited(&store, &mock, &limits)).await;
    let (refused, tasks) = fire(&gw, 10, body, 7).await;
    assert!(
        eventually(|| mock.received() == 3).await,
        "three reached the upstream"
    );
    for (status, retry, err) in &refused {
        assert_eq!((*status, err["type"].as_str()), (429, Some("tokens")));
        assert_eq!(err["code"], "rate_limit_exceeded");
        assert!(!retry.is_empty());
    }
    assert_eq!(mock.received(), 3);
    tasks.iter().for_each(|t| t.abort());
}

#[tokio::test]
async fn token_limit_is_exact_under_concurrency_in_memory() {
    tokens(Store::Memory).await;
}

#[tokio::test]
async fn token_limit_is_exact_under_concurrency_in_redis() {
    tokens(Store::redis()).await;
}

#[tokio::test]
async fn token_limit_is_exact_under_concurrency_synced() {
    tokens(Store::synced()).await;
}

async fn concurrency(store: Store) {
    let mock: MockServer = mock_with("a", hang()).await;
    let gw = gateway(&limited(
        &store,
        &mock,
        "[users.tester.rate_limit]\nmax_concurrent = 2\n",
    ))
    .await;
    let (refused, tasks) = fire(&gw, 6, chat_body(json!({})), 4).await;
    assert!(eventually(|| mock.received() == 2).await);
    for (status, _, err) in &refused {
        assert_eq!(*status, 429);
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("concurrent requests: limit 2"),
            "{err}"
        );
    }
    assert_eq!(mock.received(), 2);
    tasks.iter().for_each(|t| t.abort());
    mock.set_fault(Fault::default());
    let mut ok = false;
    for _ in 0..500 {
        if chat(&gw, chat_body(json!({}))).await.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ok, "the slots of clients that went away were freed");
}

#[tokio::test]
async fn max_concurrent_is_exact_and_freed_when_clients_leave_in_memory() {
    concurrency(Store::Memory).await;
}

#[tokio::test]
async fn max_concurrent_is_exact_and_freed_when_clients_leave_in_redis() {
    concurrency(Store::redis()).await;
}

#[tokio::test]
async fn max_concurrent_is_exact_and_freed_when_clients_leave_synced() {
    concurrency(Store::synced()).await;
}
