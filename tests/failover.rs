//! Failover over real HTTP: each failure class moves on to another backend,
//! client errors do not, and exhaustion reports every attempt.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use mock_upstream::Fault;
use serde_json::json;

/// `bad` fails first (failover strategy), `good` must then serve.
async fn fails_over_from(
    bad: Fault,
    settings: &str,
) -> (
    reqwest::Response,
    mock_upstream::MockServer,
    mock_upstream::MockServer,
) {
    let bad_mock = mock_with("bad", bad).await;
    let good = mock("good").await;
    let gw = gateway(&config(
        "failover",
        settings,
        &[("bad", &bad_mock), ("good", &good)],
    ))
    .await;
    let resp = chat(&gw, chat_body(json!({}))).await;
    (resp, bad_mock, good)
}

async fn assert_served_by_good(resp: reqwest::Response, bad: &mock_upstream::MockServer) {
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-switchyard-backend"), "good");
    assert_eq!(header(&resp, "x-switchyard-attempts"), "2");
    assert_eq!(bad.received(), 1, "the failing backend is tried once");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("Hello from good"));
}

#[tokio::test]
async fn fails_over_on_5xx() {
    let (resp, bad, _) = fails_over_from(Fault::status(503), "").await;
    assert_served_by_good(resp, &bad).await;
}

#[tokio::test]
async fn fails_over_on_429() {
    let fault = Fault {
        retry_after: Some("1".into()),
        ..Fault::status(429)
    };
    let (resp, bad, _) = fails_over_from(fault, "").await;
    assert_served_by_good(resp, &bad).await;
}

#[tokio::test]
async fn fails_over_on_upstream_auth_errors() {
    for status in [401, 403] {
        let (resp, bad, _) = fails_over_from(Fault::status(status), "").await;
        assert_served_by_good(resp, &bad).await;
    }
}

#[tokio::test]
async fn fails_over_on_request_timeout() {
    let slow = Fault {
        delay: std::time::Duration::from_secs(5),
        ..Fault::default()
    };
    let started = std::time::Instant::now();
    let (resp, bad, _) = fails_over_from(slow, "request_timeout = \"200ms\"").await;
    assert_served_by_good(resp, &bad).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "timeout applies per attempt"
    );
}

#[tokio::test]
async fn fails_over_on_connect_error() {
    let dead = mock("dead").await;
    let dead_url = dead.url();
    drop(dead);
    let good = mock("good").await;
    let toml = format!(
        "[providers.dead]\nbase_url = \"{dead_url}\"\n{}[models.m]\nstrategy = \"failover\"\n{}{}{}",
        provider("good", &good, ""),
        backend("m", "dead", ""),
        backend("m", "good", ""),
        user()
    );
    let gw = gateway(&toml).await;
    let resp = chat(&gw, chat_body(json!({}))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-switchyard-backend"), "good");
    assert_eq!(header(&resp, "x-switchyard-attempts"), "2");
}

#[tokio::test]
async fn client_errors_go_back_unretried_as_sent() {
    for status in [400, 404, 413, 422] {
        let body = format!(
            r#"{{"error":{{"message":"upstream says {status}","type":"invalid_request_error","param":"messages","code":"x"}}}}"#
        );
        let fault = Fault {
            body: Some(body.clone()),
            ..Fault::status(status)
        };
        let (resp, bad, good) = fails_over_from(fault, "").await;
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(header(&resp, "x-switchyard-backend"), "bad");
        assert_eq!(
            resp.text().await.unwrap(),
            body,
            "the upstream's body passes through"
        );
        assert_eq!(
            (bad.received(), good.received()),
            (1, 0),
            "HTTP {status} is not retried"
        );
    }
}

#[tokio::test]
async fn exhaustion_lists_every_attempt_without_secrets() {
    let a = mock_with("a", Fault::status(500)).await;
    let b = mock_with("b", Fault::status(502)).await;
    let c = mock_with("c", Fault::status(503)).await;
    let d = mock_with("d", Fault::status(504)).await;
    let gw = gateway(&config(
        "round_robin",
        "max_attempts = 3",
        &[("a", &a), ("b", &b), ("c", &c), ("d", &d)],
    ))
    .await;
    let resp = chat(&gw, chat_body(json!({}))).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(header(&resp, "x-switchyard-attempts"), "3");
    let err = error_of(resp).await;
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.starts_with("all 3 attempt(s) for model `m` failed"),
        "{msg}"
    );
    let named = ["a", "b", "c", "d"]
        .iter()
        .filter(|n| msg.contains(&format!("{n}: HTTP 50")))
        .count();
    assert_eq!(named, 3, "each attempt is listed once: {msg}");
    assert!(!msg.contains("secret") && !msg.contains(TOKEN), "{msg}");
    let total: u64 = [&a, &b, &c, &d].iter().map(|m| m.received()).sum();
    assert_eq!(
        total, 3,
        "never the same backend twice, at most max_attempts"
    );
}

#[tokio::test]
async fn all_timeouts_answer_504() {
    let slow = || Fault {
        delay: std::time::Duration::from_secs(5),
        ..Fault::default()
    };
    let a = mock_with("a", slow()).await;
    let b = mock_with("b", slow()).await;
    let gw = gateway(&config(
        "failover",
        "request_timeout = \"100ms\"",
        &[("a", &a), ("b", &b)],
    ))
    .await;
    let resp = chat(&gw, chat_body(json!({}))).await;
    assert_eq!(resp.status(), 504);
    assert_eq!(error_of(resp).await["code"], "upstream_timeout");
}

#[tokio::test]
async fn request_deadline_bounds_all_attempts() {
    let slow = || Fault {
        delay: std::time::Duration::from_secs(5),
        ..Fault::default()
    };
    let (a, b, c) = (
        mock_with("a", slow()).await,
        mock_with("b", slow()).await,
        mock_with("c", slow()).await,
    );
    let settings = "request_timeout = \"2s\"\nrequest_deadline = \"300ms\"";
    let gw = gateway(&config(
        "failover",
        settings,
        &[("a", &a), ("b", &b), ("c", &c)],
    ))
    .await;
    let started = std::time::Instant::now();
    let resp = chat(&gw, chat_body(json!({}))).await;
    assert_eq!(resp.status(), 504);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn no_enabled_backend_answers_503() {
    let a = mock("a").await;
    let toml = format!(
        "{}[models.m]\n{}{}",
        provider("a", &a, ""),
        backend("m", "a", "enabled = false"),
        user()
    );
    let gw = gateway(&toml).await;
    let resp = chat(&gw, chat_body(json!({}))).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(error_of(resp).await["code"], "no_backend_available");
    assert_eq!(a.received(), 0);
}

#[tokio::test]
async fn echoed_keys_are_scrubbed_from_errors() {
    // The test provider's key is `sk-<name>-secret`; these upstreams echo it.
    let echo = |status| Fault {
        body: Some(
            r#"{"error":{"message":"bad key sk-bad-secret","type":"x","param":null,"code":null}}"#
                .into(),
        ),
        ..Fault::status(status)
    };
    let (resp, _, _) = fails_over_from(echo(400), "").await;
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(
        !text.contains("sk-bad-secret") && text.contains("[redacted]"),
        "{text}"
    );

    let bad = mock_with("bad", echo(500)).await;
    let gw = gateway(&config("failover", "", &[("bad", &bad)])).await;
    let resp = chat(&gw, chat_body(json!({}))).await;
    assert_eq!(resp.status(), 502);
    let msg = error_of(resp).await["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !msg.contains("sk-bad-secret") && msg.contains("[redacted]"),
        "{msg}"
    );
}

#[tokio::test]
async fn non_json_client_errors_are_wrapped_in_openai_shape() {
    let fault = Fault {
        body: Some("<html>404 page</html>".into()),
        ..Fault::status(404)
    };
    let (resp, _, good) = fails_over_from(fault, "").await;
    assert_eq!(resp.status(), 404);
    assert_eq!(header(&resp, "content-type"), "application/json");
    let err = error_of(resp).await;
    assert!(err["message"].as_str().unwrap().contains("404"), "{err}");
    assert_eq!(good.received(), 0);
}

#[tokio::test]
async fn a_deadline_that_runs_out_between_attempts_is_a_timeout() {
    let slow_fail = Fault {
        delay: std::time::Duration::from_millis(400),
        ..Fault::status(500)
    };
    let a = mock_with("a", slow_fail).await;
    let b = mock("b").await;
    let gw = gateway(&config(
        "failover",
        "request_deadline = \"300ms\"\nrequest_timeout = \"5s\"",
        &[("a", &a), ("b", &b)],
    ))
    .await;
    let resp = chat(&gw, chat_body(json!({}))).await;
    assert_eq!(resp.status(), 504);
    assert_eq!(b.received(), 0, "no attempt starts after the deadline");
}

#[tokio::test]
async fn backends_that_cannot_take_a_request_do_not_use_up_attempts() {
    let (c1, c2, o) = (mock("c1").await, mock("c2").await, mock("o").await);
    let mut t = "[settings]\nmax_attempts = 2\n".to_string();
    t += &provider("c1", &c1, "backend_type = \"anthropic\"");
    t += &provider("c2", &c2, "backend_type = \"anthropic\"");
    t += &provider("o", &o, "");
    t += "[models.m]\nstrategy = \"failover\"\n";
    t += &(backend("m", "c1", "priority = 1")
        + &backend("m", "c2", "priority = 2")
        + &backend("m", "o", "priority = 3"));
    let gw = gateway(&(t + &user())).await;
    let resp = chat(&gw, chat_body(json!({"logprobs": true}))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-switchyard-backend"), "o");
    assert_eq!(header(&resp, "x-switchyard-attempts"), "1");
    assert_eq!(
        (c1.received(), c2.received()),
        (0, 0),
        "nothing is sent to a backend that cannot express the request"
    );
}

fn rate_limited(retry_after: &str) -> Fault {
    Fault {
        retry_after: Some(retry_after.into()),
        ..Fault::status(429)
    }
}

#[tokio::test]
async fn every_backend_rate_limited_answers_429_when_the_soonest_is_back() {
    let a = mock_with("a", rate_limited("7")).await;
    let b = mock_with("b", rate_limited("3")).await;
    // No active probe: one that reached a backend first would cool it down
    // before the request (seen once in CI: one attempt, not two).
    let text =
        config("failover", "", &[("a", &a), ("b", &b)]) + "[health.probe]\nkind = \"none\"\n";
    let gw = gateway(&text).await;
    let resp = chat(&gw, chat_body(json!({}))).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "retry-after"), "3", "b cools down first");
    let ms: u64 = header(&resp, "retry-after-ms").parse().unwrap();
    assert!(ms > 2000 && ms <= 3000, "{ms}");
    assert_eq!(header(&resp, "x-switchyard-attempts"), "2");
    let err = error_of(resp).await;
    assert_eq!(
        (err["type"].as_str(), err["code"].as_str()),
        (Some("rate_limit_error"), Some("upstream_rate_limited"))
    );
    assert_eq!((a.received(), b.received()), (1, 1));
}

#[tokio::test]
async fn the_last_failure_decides_between_429_504_and_502() {
    let slow = Fault {
        delay: std::time::Duration::from_secs(5),
        ..Fault::default()
    };
    let cases = [
        (Fault::status(500), rate_limited("2"), 429),
        (rate_limited("2"), slow, 504),
        (rate_limited("2"), Fault::status(500), 502),
    ];
    for (first, last, want) in cases {
        let a = mock_with("a", first).await;
        let b = mock_with("b", last).await;
        let gw = gateway(&config(
            "failover",
            "request_timeout = \"200ms\"",
            &[("a", &a), ("b", &b)],
        ))
        .await;
        let resp = chat(&gw, chat_body(json!({}))).await;
        assert_eq!(resp.status(), want);
        assert_eq!(
            resp.headers().contains_key("retry-after"),
            want == 429,
            "{want}"
        );
        let err = error_of(resp).await;
        let msg = err["message"].as_str().unwrap();
        assert!(msg.starts_with("all 2 attempt(s)"), "{msg}");
    }
}
