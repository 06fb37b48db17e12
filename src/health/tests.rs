//! Transitions driven by outcomes, with the thresholds from the config.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::clock;
use crate::config::{Backend, BillingMode, HealthConfig, Provider, Secret, Timeouts};

fn backend() -> Backend {
    let provider = Arc::new(Provider {
        id: "p".into(),
        name: "p".into(),
        protocol: (crate::protocol::PROTOCOLS[0].new)(&mut crate::protocol::Options::new(
            &Default::default(),
        )),
        base_url: "http://x/v1".into(),
        api_key: Some(Secret::new("sk-secret-key")),
        headers: vec![],
        models: vec![],
        timeouts: Timeouts::default(),
        enabled: true,
    });
    Backend {
        id: "b".into(),
        id_header: None,
        provider,
        upstream_model: "m".into(),
        weight: 1.0,
        priority: 1,
        tags: vec![],
        billing_mode: BillingMode::PerToken,
        address: "m".into(),
        enabled: true,
        price: None,
    }
}

fn cfg() -> HealthConfig {
    HealthConfig {
        failure_threshold: 3,
        min_requests: 4,
        error_rate_threshold: 0.5,
        open_cooldown: Duration::from_millis(40),
        ..HealthConfig::default()
    }
}

const FIVE_HUNDRED: Failure = Failure::Server { status: 500 };

// Paused: the open cooldown passes with `advance`, to the millisecond.

#[tokio::test(start_paused = true)]
async fn consecutive_failures_open_then_a_trial_success_closes() {
    let (b, cfg) = (backend(), cfg());
    let t = Target {
        model: "m",
        backend: &b,
    };
    let s = Arc::new(BackendStats::default());
    for _ in 0..2 {
        s.on_failure(&cfg, t, FIVE_HUNDRED, "HTTP 500");
    }
    assert_eq!(s.state(clock::now_ms()), State::Healthy);
    s.on_failure(&cfg, t, FIVE_HUNDRED, "HTTP 500");
    let now = clock::now_ms();
    assert_eq!(s.state(now), State::Open);
    assert!(matches!(s.availability(now), Availability::Down { .. }));
    tokio::time::advance(Duration::from_millis(39)).await;
    assert_eq!(
        s.state(clock::now_ms()),
        State::Open,
        "1 ms before open_cooldown"
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    let now = clock::now_ms();
    assert_eq!(s.availability(now), Availability::Trial);
    let trial = s.try_trial(now, t).expect("the trial is free");
    assert!(s.try_trial(now, t).is_none(), "only one trial");
    assert_eq!(s.state(now), State::HalfOpen);
    s.on_success(&cfg, t, Duration::from_millis(5), None);
    drop(trial);
    assert_eq!(s.state(clock::now_ms()), State::Healthy);
    assert_eq!(s.consecutive_failures(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_trial_reopens() {
    let (b, cfg) = (backend(), cfg());
    let t = Target {
        model: "m",
        backend: &b,
    };
    let s = Arc::new(BackendStats::default());
    for _ in 0..3 {
        s.on_failure(&cfg, t, Failure::Connect, "connect error");
    }
    tokio::time::advance(Duration::from_millis(40)).await;
    let _trial = s.try_trial(clock::now_ms(), t).unwrap();
    s.on_failure(&cfg, t, Failure::Timeout, "timed out");
    let r = s.report(&cfg, clock::now_ms());
    assert_eq!(r.state, State::Open);
    assert_eq!(r.cooldown_remaining_ms, 80, "backoff doubles");
    tokio::time::advance(Duration::from_millis(79)).await;
    assert!(s.try_trial(clock::now_ms(), t).is_none(), "still open");
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(s.try_trial(clock::now_ms(), t).is_some(), "the next trial");
}

#[test]
fn error_rate_over_the_window_opens() {
    let (b, cfg) = (backend(), cfg());
    let t = Target {
        model: "m",
        backend: &b,
    };
    let s = BackendStats::default();
    // ok, fail, ok, fail: never 3 in a row, but 50% of 4 requests.
    for i in 0..3 {
        if i % 2 == 0 {
            s.on_success(&cfg, t, Duration::from_millis(1), None);
        } else {
            s.on_failure(&cfg, t, FIVE_HUNDRED, "HTTP 500");
        }
    }
    assert_eq!(s.state(clock::now_ms()), State::Healthy);
    s.on_failure(&cfg, t, FIVE_HUNDRED, "HTTP 500");
    assert_eq!(s.state(clock::now_ms()), State::Open);
}

#[tokio::test(start_paused = true)]
async fn rate_limits_and_auth_errors_cool_down_without_opening() {
    let (b, mut cfg) = (backend(), cfg());
    cfg.max_cooldown = Duration::from_secs(2);
    let t = Target {
        model: "m",
        backend: &b,
    };
    let s = BackendStats::default();
    let asked = Failure::RateLimited {
        retry_after: Some(Duration::from_secs(60)),
    };
    for _ in 0..5 {
        s.on_failure(&cfg, t, asked, "HTTP 429");
    }
    let r = s.report(&cfg, clock::now_ms());
    assert_eq!(r.state, State::CoolingDown);
    assert_eq!(r.cooldown_reason, Some("rate_limited"));
    assert_eq!(r.cooldown_remaining_ms, 2000, "capped by max_cooldown");
    assert_eq!(r.consecutive_failures, 0);
    assert!(r.confidence < 1.0);
    tokio::time::advance(Duration::from_millis(2000)).await;
    assert_eq!(
        s.state(clock::now_ms()),
        State::Healthy,
        "the cooldown ends by itself"
    );
    let s = BackendStats::default();
    s.on_failure(
        &cfg,
        t,
        Failure::Auth { status: 401 },
        "HTTP 401: bad key sk-secret-key",
    );
    let r = s.report(&cfg, clock::now_ms());
    assert_eq!(r.cooldown_reason, Some("auth"));
    assert!(
        r.cooldown_remaining_ms > 200_000,
        "auth_cooldown is 5m by default"
    );
    let last = r.last_error.unwrap();
    assert!(
        !last.contains("sk-secret-key") && last.contains("[redacted]"),
        "{last}"
    );
    s.on_success(&cfg, t, Duration::from_millis(1), None);
    assert_eq!(
        s.state(clock::now_ms()),
        State::Healthy,
        "a success ends an auth cooldown"
    );
}
