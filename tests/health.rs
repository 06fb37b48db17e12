//! Backend health over real HTTP: a gateway in-process in front of mock
//! upstreams with injected faults. Cooldowns are short and every wait is a
//! bounded poll; the only fixed sleeps wait out a configured cooldown.

mod common_health;

use std::time::{Duration, Instant};

use common_health::*;
use mock_upstream::{Fault, MockConfig};
use serde_json::{json, Value};

const SECOND: Duration = Duration::from_secs(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------- passive checks

#[tokio::test]
async fn a_down_backend_loses_its_traffic_and_regains_it_after_recovery() {
    let (a, b) = (mock("a").await, mock("b").await);
    let setup = Setup {
        health: "failure_threshold = 3\nopen_cooldown = \"300ms\"",
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
    assert!(
        eventually(2 * SECOND, || async {
            gw.state_of("a").await == "half_open"
        })
        .await
    );
    for _ in 0..4 {
        assert_eq!(gw.chat(json!({})).await.status(), 200);
    }
    assert!(a.received() >= 5, "a is back in rotation: {}", a.received());
    assert_eq!(gw.state_of("a").await, "healthy");
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
        health: "failure_threshold = 1\nopen_cooldown = \"200ms\"\nmax_open_cooldown = \"10s\"",
        ..Setup::default()
    };
    let gw = Gateway::start(&setup, &[("a", &a, "")]).await;
    assert_eq!(gw.chat(json!({})).await.status(), 502);
    assert_eq!(gw.state_of("a").await, "open");
    assert!(
        eventually(2 * SECOND, || async {
            gw.state_of("a").await == "half_open"
        })
        .await
    );
    assert_eq!(gw.chat(json!({})).await.status(), 502, "the trial fails");
    let entry = gw.backend("a").await;
    assert_eq!(entry["state"], "open");
    let left = entry["cooldown_remaining_ms"].as_u64().unwrap();
    assert!(
        left > 200 && left <= 400,
        "backoff doubled the cooldown: {left}"
    );
    assert!(
        eventually(2 * SECOND, || async {
            gw.state_of("a").await == "half_open"
        })
        .await
    );
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
        health: "max_cooldown = \"300ms\"",
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
    assert!(left > 0 && left <= 300, "capped by max_cooldown: {left}");
    a.set_fault(Fault::default());
    assert!(eventually(2 * SECOND, || async { gw.state_of("a").await == "healthy" }).await);
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

// ---------------------------------------------------------------- streams

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

// ---------------------------------------------------------------- pins and the admin API

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

// ---------------------------------------------------------------- active checks

/// An address nobody listens on (for now).
async fn free_addr() -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

const FAST_PROBES: &str =
    "kind = \"models\"\ninterval = \"50ms\"\ntimeout = \"500ms\"\nfailure_threshold = 2";

#[tokio::test]
async fn probes_open_a_dead_backend_without_traffic_and_close_it_when_it_is_back() {
    let addr = free_addr().await;
    let setup = Setup {
        health: "open_cooldown = \"100ms\"",
        probe: FAST_PROBES,
        ..Setup::default()
    };
    let text = config_text_urls(&setup, &[("a", format!("http://{addr}"), "")]);
    let gw = Gateway::from_text(&text).await;
    assert_eq!(gw.state.probed_backends(), 1);
    assert!(eventually(3 * SECOND, || async { gw.state_of("a").await == "open" }).await);
    assert_eq!(gw.get("/ready", None).await.status(), 503);
    let entry = gw.backend("a").await;
    assert_eq!(entry["last_check"]["ok"], false, "{entry}");
    assert_eq!(entry["last_check"]["probe"], "models");
    assert!(
        entry["last_error"]
            .as_str()
            .unwrap()
            .contains("connect error"),
        "{entry}"
    );

    let a = mock_upstream::MockServer::bind(&addr.to_string(), MockConfig::new("a"))
        .await
        .unwrap();
    assert!(eventually(3 * SECOND, || async { gw.state_of("a").await == "healthy" }).await);
    assert_eq!(gw.get("/ready", None).await.status(), 200);
    assert_eq!(gw.backend("a").await["last_check"]["ok"], true);
    assert_eq!(
        a.received(),
        0,
        "recovered by probes alone, with no chat request"
    );
}

#[tokio::test]
async fn chat_probes_never_go_to_backends_billed_per_request() {
    let (a, b) = (mock("a").await, mock("b").await);
    let setup = Setup {
        probe: &FAST_PROBES.replace("models", "chat"),
        ..Setup::default()
    };
    let gw = Gateway::start(
        &setup,
        &[("a", &a, ""), ("b", &b, "billing_mode = \"per_request\"")],
    )
    .await;
    assert!(eventually(3 * SECOND, || async { a.received() >= 2 }).await);
    let probe = &a.requests()[0];
    assert_eq!(probe.path, "/v1/chat/completions");
    assert_eq!(probe.body["max_tokens"], 1);
    assert_eq!(probe.body["model"], "mock-model");
    assert_eq!(probe.header("authorization"), Some("Bearer key-a"));
    assert!(
        eventually(3 * SECOND, || async {
            gw.backend("b").await["last_check"]["probe"] == "models"
        })
        .await
    );
    assert_eq!(b.received(), 0, "no chat probe to a per-request backend");
    assert_eq!(gw.backend("a").await["last_check"]["probe"], "chat");
}

#[tokio::test]
async fn installing_a_config_restarts_the_probes() {
    let a = mock("a").await;
    let chat = FAST_PROBES.replace("models", "chat");
    let with_probes = Setup {
        probe: &chat,
        ..Setup::default()
    };
    let gw = Gateway::start(&with_probes, &[("a", &a, "")]).await;
    assert!(eventually(3 * SECOND, || async { a.received() >= 1 }).await);
    let quiet = config_text(&Setup::default(), &[("a", &a, "")]);
    gw.state
        .install(switchyard::config::parse(&quiet, &|_| None).unwrap())
        .unwrap();
    assert_eq!(gw.state.probed_backends(), 0);
    let seen = a.received();
    tokio::time::sleep(ms(300)).await; // six probe intervals
    assert!(
        a.received() <= seen + 1,
        "at most the probe in flight lands"
    );
    let loud = config_text(&with_probes, &[("a", &a, "")]);
    gw.state
        .install(switchyard::config::parse(&loud, &|_| None).unwrap())
        .unwrap();
    assert_eq!(gw.state.probed_backends(), 1);
    assert!(eventually(3 * SECOND, || async { a.received() > seen + 1 }).await);
}

// ---------------------------------------------------------------- graceful shutdown

/// The real binary serving `config`, with its address read from its output.
struct Process {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Process {
    fn start(config: &str) -> Process {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Keeps draining, so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(url) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(10 * SECOND)
            .expect("the gateway announces its address");
        Process {
            child,
            addr,
            _dir: dir,
        }
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    async fn exit_code(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            tokio::time::sleep(ms(20)).await;
        }
        let _ = self.child.kill();
        panic!("the gateway did not exit within {limit:?}");
    }
}

fn shutdown_config(mock: &mock_upstream::MockServer, grace: &str) -> String {
    let settings = format!("shutdown_grace = \"{grace}\"");
    let setup = Setup {
        settings: &settings,
        ..Setup::default()
    };
    config_text(&setup, &[("a", mock, "")]).replace(
        "[settings]",
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[settings]",
    )
}

async fn start_stream(addr: &str) -> reqwest::Response {
    let body =
        json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/v1/chat/completions"))
        .bearer_auth(USER)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp
}

async fn refuses_connections(addr: &str) -> bool {
    eventually(5 * SECOND, || async {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await
}

#[tokio::test]
async fn sigterm_lets_a_long_stream_finish_refuses_new_connections_and_exits_0() {
    let mut cfg = MockConfig::new("a").with_fault(Fault {
        chunk_delay: ms(100),
        ..Fault::default()
    });
    cfg.chunks = Some(15);
    let a = mock_with(cfg).await;
    let mut gw = Process::start(&shutdown_config(&a, "20s"));
    let resp = start_stream(&gw.addr).await;
    let mut body = resp.bytes_stream();
    let mut text = String::from_utf8(
        futures_util::StreamExt::next(&mut body)
            .await
            .unwrap()
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    gw.signal("-TERM");
    assert!(
        refuses_connections(&gw.addr).await,
        "the listener is closed"
    );
    while let Some(chunk) = futures_util::StreamExt::next(&mut body).await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    let sse = parse_sse(&text);
    assert!(
        sse.done && sse.error.is_none(),
        "the stream finished: {text}"
    );
    assert_eq!(sse.chunks, 15);
    assert_eq!(gw.exit_code(10 * SECOND).await, Some(0));
}

#[tokio::test]
async fn the_grace_period_bounds_shutdown() {
    let a = mock_with(MockConfig::new("a").with_fault(Fault {
        stall_after: Some(1),
        ..Fault::default()
    }))
    .await;
    let mut gw = Process::start(&shutdown_config(&a, "300ms"));
    let resp = start_stream(&gw.addr).await;
    let started = Instant::now();
    gw.signal("-INT");
    assert_eq!(gw.exit_code(10 * SECOND).await, Some(0));
    assert!(started.elapsed() < 5 * SECOND, "{:?}", started.elapsed());
    assert!(resp.text().await.is_err(), "the stalled stream was cut");
    assert!(eventually(3 * SECOND, || async { a.streams_cancelled() == 1 }).await);
}
