//! Pins, the admin API and readiness.

use mock_upstream::Fault;
use serde_json::{json, Value};

use crate::common_health::*;

#[tokio::test]
async fn a_pinned_request_ignores_the_circuit_and_its_success_closes_it() {
    let (a, b) = (mock("a").await, mock("b").await);
    let setup = Setup {
        health: "failure_threshold = 1\nopen_cooldown = \"30s\"",
        ..Setup::default()
    };
    let gw = Gateway::start(&setup, &[("a", &a, ""), ("b", &b, "")]).await;
    a.set_fault(Fault::status(500));
    while a.received() == 0 {
        gw.chat(json!({})).await;
    }
    assert_eq!(gw.state_of("a").await, "open");
    let resp = gw.chat(json!({"backend": "a"})).await;
    assert_eq!(resp.status(), 502, "the pin reached the open backend");
    assert_eq!(a.received(), 2);
    a.set_fault(Fault::default());
    let resp = gw.chat(json!({"backend": "a"})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        gw.state_of("a").await,
        "healthy",
        "a pinned success closes the circuit"
    );
}

#[tokio::test]
async fn the_admin_api_needs_an_admin() {
    let a = mock("a").await;
    let gw = Gateway::start(&Setup::default(), &[("a", &a, "")]).await;
    let resp = gw.get("/admin/backends", None).await;
    assert_eq!(resp.status(), 401);
    let resp = gw.get("/admin/backends", Some(USER)).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "permission_error");
    assert_eq!(body["error"]["code"], "admin_required");
    let resp = gw.post("/admin/backends/a/disable", USER, json!({})).await;
    assert_eq!(resp.status(), 403);
    let resp = gw
        .post("/admin/backends/nope/disable", ADMIN, json!({}))
        .await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "backend_not_found");
    let resp = gw
        .post("/admin/backends/a/disable?model=other", ADMIN, json!({}))
        .await;
    assert_eq!(resp.status(), 404);
    let entry = gw.backend("a").await;
    let fields = [
        "model",
        "backend",
        "provider",
        "upstream_model",
        "state",
        "healthy",
        "consecutive_failures",
        "error_rate",
        "ewma_latency_ms",
        "ewma_ttft_ms",
        "inflight",
        "confidence",
        "last_error",
        "last_check",
        "cooldown_remaining_ms",
    ];
    for f in fields {
        assert!(entry.get(f).is_some(), "missing {f} in {entry}");
    }
    assert_eq!(entry["provider"], "a");
    assert_eq!(entry["upstream_model"], "mock-model");
    assert_eq!(entry["state"], "healthy");
    assert_eq!(entry["confidence"], 1.0);
}

#[tokio::test]
async fn a_backend_disabled_at_runtime_is_skipped_and_refuses_pins() {
    let (a, b) = (mock("a").await, mock("b").await);
    let gw = Gateway::start(&Setup::default(), &[("a", &a, ""), ("b", &b, "")]).await;
    let resp = gw.post("/admin/backends/a/disable", ADMIN, json!({})).await;
    assert_eq!(resp.status(), 200);
    for _ in 0..6 {
        assert_eq!(gw.chat(json!({})).await.status(), 200);
    }
    assert_eq!(a.received(), 0);
    let entry = gw.backend("a").await;
    assert_eq!(
        (&entry["state"], &entry["disabled_by"]),
        (&json!("disabled"), &json!("admin"))
    );
    let resp = gw.chat(json!({"backend": "a"})).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "backend_disabled");
    let models: Value = gw
        .get("/v1/models/m", Some(USER))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        models["backends"],
        json!(["b"]),
        "only backends one may pin are listed"
    );

    // Survives a new snapshot, then comes back with enable.
    let text = config_text(&Setup::default(), &[("a", &a, ""), ("b", &b, "")]);
    gw.state
        .install(switchyard::config::parse(&text, &|_| None).unwrap())
        .unwrap();
    assert_eq!(gw.state_of("a").await, "disabled");
    let resp = gw
        .post("/admin/backends/a/enable?model=m", ADMIN, json!({}))
        .await;
    assert_eq!(resp.status(), 200);
    for _ in 0..4 {
        gw.chat(json!({})).await;
    }
    assert!(a.received() >= 1);
    assert_eq!(gw.state_of("a").await, "healthy");
}

#[tokio::test]
async fn ready_reports_models_without_a_usable_backend() {
    let a = mock("a").await;
    let setup = Setup {
        health: "failure_threshold = 1\nopen_cooldown = \"30s\"",
        ..Setup::default()
    };
    let gw = Gateway::start(&setup, &[("a", &a, "")]).await;
    assert_eq!(gw.get("/ready", None).await.status(), 200);
    gw.post("/admin/backends/a/disable", ADMIN, json!({})).await;
    assert_eq!(gw.get("/ready", None).await.status(), 503);
    gw.post("/admin/backends/a/enable", ADMIN, json!({})).await;
    assert_eq!(gw.get("/ready", None).await.status(), 200);
    a.set_fault(Fault::status(500));
    gw.chat(json!({})).await;
    assert_eq!(gw.get("/ready", None).await.status(), 503);
    assert_eq!(
        gw.get("/health", None).await.status(),
        200,
        "liveness is not readiness"
    );
}
