//! Active checks. Probe intervals pass with `skip`, one interval at a
//! time and only once the last probe has answered, so no probe is in flight
//! when the clock jumps; the probes themselves are real HTTP.

use std::time::Duration;

use mock_upstream::MockConfig;

use super::SECOND;
use crate::common_health::*;

/// An address nobody listens on (for now).
async fn free_addr() -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// The timeout outlasts the interval: a probe that a jump caught in flight
/// is not timed out by it.
const PROBES: &str =
    "kind = \"models\"\ninterval = \"10s\"\ntimeout = \"20s\"\nfailure_threshold = 2";
const INTERVAL: Duration = Duration::from_secs(10);
/// The longest random delay before a backend's first probe.
const FIRST: Duration = Duration::from_secs(1);

/// True once backend `id` has a probe result.
async fn probed(gw: &Gateway, id: &str) -> bool {
    !gw.backend(id).await["last_check"].is_null()
}

#[tokio::test]
async fn probes_open_a_dead_backend_without_traffic_and_close_it_when_it_is_back() {
    let addr = free_addr().await;
    let setup = Setup {
        health: "open_cooldown = \"5s\"",
        probe: PROBES,
        ..Setup::default()
    };
    let text = config_text_urls(&setup, &[("a", format!("http://{addr}"), "")]);
    let gw = Gateway::from_text(&text).await;
    assert_eq!(gw.state.probed_backends(), 1);
    skip(FIRST).await;
    assert!(eventually(3 * SECOND, || probed(&gw, "a")).await);
    assert_eq!(
        gw.state_of("a").await,
        "healthy",
        "one failed probe is not enough"
    );
    skip(INTERVAL).await;
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
    // The next probe, an interval later, finds the cooldown over and takes the trial.
    skip(INTERVAL).await;
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
        probe: &PROBES.replace("models", "chat"),
        ..Setup::default()
    };
    let gw = Gateway::start(
        &setup,
        &[("a", &a, ""), ("b", &b, "billing_mode = \"per_request\"")],
    )
    .await;
    skip(FIRST).await;
    let both = || async { probed(&gw, "a").await && probed(&gw, "b").await };
    assert!(eventually(3 * SECOND, both).await);
    skip(INTERVAL).await;
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
    let chat = PROBES.replace("models", "chat");
    let with_probes = Setup {
        probe: &chat,
        ..Setup::default()
    };
    let gw = Gateway::start(&with_probes, &[("a", &a, "")]).await;
    skip(FIRST).await;
    assert!(eventually(3 * SECOND, || probed(&gw, "a")).await);
    assert_eq!(a.received(), 1);
    let quiet = config_text(&Setup::default(), &[("a", &a, "")]);
    gw.state
        .install(switchyard::config::parse(&quiet, &|_| None).unwrap())
        .unwrap();
    assert_eq!(gw.state.probed_backends(), 0);
    let seen = a.received();
    for _ in 0..6 {
        skip(INTERVAL).await;
        // A round trip through the gateway: a probe still running would have
        // gone out to the mock meanwhile.
        assert_eq!(gw.get("/health", None).await.status(), 200);
    }
    // The first probe had answered before the install: none was in flight.
    assert_eq!(a.received(), seen, "no probe lands after the install");
    let loud = config_text(&with_probes, &[("a", &a, "")]);
    gw.state
        .install(switchyard::config::parse(&loud, &|_| None).unwrap())
        .unwrap();
    assert_eq!(gw.state.probed_backends(), 1);
    skip(FIRST).await;
    assert!(eventually(3 * SECOND, || async { a.received() > seen }).await);
}
