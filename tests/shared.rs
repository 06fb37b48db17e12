//! Several gateway processes sharing state through a real `redis-server`:
//! one combined rate limit, shared cooldowns, and what happens when Redis
//! goes away (`state.on_error`). Needs `redis-server` on PATH (CI installs it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod common_redis;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use common::{backend, error_of, header, mock, mock_with, provider, TOKEN};
use common_redis::{Instance, Redis};
use futures_util::future::join_all;
use mock_upstream::Fault;
use serde_json::{json, Value};

fn body() -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn post(url: &str) -> reqwest::Response {
    http()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&body())
        .send()
        .await
        .unwrap()
}

fn state(redis: &Redis, extra: &str) -> String {
    format!(
        "[state]\nbackend = \"redis\"\nurl = \"{}\"\nsync_interval = \"50ms\"\n{extra}\n",
        redis.url()
    )
}

const ADMIN: &str = "admin-token";

fn users(limits: &str) -> String {
    format!("[users.tester]\ntoken = \"{TOKEN}\"\n{limits}\n[users.admin]\ntoken = \"{ADMIN}\"\nadmin = true\n")
}

#[tokio::test]
async fn two_instances_enforce_one_combined_limit() {
    let redis = Redis::start();
    let up = mock("a").await;
    let text = state(&redis, "")
        + &provider("a", &up, "")
        + "[models.m]\n"
        + &backend("m", "a", "")
        + &users("[users.tester.rate_limit]\nrequests_per_minute = 6\n");
    let (a, b) = (Instance::start(&text), Instance::start(&text));
    let sends = (0..8).flat_map(|_| [post(&a.url), post(&b.url)]);
    let resps = join_all(sends).await;
    let ok = resps.iter().filter(|r| r.status() == 200).count();
    let limited = resps.iter().filter(|r| r.status() == 429).count();
    assert_eq!(
        (ok, limited),
        (6, 10),
        "one limit of 6 across both instances"
    );
    assert_eq!(up.received(), 6);
    for r in &resps {
        assert_eq!(header(r, "x-ratelimit-limit-requests"), "6");
    }
    let refused = resps.into_iter().find(|r| r.status() == 429).unwrap();
    assert!(!header(&refused, "retry-after").is_empty());
    assert_eq!(error_of(refused).await["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn synced_instances_learn_each_others_requests_beside_them() {
    let redis = Redis::start();
    let up = mock("a").await;
    let text = state(&redis, "limits = \"synced\"\nlimits_interval = \"20ms\"")
        + &provider("a", &up, "")
        + "[models.m]\n"
        + &backend("m", "a", "")
        + &users("[users.tester.rate_limit]\nrequests_per_minute = 5\n");
    let (a, b) = (Instance::start(&text), Instance::start(&text));
    for _ in 0..5 {
        assert_eq!(post(&a.url).await.status(), 200);
    }
    assert_eq!(
        post(&a.url).await.status(),
        429,
        "A's own 5 fill its window"
    );
    let on_b = std::sync::atomic::AtomicU64::new(0);
    let refused = poll(Duration::from_secs(10), || async {
        let r = post(&b.url).await;
        on_b.fetch_add(u64::from(r.status() == 200), Relaxed);
        r.status() == 429
    })
    .await;
    let on_b = on_b.into_inner();
    assert!(refused, "B learned of A's requests from Redis");
    assert!(
        on_b >= 1,
        "B's first request is decided before B has synced"
    );
    assert_eq!(up.received(), 5 + on_b);
}

#[tokio::test]
async fn a_cooldown_found_by_one_instance_is_avoided_by_the_other() {
    let redis = Redis::start();
    let limited = mock_with(
        "x",
        Fault {
            status: Some(429),
            retry_after: Some("30".into()),
            ..Fault::default()
        },
    )
    .await;
    let fine = mock("y").await;
    let text = state(&redis, "")
        + "[health.probe]\nkind = \"none\"\n"
        + &provider("x", &limited, "")
        + &provider("y", &fine, "")
        + "[models.m]\nstrategy = \"failover\"\n"
        + &backend("m", "x", "priority = 1")
        + &backend("m", "y", "priority = 2")
        + &users("");
    let (a, b) = (Instance::start(&text), Instance::start(&text));
    let first = post(&a.url).await;
    assert_eq!(first.status(), 200);
    assert_eq!(
        header(&first, "x-switchyard-attempts"),
        "2",
        "x said 429, y answered"
    );
    assert_eq!(limited.received(), 1);
    let seen = poll(Duration::from_secs(10), || async {
        let v: Value = http()
            .get(format!("{}/admin/backends", b.url))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["data"].as_array().unwrap().iter().any(|e| {
            e["backend"] == "x"
                && e["state"] == "cooling_down"
                && e["cooldown_reason"] == "rate_limited"
        })
    })
    .await;
    assert!(seen, "instance B learned of the cooldown from Redis");
    for _ in 0..3 {
        let r = post(&b.url).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            (
                header(&r, "x-switchyard-backend"),
                header(&r, "x-switchyard-attempts")
            ),
            ("y", "1")
        );
    }
    assert_eq!(
        limited.received(),
        1,
        "B never tried the backend A found rate limited"
    );
}

/// One gateway per `on_error` policy, both limited through the same Redis.
async fn pair(redis: &Redis) -> (Instance, Instance, mock_upstream::MockServer) {
    let up = mock("a").await;
    let rest = provider("a", &up, "")
        + "[models.m]\n"
        + &backend("m", "a", "")
        + &users("[users.tester.rate_limit]\nrequests_per_minute = 1000\n");
    let open =
        Instance::start(&(state(redis, "on_error = \"fail_open\"\ntimeout = \"100ms\"") + &rest));
    let closed =
        Instance::start(&(state(redis, "on_error = \"fail_closed\"\ntimeout = \"100ms\"") + &rest));
    (open, closed, up)
}

/// A request's status and how long it took, with ratelimit headers seen.
async fn timed(url: &str) -> (u16, Duration, bool, String) {
    let start = Instant::now();
    let r = post(url).await;
    let took = start.elapsed();
    let limited = !header(&r, "x-ratelimit-limit-requests").is_empty();
    let retry = header(&r, "retry-after").to_string();
    (r.status().as_u16(), took, limited, retry)
}

#[tokio::test]
async fn redis_stopped_mid_run_follows_on_error_without_hanging() {
    let redis = Redis::with_password("pw-s3cret");
    let (open, closed, _up) = pair(&redis).await;
    for url in [&open.url, &closed.url] {
        let (status, _, limited, _) = timed(url).await;
        assert_eq!(
            (status, limited),
            (200, true),
            "limits apply while Redis is up"
        );
    }
    let (port, password) = redis.stop();
    for _ in 0..3 {
        let (status, took, limited, _) = timed(&open.url).await;
        assert_eq!(
            (status, limited),
            (200, false),
            "fail_open serves unchecked"
        );
        assert!(took < Duration::from_secs(2), "{took:?}");
        let (status, took, _, retry) = timed(&closed.url).await;
        assert_eq!((status, retry.as_str()), (503, "1"), "fail_closed refuses");
        assert!(took < Duration::from_secs(2), "{took:?}");
    }
    // Log lines trail the responses they explain (another thread reads them).
    poll(Duration::from_secs(5), || async {
        open.logs()
            .iter()
            .any(|l| l.contains("redis://[redacted]@127.0.0.1"))
    })
    .await;
    let logs = open.logs();
    let incidents = logs
        .iter()
        .filter(|l| l.contains("shared state store unreachable"))
        .count();
    assert_eq!(
        incidents,
        1,
        "logged once per incident:\n{}",
        logs.join("\n")
    );
    assert!(
        logs.iter().all(|l| !l.contains("pw-s3cret")),
        "the password never shows"
    );
    assert!(logs
        .iter()
        .any(|l| l.contains("redis://[redacted]@127.0.0.1")));
    let metrics = http()
        .get(format!("{}/metrics", open.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let errors = metric(&metrics, "switchyard_state_errors_total");
    assert!(errors >= 3.0, "{errors}");
    let _again = Redis::on_port(port, password.as_deref());
    let back = poll(Duration::from_secs(15), || async {
        timed(&closed.url).await.0 == 200
    })
    .await;
    assert!(back, "fail_closed serves again once Redis is back");
    // The line is read from the child's stdout by another thread: wait for it.
    let logged = poll(Duration::from_secs(5), || async {
        closed.logs().iter().any(|l| l.contains("reachable again"))
    })
    .await;
    assert!(logged, "recovery is logged:\n{}", closed.logs().join("\n"));
}

#[tokio::test]
async fn a_frozen_redis_costs_at_most_the_timeout() {
    let redis = Redis::start();
    let (open, closed, _up) = pair(&redis).await;
    assert_eq!(timed(&open.url).await.0, 200);
    redis.freeze();
    for _ in 0..3 {
        let (status, took, limited, _) = timed(&open.url).await;
        assert_eq!((status, limited), (200, false));
        assert!(
            took < Duration::from_secs(1),
            "bounded by state.timeout: {took:?}"
        );
        let (status, took, _, _) = timed(&closed.url).await;
        assert_eq!(status, 503);
        assert!(took < Duration::from_secs(1), "{took:?}");
    }
    redis.thaw();
}

/// A Redis that refuses connections, under `fail_open`: after the first
/// failure the store is skipped for a moment, so the next requests go at
/// memory speed instead of each paying `state.timeout`.
#[tokio::test]
async fn a_refusing_redis_is_skipped_after_a_failure() {
    let up = mock("a").await;
    let port = common_redis::free_port();
    let text = format!(
        "[state]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:{port}\"\ntimeout = \"3s\"\non_error = \"fail_open\"\nsync_interval = \"1h\"\n"
    ) + &provider("a", &up, "")
        + "[models.m]\n"
        + &backend("m", "a", "")
        + &users("[users.tester.rate_limit]\nrequests_per_minute = 1000\n");
    let gw = common::gateway(&text).await;
    let mut slow = Vec::new();
    for _ in 0..8 {
        let (status, took, limited, _) = timed(&gw.url).await;
        assert_eq!(
            (status, limited),
            (200, false),
            "fail_open serves unchecked"
        );
        if took > Duration::from_millis(150) {
            slow.push(took);
        }
    }
    assert!(
        slow.len() <= 1,
        "only the first request waits on Redis: {slow:?}"
    );
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn poll<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
