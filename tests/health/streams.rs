//! Streams that break, stall, drip or lose their client; and every backend down.

use std::time::Instant;

use mock_upstream::{Fault, MockConfig};
use serde_json::{json, Value};

use super::{ms, SECOND};
use crate::common_health::*;

async fn stream(gw: &Gateway) -> (reqwest::StatusCode, Sse) {
    let resp = gw.chat(json!({"stream": true})).await;
    let status = resp.status();
    (status, parse_sse(&resp.text().await.unwrap()))
}

async fn one_backend_gateway(
    fault: Fault,
    settings: &str,
    chunks: usize,
) -> (Gateway, mock_upstream::MockServer) {
    let mut cfg = MockConfig::new("a").with_fault(fault);
    cfg.chunks = Some(chunks);
    let a = mock_with(cfg).await;
    let setup = Setup {
        settings,
        ..Setup::default()
    };
    let gw = Gateway::start(&setup, &[("a", &a, "")]).await;
    (gw, a)
}

#[tokio::test]
async fn a_stream_cut_midway_ends_with_an_error_event_and_no_done() {
    // The delay lets the chunks before the cut reach the gateway before the
    // reset does (a reset may discard data not yet read).
    let fault = Fault {
        close_after: Some(2),
        chunk_delay: ms(30),
        ..Fault::default()
    };
    let (gw, _a) = one_backend_gateway(fault, "", 6).await;
    let (status, sse) = stream(&gw).await;
    assert_eq!(status, 200, "committed at the first content");
    assert!((1..=2).contains(&sse.chunks), "{}", sse.chunks);
    assert!(!sse.done);
    assert_eq!(sse.error.unwrap()["code"], "stream_broken");
    let entry = gw.backend("a").await;
    assert_eq!(entry["consecutive_failures"], 1);
    assert!(
        entry["last_error"]
            .as_str()
            .unwrap()
            .contains("stream broken after commit"),
        "{entry}"
    );
}

#[tokio::test]
async fn a_stalled_stream_hits_the_idle_timeout() {
    let fault = Fault {
        stall_after: Some(1),
        ..Fault::default()
    };
    let (gw, _a) = one_backend_gateway(fault, "idle_timeout = \"300ms\"", 6).await;
    let started = Instant::now();
    let (status, sse) = stream(&gw).await;
    assert_eq!(status, 200);
    assert_eq!(sse.chunks, 1);
    assert!(!sse.done);
    assert!(sse.error.unwrap()["message"]
        .as_str()
        .unwrap()
        .contains("idle timeout"));
    assert!(started.elapsed() < 3 * SECOND);
    assert_eq!(gw.backend("a").await["inflight"], 0);
}

#[tokio::test]
async fn a_stall_before_the_first_token_fails_over() {
    let a = mock_with(MockConfig::new("a").with_fault(Fault {
        stall_after: Some(0),
        ..Fault::default()
    }))
    .await;
    let b = mock("b").await;
    let setup = Setup {
        strategy: "failover",
        settings: "max_attempts = 2\nfirst_token_timeout = \"300ms\"",
        ..Setup::default()
    };
    let gw = Gateway::start(
        &setup,
        &[("a", &a, "priority = 1"), ("b", &b, "priority = 2")],
    )
    .await;
    let resp = gw.chat(json!({"stream": true})).await;
    assert_eq!(resp.headers()["x-switchyard-backend"], "b");
    let sse = parse_sse(&resp.text().await.unwrap());
    assert!(sse.done && sse.error.is_none());
    let entry = gw.backend("a").await;
    assert!(
        entry["last_error"].as_str().unwrap().contains("timed out"),
        "{entry}"
    );
    assert!(eventually(2 * SECOND, || async { a.streams_cancelled() == 1 }).await);
}

#[tokio::test]
async fn a_malformed_sse_line_ends_the_stream_with_an_error_event() {
    let fault = Fault {
        malformed_after: Some(1),
        ..Fault::default()
    };
    let (gw, _a) = one_backend_gateway(fault, "", 5).await;
    let (status, sse) = stream(&gw).await;
    assert_eq!(status, 200);
    assert_eq!(sse.chunks, 1);
    assert!(!sse.done);
    let error = sse.error.unwrap();
    assert!(
        error["message"].as_str().unwrap().contains("malformed"),
        "{error}"
    );
}

#[tokio::test]
async fn a_slow_drip_within_the_idle_timeout_completes() {
    let fault = Fault {
        chunk_delay: ms(60),
        ..Fault::default()
    };
    let (gw, _a) = one_backend_gateway(fault, "idle_timeout = \"300ms\"", 8).await;
    let started = Instant::now();
    let (status, sse) = stream(&gw).await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() > ms(400),
        "longer than the idle timeout in total"
    );
    assert_eq!(sse.chunks, 8);
    assert!(sse.done && sse.error.is_none());
    let entry = gw.backend("a").await;
    assert_eq!(entry["state"], "healthy");
    assert_eq!(entry["failures"], 0);
}

#[tokio::test]
async fn a_client_leaving_midstream_cancels_the_upstream_request() {
    let fault = Fault {
        chunk_delay: ms(100),
        ..Fault::default()
    };
    let (gw, a) = one_backend_gateway(fault, "", 50).await;
    let resp = gw.chat(json!({"stream": true})).await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let first = futures_util::StreamExt::next(&mut body)
        .await
        .unwrap()
        .unwrap();
    assert!(!first.is_empty());
    assert_eq!(gw.backend("a").await["inflight"], 1);
    drop(body);
    assert!(eventually(3 * SECOND, || async { a.streams_cancelled() == 1 }).await);
    assert_eq!(a.streams_open(), 0);
    assert!(
        eventually(3 * SECOND, || async {
            gw.backend("a").await["inflight"] == 0
        })
        .await
    );
    let entry = gw.backend("a").await;
    assert_eq!(
        entry["failures"], 0,
        "a client leaving is not the backend's fault"
    );
}

// ---------------------------------------------------------------- every backend down

async fn all_down_gateway(policy: &str) -> (Gateway, [mock_upstream::MockServer; 2]) {
    let (a, b) = (mock("a").await, mock("b").await);
    a.set_fault(Fault::status(500));
    b.set_fault(Fault::status(500));
    let settings = format!("max_attempts = 2\nall_backends_down = \"{policy}\"");
    let setup = Setup {
        settings: &settings,
        health: "failure_threshold = 1\nopen_cooldown = \"30s\"",
        ..Setup::default()
    };
    let gw = Gateway::start(&setup, &[("a", &a, ""), ("b", &b, "")]).await;
    assert_eq!(gw.chat(json!({})).await.status(), 502);
    assert_eq!(a.received() + b.received(), 2);
    (gw, [a, b])
}

#[tokio::test]
async fn every_backend_down_with_fail_answers_503_at_once() {
    let (gw, [a, b]) = all_down_gateway("fail").await;
    let started = Instant::now();
    let resp = gw.chat(json!({"stream": true})).await;
    assert!(started.elapsed() < ms(500));
    assert_eq!(resp.status(), 503);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "all_backends_down");
    assert_eq!(a.received() + b.received(), 2, "no upstream was tried");
    let ready = gw.get("/ready", None).await;
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["models_without_backends"], json!(["m"]));
}

#[tokio::test]
async fn every_backend_down_with_try_anyway_still_tries() {
    let (gw, [a, b]) = all_down_gateway("try_anyway").await;
    assert_eq!(gw.chat(json!({})).await.status(), 502);
    assert_eq!(a.received() + b.received(), 4, "both were tried anyway");
}
