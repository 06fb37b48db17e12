//! Passive checks: outcomes of live requests move the circuit and cooldowns.

use mock_upstream::{Fault, MockConfig};
use serde_json::json;

use super::SECOND;
use crate::common_health::*;

#[tokio::test]
async fn a_down_backend_loses_its_traffic_and_regains_it_after_recovery() {
    let (a, b) = (mock("a").await, mock("b").await);
    let setup = Setup {
        health: "failure_threshold = 3\nopen_cooldown = \"10s\"",
        ..Setup::default()
    };
    let gw = Gateway::start(&setup, &[("a", &a, ""), ("b", &b, "")]).await;
    a.set_fault(Fault::status(500));
    for _ in 0..12 {
        assert_eq!(gw.chat(json!({})).await.status(), 200, "b takes over");
    }
    assert_eq!(a.received(), 3, "a gets exactly failure_threshold requests");
    let entry = gw.backend("a").await;
    assert_eq!(entry["state"], "open");
    assert_eq!(entry["healthy"], false);
    assert_eq!(entry["consecutive_failures"], 3);
    assert!(entry["confidence"].as_f64().unwrap() < 1.0, "{entry}");
    assert!(
        entry["last_error"].as_str().unwrap().contains("HTTP 500"),
        "{entry}"
    );
    assert!(entry["cooldown_remaining_ms"].as_u64().unwrap() > 0);
    a.set_fault(Fault::default());
    skip(10 * SECOND).await;
    assert_eq!(gw.state_of("a").await, "half_open");
    for _ in 0..4 {
        assert_eq!(gw.chat(json!({})).await.status(), 200);
    }
    assert!(a.received() >= 5, "a is back in rotation: {}", a.received());
    assert_eq!(gw.state_of("a").await, "healthy");
}

/// Below the threshold the circuit stays closed, but `recent` says what
/// the backend is doing: failing, until a request succeeds again.
#[tokio::test]
async fn recent_follows_the_last_requests_while_the_circuit_is_closed() {
    let (a, b) = (mock("a").await, mock("b").await);
    let setup = Setup {
        health: "failure_threshold = 5",
        ..Setup::default()
    };
    let gw = Gateway::start(&setup, &[("a", &a, ""), ("b", &b, "")]).await;
    assert_eq!(gw.backend("a").await["recent"], "unknown");
    a.set_fault(Fault::status(500));
    for _ in 0..2 {
        assert_eq!(gw.chat(json!({"backend": "a"})).await.status(), 502);
    }
    let entry = gw.backend("a").await;
    assert_eq!(
        (entry["state"].as_str(), entry["recent"].as_str()),
        (Some("healthy"), Some("failing")),
        "{entry}"
    );
    assert_eq!(gw.backend("b").await["recent"], "unknown");
    a.set_fault(Fault::default());
    assert_eq!(gw.chat(json!({"backend": "a"})).await.status(), 200);
    assert_eq!(gw.backend("a").await["recent"], "ok");
}

#[tokio::test]
async fn a_flapping_backend_below_the_threshold_stays_in_rotation() {
    let a = mock_with(MockConfig::new("a").with_fault(Fault {
        fail_first: Some(2),
        ..Fault::status(503)
    }))
    .await;
    let b = mock("b").await;
    let setup = Setup {
        health: "failure_threshold = 3",
        ..Setup::default()
    };
    let gw = Gateway::start(&setup, &[("a", &a, ""), ("b", &b, "")]).await;
    for _ in 0..10 {
        assert_eq!(gw.chat(json!({})).await.status(), 200);
    }
    let entry = gw.backend("a").await;
    assert_eq!(entry["state"], "healthy", "{entry}");
    assert_eq!(entry["failures"], 2);
    assert_eq!(entry["consecutive_failures"], 0);
    assert!(
        a.received() >= 4,
        "a kept getting traffic: {}",
        a.received()
    );
}

#[tokio::test]
async fn a_failed_trial_reopens_for_longer_then_recovery_closes() {
    let a = mock_with(MockConfig::new("a").with_fault(Fault {
        fail_first: Some(2),
        ..Fault::status(500)
    }))
    .await;
    let setup = Setup {
        health: "failure_threshold = 1\nopen_cooldown = \"5s\"\nmax_open_cooldown = \"60s\"",
        ..Setup::default()
    };
    let gw = Gateway::start(&setup, &[("a", &a, "")]).await;
    assert_eq!(gw.chat(json!({})).await.status(), 502);
    assert_eq!(gw.state_of("a").await, "open");
    skip(5 * SECOND).await;
    assert_eq!(gw.state_of("a").await, "half_open");
    assert_eq!(gw.chat(json!({})).await.status(), 502, "the trial fails");
    let entry = gw.backend("a").await;
    assert_eq!(entry["state"], "open");
    let left = entry["cooldown_remaining_ms"].as_u64().unwrap();
    assert!(
        left > 5000 && left <= 10_000,
        "backoff doubled the cooldown: {left}"
    );
    skip(5 * SECOND).await;
    assert_eq!(gw.state_of("a").await, "open", "5s is not enough now");
    skip(5 * SECOND).await;
    assert_eq!(gw.state_of("a").await, "half_open");
    assert_eq!(
        gw.chat(json!({})).await.status(),
        200,
        "the next trial succeeds"
    );
    assert_eq!(gw.state_of("a").await, "healthy");
    assert_eq!(a.received(), 3);
}

#[tokio::test]
async fn retry_after_on_429_is_honoured_and_capped() {
    let (a, b) = (mock("a").await, mock("b").await);
    let setup = Setup {
        health: "rate_limit_cooldown = \"50ms\"",
        ..Setup::default()
    };
    let gw = Gateway::start(&setup, &[("a", &a, ""), ("b", &b, "")]).await;
    a.set_fault(Fault {
        retry_after: Some("2".into()),
        ..Fault::status(429)
    });
    for _ in 0..6 {
        assert_eq!(gw.chat(json!({})).await.status(), 200);
    }
    assert_eq!(a.received(), 1, "cooling down: no traffic after the 429");
    let entry = gw.backend("a").await;
    assert_eq!(entry["state"], "cooling_down");
    assert_eq!(entry["cooldown_reason"], "rate_limited");
    let left = entry["cooldown_remaining_ms"].as_u64().unwrap();
    assert!(
        left > 1000 && left <= 2000,
        "Retry-After: 2, not the 50ms default: {left}"
    );
    assert_eq!(
        entry["consecutive_failures"], 0,
        "a 429 does not count for the circuit"
    );

    let (a, b) = (mock("a").await, mock("b").await);
    let setup = Setup {
        health: "max_cooldown = \"10s\"",
        ..Setup::default()
    };
    let gw = Gateway::start(&setup, &[("a", &a, ""), ("b", &b, "")]).await;
    a.set_fault(Fault {
        retry_after: Some("3600".into()),
        ..Fault::status(429)
    });
    while a.received() == 0 {
        assert_eq!(gw.chat(json!({})).await.status(), 200);
    }
    let left = gw.backend("a").await["cooldown_remaining_ms"]
        .as_u64()
        .unwrap();
    assert!(left > 0 && left <= 10_000, "capped by max_cooldown: {left}");
    a.set_fault(Fault::default());
    skip(10 * SECOND).await;
    assert_eq!(gw.state_of("a").await, "healthy");
    for _ in 0..4 {
        gw.chat(json!({})).await;
    }
    assert!(a.received() >= 2, "a is back after the cooldown");
}

#[tokio::test]
async fn an_auth_error_cools_the_backend_down_for_auth_cooldown() {
    let (a, b) = (mock("a").await, mock("b").await);
    let gw = Gateway::start(&Setup::default(), &[("a", &a, ""), ("b", &b, "")]).await;
    a.set_fault(Fault::status(401));
    for _ in 0..6 {
        assert_eq!(gw.chat(json!({})).await.status(), 200);
    }
    assert_eq!(a.received(), 1);
    let entry = gw.backend("a").await;
    assert_eq!(entry["state"], "cooling_down");
    assert_eq!(entry["cooldown_reason"], "auth");
    assert!(
        entry["cooldown_remaining_ms"].as_u64().unwrap() > 240_000,
        "5m default"
    );
    let text = serde_json::to_string(&gw.backends().await).unwrap();
    assert!(!text.contains("key-a"), "no secrets in the admin output");
}
