//! What one party cannot take from everyone else: memory for a huge
//! upstream answer, connections held by slow clients.

use mock_upstream::{Fault, MockConfig};
use serde_json::{json, Value};

use super::process::{on_any_port, Process};
use super::SECOND;
use crate::common_health::*;

fn huge(bytes: usize) -> MockConfig {
    MockConfig::new("huge").with_fault(Fault {
        huge: Some(bytes),
        ..Fault::default()
    })
}

/// An answer past `max_response_bytes` is a 502 naming the limit, a failure
/// of the backend that sent it, and a reason to fail over.
#[tokio::test]
async fn a_huge_answer_is_refused_at_the_limit_and_counts_against_its_backend() {
    let (big, b) = (mock_with(huge(8 << 20)).await, mock("b").await);
    let setup = Setup {
        strategy: "failover",
        settings: "max_attempts = 2\nmax_response_bytes = 1048576",
        ..Setup::default()
    };
    let gw = Gateway::start(&setup, &[("huge", &big, ""), ("b", &b, "")]).await;
    let pinned = gw.chat(json!({"backend": "huge"})).await;
    assert_eq!(pinned.status(), 502);
    let body: Value = pinned.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("limit of 1048576 bytes (settings.max_response_bytes)"),
        "{message}"
    );
    let resp = gw.chat(json!({})).await;
    assert_eq!(resp.status(), 200, "fails over to b");
    assert_eq!(resp.headers()["x-switchyard-backend"], "b");
    let entry = gw.backend("huge").await;
    assert_eq!(entry["failures"], 2, "{entry}");
    assert!(
        entry["last_error"]
            .as_str()
            .unwrap()
            .contains("max_response_bytes"),
        "{entry}"
    );
    let metrics = gw.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains(
            r#"switchyard_upstream_attempts_total{backend="huge",outcome="too_large"} 2"#
        ),
        "{metrics}"
    );
}

/// The real binary in front of a 256 MiB answer holds about the default
/// 32 MiB limit (twice, at most, while the pieces are joined), not the answer.
#[tokio::test]
async fn a_256_mib_answer_costs_the_gateway_about_the_limit_in_memory() {
    let big = mock_with(huge(256 << 20)).await;
    let gw = Process::start(&on_any_port(&config_text(
        &Setup::default(),
        &[("huge", &big, "")],
    )));
    let before = gw.peak_rss_kib();
    let resp = reqwest::Client::new()
        .post(format!("http://{}/v1/chat/completions", gw.addr))
        .bearer_auth(USER)
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        .timeout(60 * SECOND)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    let grown_mib = (gw.peak_rss_kib() - before) / 1024;
    assert!(
        grown_mib < 100,
        "peak memory grew by {grown_mib} MiB for one answer"
    );
}
