//! 50 concurrent requests against a budget that fits 10 of them: in
//! memory, and across two instances sharing a real `redis-server`.

use futures_util::future::join_all;
use mock_upstream::{Fault, MockServer};
use serde_json::json;

use super::admin_user;
use crate::common::{chat_body, client, gateway, Gateway, TOKEN};
use crate::common_redis::Redis;

/// Each answer is exactly 5 tokens at $1 each: a request reserves and
/// costs $5, so a $50 budget fits 10. The mock is slow, so all 50 are in
/// flight at once: a check against recorded spend alone would admit them all.
async fn slow_mock() -> MockServer {
    let fault = Fault {
        delay: std::time::Duration::from_millis(300),
        ..Fault::default()
    };
    crate::common::mock_with("a", fault).await
}

fn text(up: &MockServer, state: &str) -> String {
    state.to_string()
        + &admin_user()
        + &crate::common::provider("a", up, "")
        + "[models.m]\n"
        + &crate::common::backend("m", "a", "")
        + "[prices.\"up-a\"]\ninput_per_mtok = 0.0\noutput_per_mtok = 1000000.0\n"
        + &crate::common::user()
        + "[users.tester.budget]\nusd_per_day = 50.0\n"
}

async fn fire(urls: &[&str], n: usize) -> (usize, usize) {
    let sends = (0..n).map(|i| {
        let url = urls[i % urls.len()].to_string();
        async move {
            client()
                .post(format!("{url}/v1/chat/completions"))
                .bearer_auth(TOKEN)
                .json(&chat_body(json!({"max_tokens": 5})))
                .send()
                .await
                .unwrap()
        }
    });
    let resps = join_all(sends).await;
    let mut ok = 0;
    let mut over = 0;
    for r in resps {
        match r.status().as_u16() {
            200 => ok += 1,
            429 => {
                assert_waits_for_midnight(&r);
                let err = crate::common::error_of(r).await;
                assert_eq!(err["code"], "insufficient_quota");
                over += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    (ok, over)
}

/// A refusal by the daily budget says to come back when the UTC day
/// ends: `Retry-After` in whole seconds (rounded up) and `retry-after-ms`,
/// and, more than a minute before it, that the SDKs should not retry.
fn assert_waits_for_midnight(r: &reqwest::Response) {
    let now = switchyard::calendar::unix_ms();
    let midnight = switchyard::calendar::Date::of(now).next_day().start_ms();
    let secs: i64 = crate::common::header(r, "retry-after").parse().unwrap();
    let ms: i64 = crate::common::header(r, "retry-after-ms").parse().unwrap();
    let want = midnight - now;
    // The gateway read its clock before this test did (all 50 answers
    // are read first, the slowest after the mock's 300 ms).
    assert!(
        (0..=10_000).contains(&(ms - want)),
        "retry-after-ms {ms}, midnight in {want} ms"
    );
    assert_eq!(secs, (ms + 999) / 1000, "retry-after {secs}");
    let retry = crate::common::header(r, "x-should-retry");
    assert_eq!(
        retry,
        if ms > 60_000 { "false" } else { "" },
        "SDKs need not retry for hours"
    );
}

/// The ledgers' spend once they hold `n` rows together (each instance
/// writes its own ledger here).
async fn spent(gws: &[&Gateway], n: i64) -> f64 {
    for _ in 0..200 {
        let mut requests = 0;
        let mut cost = 0.0;
        for gw in gws {
            let report = super::usage(gw, "").await;
            requests += report["data"][0]["requests"].as_i64().unwrap();
            cost += report["data"][0]["cost_usd"].as_f64().unwrap();
        }
        if requests == n {
            return cost;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the ledgers never held {n} rows");
}

#[tokio::test]
async fn fifty_concurrent_requests_never_spend_past_the_budget_in_memory() {
    let up = slow_mock().await;
    let gw = gateway(&text(&up, "")).await;
    let (ok, over) = fire(&[&gw.url], 50).await;
    assert_eq!(ok + over, 50);
    assert!(ok <= 10, "admitted {ok}: $5 each may not pass $50");
    assert_eq!(
        ok, 10,
        "reservations equal costs here: exactly the 10 that fit"
    );
    let cost = spent(&[&gw], ok as i64).await;
    assert!(cost <= 50.0 + 1e-9, "spent {cost}");
    assert_eq!(
        up.received(),
        ok as u64,
        "refused requests never reached the upstream"
    );
}

#[tokio::test]
async fn two_instances_share_one_budget_through_redis() {
    let redis = Redis::start();
    let up = slow_mock().await;
    // A generous timeout: under load a slow Redis call would fail open and
    // admit unchecked, which is not what this test is about.
    let state = format!(
        "[state]\nbackend = \"redis\"\nurl = \"{}\"\ntimeout = \"2s\"\n",
        redis.url()
    );
    let (a, b) = (
        gateway(&text(&up, &state)).await,
        gateway(&text(&up, &state)).await,
    );
    let (ok, over) = fire(&[&a.url, &b.url], 50).await;
    assert_eq!(ok + over, 50);
    assert_eq!(ok, 10, "one $50 budget across both instances");
    assert_eq!(up.received(), ok as u64);
    let cost = spent(&[&a, &b], ok as i64).await;
    assert!(cost <= 50.0 + 1e-9, "spent {cost}");
}

async fn status_of(url: &str, path: &str, body: serde_json::Value) -> u16 {
    client()
        .post(format!("{url}{path}"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A failed request spent nothing, and an answer the gateway made itself
/// (count_tokens' estimate) neither: each gives its reservation back, so
/// the $50 budget still fits 10 requests after them.
#[tokio::test]
async fn failures_and_local_answers_give_their_reservation_back() {
    let up = crate::common::mock("a").await;
    let gw = gateway(&text(&up, "")).await;
    let ask = || chat_body(json!({"max_tokens": 5}));
    up.set_fault(Fault::status(500));
    for _ in 0..12 {
        assert_eq!(status_of(&gw.url, "/v1/chat/completions", ask()).await, 502);
    }
    up.set_fault(Fault::default());
    let count = json!({"model": "m", "messages": [{"role": "user", "content": "Hello there"}]});
    for _ in 0..12 {
        assert_eq!(
            status_of(&gw.url, "/v1/messages/count_tokens", count.clone()).await,
            200
        );
    }
    for i in 0..10 {
        assert_eq!(
            status_of(&gw.url, "/v1/chat/completions", ask()).await,
            200,
            "request {i}"
        );
    }
    assert_eq!(
        status_of(&gw.url, "/v1/chat/completions", ask()).await,
        429,
        "the 11th is over"
    );
}
