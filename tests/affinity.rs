//! Conversation affinity over real HTTP: a session sticks to one backend,
//! sessions spread, a failing sticky backend moves its session once, a pin
//! wins, Anthropic Messages requests stick like chat ones, and two gateways
//! sharing a real `redis-server` agree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod common_redis;

use std::collections::HashMap;

use common::*;
use common_redis::Redis;
use mock_upstream::{Fault, MockServer};
use serde_json::json;

/// Two equal-weight backends `a` and `b` of model `m`, weighted at random.
fn two(a: &MockServer, b: &MockServer, extra: &str) -> String {
    config("weighted_random", "", &[("a", a), ("b", b)])
        .replace("[models.m]\n", &format!("[models.m]\n{extra}\n"))
}

async fn served_by(gw: &Gateway, session: &str) -> String {
    let resp = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(TOKEN)
        .header("x-switchyard-session", session)
        .json(&chat_body(json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    header(&resp, "x-switchyard-backend").to_string()
}

#[tokio::test]
async fn one_session_sticks_and_many_sessions_spread() {
    let (a, b) = (mock("a").await, mock("b").await);
    let gw = gateway(&two(&a, &b, "")).await;
    let first = served_by(&gw, "conv-1").await;
    for _ in 0..49 {
        assert_eq!(served_by(&gw, "conv-1").await, first);
    }
    let mut by_backend: HashMap<String, usize> = HashMap::new();
    for s in 0..50 {
        let session = format!("s-{s}");
        let backend = served_by(&gw, &session).await;
        assert_eq!(served_by(&gw, &session).await, backend, "{session} sticks");
        *by_backend.entry(backend).or_default() += 1;
    }
    assert_eq!(
        by_backend.len(),
        2,
        "sessions spread over both: {by_backend:?}"
    );
    let hits = metric(&gw, "switchyard_affinity_total{model=\"m\",result=\"hit\"}").await;
    let new = metric(&gw, "switchyard_affinity_total{model=\"m\",result=\"new\"}").await;
    assert_eq!((hits, new), (99.0, 51.0));
}

#[tokio::test]
async fn a_failing_sticky_backend_moves_its_session_once() {
    let (a, b) = (mock("a").await, mock("b").await);
    let gw = gateway(&two(&a, &b, "")).await;
    let first = served_by(&gw, "conv").await;
    let (sticky, other) = if first == "a" { (&a, "b") } else { (&b, "a") };
    sticky.set_fault(Fault::status(500));
    for _ in 0..5 {
        assert_eq!(served_by(&gw, "conv").await, other);
    }
    let moved = metric(
        &gw,
        "switchyard_affinity_total{model=\"m\",result=\"moved\"}",
    )
    .await;
    assert_eq!(moved, 1.0, "moved once, then it sticks to the new backend");
    sticky.set_fault(Fault::default());
    assert_eq!(
        served_by(&gw, "conv").await,
        other,
        "it stays where it moved"
    );
}

#[tokio::test]
async fn a_pin_wins_over_affinity_and_off_turns_it_off() {
    let (a, b) = (mock("a").await, mock("b").await);
    let gw = gateway(&two(&a, &b, "")).await;
    let first = served_by(&gw, "conv").await;
    let other = if first == "a" { "b" } else { "a" };
    let pinned = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(TOKEN)
        .header("x-switchyard-session", "conv")
        .json(&chat_body(json!({"backend": other})))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&pinned, "x-switchyard-backend"), other);
    assert_eq!(
        served_by(&gw, "conv").await,
        first,
        "the pin did not move it"
    );

    let gw = gateway(&two(&a, &b, "affinity = \"off\"")).await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..40 {
        seen.insert(served_by(&gw, "conv").await);
    }
    assert_eq!(seen.len(), 2, "without affinity one session spreads");
}

#[tokio::test]
async fn the_request_names_its_conversation_in_the_body_too() {
    let (a, b) = (mock("a").await, mock("b").await);
    let gw = gateway(&two(&a, &b, "affinity = \"prefix\"")).await;
    let ask = |extra: serde_json::Value| {
        let gw = &gw;
        async move {
            let resp = chat(gw, chat_body(extra)).await;
            assert_eq!(resp.status(), 200);
            header(&resp, "x-switchyard-backend").to_string()
        }
    };
    let by_key = ask(json!({"prompt_cache_key": "pk-1"})).await;
    let by_user = ask(json!({"user": "alice"})).await;
    for _ in 0..10 {
        assert_eq!(ask(json!({"prompt_cache_key": "pk-1"})).await, by_key);
        assert_eq!(ask(json!({"user": "alice"})).await, by_user);
    }
    // Prefix mode: the same system prompt and first message, later turns added.
    let turn = |n: usize| {
        let mut messages = vec![
            json!({"role": "system", "content": "You are terse."}),
            json!({"role": "user", "content": "Plan a trip."}),
        ];
        for i in 0..n {
            messages.push(json!({"role": "assistant", "content": format!("a{i}")}));
            messages.push(json!({"role": "user", "content": format!("u{i}")}));
        }
        json!({"messages": messages})
    };
    let first = ask(turn(0)).await;
    for n in 1..10 {
        assert_eq!(ask(turn(n)).await, first, "turn {n} of one conversation");
    }
}

/// Which backend served an Anthropic Messages request (as Claude Code
/// sends it: `x-api-key`, `anthropic-version`).
async fn messages_served_by(gw: &Gateway, body: serde_json::Value) -> String {
    let resp = client()
        .post(format!("{}/v1/messages", gw.url))
        .header("x-api-key", TOKEN)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    header(&resp, "x-switchyard-backend").to_string()
}

#[tokio::test]
async fn anthropic_messages_stick_by_metadata_user_id_and_by_prefix() {
    let (a, b) = (mock("a").await, mock("b").await);
    let gw = gateway(&two(&a, &b, "")).await;
    // Claude Code names its session in `metadata.user_id`.
    let ask = |session: &str| {
        json!({"model": "m", "max_tokens": 50, "metadata": {"user_id": session},
               "messages": [{"role": "user", "content": "Hello"}]})
    };
    let mut by_backend: HashMap<String, usize> = HashMap::new();
    for s in 0..20 {
        let session = format!("user_x_account_y_session_{s}");
        let first = messages_served_by(&gw, ask(&session)).await;
        for _ in 0..4 {
            let again = messages_served_by(&gw, ask(&session)).await;
            assert_eq!(again, first, "{session} sticks");
        }
        *by_backend.entry(first).or_default() += 1;
    }
    assert_eq!(by_backend.len(), 2, "sessions spread: {by_backend:?}");
    let hits = metric(&gw, "switchyard_affinity_total{model=\"m\",result=\"hit\"}").await;
    assert_eq!(hits, 80.0);

    // Prefix mode: Anthropic's `system` blocks and first turn, later turns added.
    let gw = gateway(&two(&a, &b, "affinity = \"prefix\"")).await;
    let turn = |n: usize| {
        let mut messages =
            vec![json!({"role": "user", "content": [{"type": "text", "text": "Plan a trip."}]})];
        for i in 0..n {
            messages.push(json!({"role": "assistant", "content": [{"type": "text", "text": format!("a{i}")}]}));
            messages.push(json!({"role": "user", "content": format!("u{i}")}));
        }
        json!({"model": "m", "max_tokens": 50, "messages": messages,
               "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]})
    };
    let first = messages_served_by(&gw, turn(0)).await;
    for n in 1..10 {
        let later = messages_served_by(&gw, turn(n)).await;
        assert_eq!(later, first, "turn {n} of one conversation");
    }
}

/// Whether Redis holds `key` (a raw RESP `EXISTS`).
fn redis_has(redis: &Redis, key: &str) -> bool {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    let cmd = format!("*2\r\n$6\r\nEXISTS\r\n${}\r\n{key}\r\n", key.len());
    s.write_all(cmd.as_bytes()).unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).unwrap();
    &buf == b":1\r\n"
}

#[tokio::test]
async fn two_gateways_sharing_redis_send_a_conversation_to_one_backend() {
    let redis = Redis::start();
    let (a, b) = (mock("a").await, mock("b").await);
    let shared = format!("[state]\nbackend = \"redis\"\nurl = \"{}\"\n", redis.url());
    let text = shared + &two(&a, &b, "");
    let (one, two) = (gateway(&text).await, gateway(&text).await);
    for s in 0..12 {
        let session = format!("shared-{s}");
        let here = served_by(&one, &session).await;
        // The write to Redis goes beside the request: wait for it, bounded.
        let key = switchyard::routing::Key::new("m", "session", session.as_bytes());
        let name = format!("switchyard:aff:{:016x}", key.0);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !redis_has(&redis, &name) {
            assert!(std::time::Instant::now() < deadline, "{name} never written");
            tokio::task::yield_now().await;
        }
        assert_eq!(
            served_by(&two, &session).await,
            here,
            "{session}: both agree"
        );
    }
}

#[tokio::test]
async fn the_cached_share_of_input_tokens_shows_per_backend() {
    let cached = |name| mock_upstream::MockConfig {
        cached_tokens: 1,
        ..mock_upstream::MockConfig::new(name)
    };
    let a = MockServer::start(cached("a")).await.unwrap();
    let b = MockServer::start(cached("b")).await.unwrap();
    let gw = gateway(&two(&a, &b, "")).await;
    let sticky = served_by(&gw, "conv").await;
    for _ in 0..4 {
        assert_eq!(served_by(&gw, "conv").await, sticky);
    }
    let series = |kind: &str, backend: &str| {
        format!("switchyard_tokens_total{{model=\"m\",backend=\"{backend}\",kind=\"{kind}\"}}")
    };
    let other = if sticky == "a" { "b" } else { "a" };
    let cached = metric(&gw, &series("cached_input", &sticky)).await;
    let input = metric(&gw, &series("input", &sticky)).await;
    assert_eq!(cached, 5.0, "one cached token per request, all at {sticky}");
    assert!(input >= cached, "cached input is part of input: {input}");
    assert_eq!(metric(&gw, &series("cached_input", other)).await, 0.0);
}
