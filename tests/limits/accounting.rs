//! What counts, what the headers say, and token corrections.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::common::*;
use super::{limited, Store};

fn reserve_of(body: &Value, max_tokens: u64) -> u64 {
    serde_json::to_vec(body).unwrap().len() as u64 / 4 + max_tokens
}

fn remaining_tokens(r: &reqwest::Response) -> u64 {
    header(r, "x-ratelimit-remaining-tokens").parse().unwrap()
}

/// The tokens left, read from a request refused before the check (404),
/// which spends nothing; polled until `ok` (Redis corrects in the background).
async fn left_when(gw: &Gateway, ok: impl Fn(u64) -> bool) -> u64 {
    let start = Instant::now();
    loop {
        let r = chat(gw, chat_body(json!({"model": "nope"}))).await;
        assert_eq!(r.status(), 404);
        let left = remaining_tokens(&r);
        if ok(left) {
            return left;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "still {left}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn corrections(store: Store) {
    let mock = mock("a").await;
    let gw = gateway(&limited(
        &store,
        &mock,
        "[users.tester.rate_limit]\ntokens_per_day = 100000\n",
    ))
    .await;
    let body = chat_body(json!({"max_tokens": 1000}));
    let reserve = reserve_of(&body, 1000);
    let first = chat(&gw, body.clone()).await;
    assert_eq!(header(&first, "x-ratelimit-limit-tokens"), "100000");
    assert_eq!(remaining_tokens(&first), 100_000 - reserve);
    let v: Value = first.json().await.unwrap();
    let used = v["usage"]["total_tokens"].as_u64().unwrap();
    assert!(used < reserve);
    // A day's window refills about a token a second: a small tolerance.
    let want = 100_000 - used;
    left_when(&gw, |left| (want..want + 3).contains(&left)).await;
    let stream_body = chat_body(json!({"max_tokens": 1000, "stream": true}));
    let second = chat(&gw, stream_body).await;
    let during = remaining_tokens(&second);
    assert!(during < want - 1000, "the stream reserved its estimate");
    let _ = second.text().await.unwrap();
    // Had the stream kept its reservation, nothing would come back.
    left_when(&gw, |left| left > during + 100).await;
}

#[tokio::test]
async fn token_reservations_are_corrected_to_the_reported_usage_in_memory() {
    corrections(Store::Memory).await;
}

#[tokio::test]
async fn token_reservations_are_corrected_to_the_reported_usage_in_redis() {
    corrections(Store::redis()).await;
}

#[tokio::test]
async fn token_reservations_are_corrected_to_the_reported_usage_synced() {
    corrections(Store::synced()).await;
}

#[tokio::test]
async fn refused_and_invalid_requests_spend_nothing_and_pins_count() {
    let mock = mock("a").await;
    let limits = "[users.tester.rate_limit]\nrequests_per_minute = 2\n[users.tester.rate_limit.models.n]\nrequests_per_minute = 1\n";
    let gw = gateway(&limited(&Store::Memory, &mock, limits)).await;
    let invalid = [
        (chat_body(json!({"model": "nope"})), 404),
        (chat_body(json!({"backend": "zzz"})), 400),
        (json!({"model": "m"}), 400),
    ];
    for (body, status) in invalid {
        let r = chat(&gw, body).await;
        assert_eq!(r.status(), status);
        assert_eq!(
            header(&r, "x-ratelimit-remaining-requests"),
            "2",
            "headers on every response"
        );
    }
    let pinned = chat(&gw, chat_body(json!({"backend": "a"}))).await;
    assert_eq!(pinned.status(), 200);
    assert_eq!(
        header(&pinned, "x-ratelimit-remaining-requests"),
        "1",
        "a pinned request counts"
    );
    let n1 = chat(&gw, chat_body(json!({"model": "n"}))).await;
    assert_eq!(
        (
            n1.status().as_u16(),
            header(&n1, "x-ratelimit-remaining-requests")
        ),
        (200, "0")
    );
    let n2 = chat(&gw, chat_body(json!({"model": "n"}))).await;
    assert_eq!(n2.status(), 429);
    let err = error_of(n2).await;
    assert!(
        err["message"].as_str().unwrap().contains("model `n`"),
        "{err}"
    );
    let m = chat(&gw, chat_body(json!({}))).await;
    assert_eq!(m.status(), 429, "the user-wide window is spent");
    assert_eq!(mock.received(), 2);
}

#[tokio::test]
async fn users_without_limits_get_no_headers() {
    let mock = mock("a").await;
    let gw = gateway(&config("failover", "", &[("a", &mock)])).await;
    let r = chat(&gw, chat_body(json!({}))).await;
    assert_eq!(r.status(), 200);
    assert!(r
        .headers()
        .keys()
        .all(|k| !k.as_str().starts_with("x-ratelimit")));
}

#[tokio::test]
async fn tokens_can_be_configured_by_digest() {
    let mock = mock("a").await;
    let digest = switchyard::config::hex(&switchyard::config::token_digest(TOKEN));
    let text = provider("a", &mock, "")
        + "[models.m]\n"
        + &backend("m", "a", "")
        + &format!("[users.tester]\ntoken_sha256 = \"{digest}\"\n");
    let gw = gateway(&text).await;
    assert_eq!(chat(&gw, chat_body(json!({}))).await.status(), 200);
}
