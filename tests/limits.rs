//! Per-user rate limits over real HTTP, in memory: exact under concurrency,
//! OpenAI's headers and 429 body, and nothing spent by refused requests.

mod common;

use std::time::Duration;

use common::*;
use futures_util::future::join_all;
use mock_upstream::{Fault, MockServer};
use serde_json::{json, Value};
use switchyard::health::cooldown::go_duration;

/// Model `m` on one mock, model `n` on the same mock, and the test user with `limits`.
fn limited(mock: &MockServer, limits: &str) -> String {
    let mut t = provider("a", mock, "");
    t += "[models.m]\n";
    t += &backend("m", "a", "");
    t += "[models.n]\n";
    t += &backend("n", "a", "id = \"a2\"");
    t += &user();
    t + "allowed_models = [\"m\", \"n\"]\n" + limits
}

/// Sends `n` chat requests at once and returns their responses.
async fn burst(gw: &Gateway, n: usize, body: Value) -> Vec<reqwest::Response> {
    join_all((0..n).map(|_| chat(gw, body.clone()))).await
}

fn statuses(resps: &[reqwest::Response]) -> (usize, usize) {
    let ok = resps.iter().filter(|r| r.status() == 200).count();
    let limited = resps.iter().filter(|r| r.status() == 429).count();
    (ok, limited)
}

#[tokio::test]
async fn request_limit_is_exact_under_concurrency_with_openai_headers_and_body() {
    let mock = mock("a").await;
    let gw = gateway(&limited(
        &mock,
        "[users.tester.rate_limit]\nrequests_per_minute = 5\nrequests_per_day = 100\n",
    ))
    .await;
    let resps = burst(&gw, 12, chat_body(json!({}))).await;
    assert_eq!(statuses(&resps), (5, 7));
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
    assert_eq!(err["type"], "requests");
    assert_eq!(err["code"], "rate_limit_exceeded");
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
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("switchyard_rate_limited_total{user=\"tester\"} 7"),
        "{metrics}"
    );
}

#[tokio::test]
async fn token_limit_is_exact_under_concurrency() {
    // Admitted requests hang upstream, so no correction can free tokens
    // while the others are checked: exactly three reservations fit.
    let mock = mock_with(
        "a",
        Fault {
            stall_after: Some(0),
            ..Fault::default()
        },
    )
    .await;
    let body = chat_body(json!({"max_tokens": 100}));
    let reserve = serde_json::to_vec(&body).unwrap().len() as u64 / 4 + 100;
    let limits = format!(
        "[users.tester.rate_limit]\ntokens_per_minute = {}\n",
        3 * reserve + reserve / 2
    );
    let gw = gateway(&limited(&mock, &limits)).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let tasks: Vec<_> = (0..10)
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
                let _ = tx.send((
                    resp.status().as_u16(),
                    header(&resp, "retry-after").to_string(),
                    error_of(resp).await,
                ));
            })
        })
        .collect();
    let mut refused = Vec::new();
    while refused.len() < 7 {
        let got = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
        refused.push(got.expect("seven requests are refused at once").unwrap());
    }
    assert!(
        eventually(|| mock.received() == 3).await,
        "three reached the upstream"
    );
    for (status, retry, err) in &refused {
        assert_eq!(*status, 429);
        assert!(!retry.is_empty());
        assert_eq!(err["type"], "tokens");
        assert_eq!(err["code"], "rate_limit_exceeded");
    }
    assert_eq!(mock.received(), 3);
    for t in tasks {
        t.abort();
    }
}

#[tokio::test]
async fn max_concurrent_is_exact_and_freed_when_clients_leave() {
    let mock = mock_with(
        "a",
        Fault {
            stall_after: Some(0),
            ..Fault::default()
        },
    )
    .await;
    let gw = gateway(&limited(
        &mock,
        "[users.tester.rate_limit]\nmax_concurrent = 2\n",
    ))
    .await;
    let url = gw.url.clone();
    let hung: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let _ = client()
                    .post(format!("{url}/v1/chat/completions"))
                    .bearer_auth(TOKEN)
                    .json(&chat_body(json!({})))
                    .send()
                    .await;
            })
        })
        .collect();
    assert!(eventually(|| mock.received() == 2).await);
    let resps = burst(&gw, 4, chat_body(json!({}))).await;
    assert_eq!(statuses(&resps), (0, 4));
    let err = error_of(resps.into_iter().next().unwrap()).await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("concurrent requests: limit 2"),
        "{err}"
    );
    assert_eq!(mock.received(), 2);
    for h in hung {
        h.abort();
    }
    mock.set_fault(Fault::default());
    let mut ok = false;
    for _ in 0..200 {
        if chat(&gw, chat_body(json!({}))).await.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ok, "the slots of clients that went away were freed");
}

#[tokio::test]
async fn token_reservations_are_corrected_to_the_reported_usage() {
    let mock = mock("a").await;
    let gw = gateway(&limited(
        &mock,
        "[users.tester.rate_limit]\ntokens_per_day = 100000\n",
    ))
    .await;
    let body = chat_body(json!({"max_tokens": 1000}));
    let reserve = serde_json::to_vec(&body).unwrap().len() as u64 / 4 + 1000;
    let first = chat(&gw, body.clone()).await;
    assert_eq!(header(&first, "x-ratelimit-limit-tokens"), "100000");
    let left: u64 = header(&first, "x-ratelimit-remaining-tokens")
        .parse()
        .unwrap();
    assert_eq!(left, 100_000 - reserve);
    let v: Value = first.json().await.unwrap();
    let used = v["usage"]["total_tokens"].as_u64().unwrap();
    assert!(used < reserve);
    let stream_body = chat_body(json!({"max_tokens": 1000, "stream": true}));
    let reserve2 = serde_json::to_vec(&stream_body).unwrap().len() as u64 / 4 + 1000;
    let second = chat(&gw, stream_body).await;
    let left: u64 = header(&second, "x-ratelimit-remaining-tokens")
        .parse()
        .unwrap();
    // A day's window refills about one token a second.
    let want = 100_000 - used - reserve2;
    assert!((want..want + 3).contains(&left), "{left} vs {want}");
    let _ = second.text().await.unwrap();
    let third = chat(&gw, body).await;
    let left3: u64 = header(&third, "x-ratelimit-remaining-tokens")
        .parse()
        .unwrap();
    // Had the stream kept its reservation, left3 would be about left - reserve.
    assert!(
        left3 > left - reserve + 10,
        "the stream's reservation was corrected to its usage: {left3} vs {left}"
    );
}

#[tokio::test]
async fn refused_and_invalid_requests_spend_nothing_and_pins_count() {
    let mock = mock("a").await;
    let gw = gateway(&limited(&mock, "[users.tester.rate_limit]\nrequests_per_minute = 2\n[users.tester.rate_limit.models.n]\nrequests_per_minute = 1\n")).await;
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

/// Polls `check` every 10 ms for up to 10 s.
async fn eventually(check: impl Fn() -> bool) -> bool {
    for _ in 0..1000 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
