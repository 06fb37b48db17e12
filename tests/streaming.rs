//! Streaming over real HTTP: chunks relayed as they arrive, the commit rule
//! both ways, first-token and idle timeouts, usage handling.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use mock_upstream::Fault;
use serde_json::{json, Value};

fn stream_body() -> Value {
    chat_body(json!({"stream": true}))
}

#[tokio::test]
async fn relays_chunks_as_they_arrive() {
    let ms = Duration::from_millis;
    let slow = mock_with(
        "slow",
        Fault {
            chunk_delay: ms(150),
            ..Fault::default()
        },
    )
    .await;
    let gw = gateway(&config("failover", "", &[("slow", &slow)])).await;
    let resp = chat(&gw, stream_body()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    let events = timed_events(resp).await;
    let content: Vec<&(Instant, String)> = events
        .iter()
        .filter(|(_, e)| e.contains("\"content\":\"") && !e.contains("\"content\":\"\""))
        .collect();
    assert!(content.len() >= 5, "{events:?}");
    let spread = content.last().unwrap().0 - content[0].0;
    assert!(
        spread >= ms(150 * (content.len() as u64 - 2)),
        "chunks arrived together ({spread:?}): the stream was buffered"
    );
    assert_eq!(events.last().unwrap().1, "[DONE]");
}

#[tokio::test]
async fn failure_before_first_content_fails_over() {
    // Closes after the role chunk, before any content: not committed yet.
    let bad = mock_with(
        "bad",
        Fault {
            close_after: Some(0),
            ..Fault::default()
        },
    )
    .await;
    let good = mock("good").await;
    let gw = gateway(&config("failover", "", &[("bad", &bad), ("good", &good)])).await;
    let resp = chat(&gw, stream_body()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-switchyard-backend"), "good");
    assert_eq!(header(&resp, "x-switchyard-attempts"), "2");
    let events = sse_events(resp).await;
    assert!(
        stream_text(&events).starts_with("Hello from good."),
        "{events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| e.contains("\"role\"")).count(),
        1,
        "the failed attempt's role chunk was held back"
    );
    assert_eq!(events.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn first_token_timeout_fails_over() {
    let stalled = mock_with(
        "stalled",
        Fault {
            stall_after: Some(0),
            ..Fault::default()
        },
    )
    .await;
    let good = mock("good").await;
    let settings = "first_token_timeout = \"300ms\"";
    let gw = gateway(&config(
        "failover",
        settings,
        &[("stalled", &stalled), ("good", &good)],
    ))
    .await;
    let started = Instant::now();
    let resp = chat(&gw, stream_body()).await;
    assert_eq!(header(&resp, "x-switchyard-backend"), "good");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(stream_text(&sse_events(resp).await).starts_with("Hello from good."));
}

#[tokio::test]
async fn failure_after_commit_ends_with_an_error_event_and_no_done() {
    // The gap lets the mock flush both chunks before it resets the connection.
    let gap = Duration::from_millis(30);
    let cut = mock_with(
        "cut",
        Fault {
            close_after: Some(2),
            chunk_delay: gap,
            ..Fault::default()
        },
    )
    .await;
    let good = mock("good").await;
    let gw = gateway(&config("failover", "", &[("cut", &cut), ("good", &good)])).await;
    let resp = chat(&gw, stream_body()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-switchyard-backend"), "cut");
    let events = sse_events(resp).await;
    assert_eq!(
        stream_text(&events),
        "Hello from ",
        "two chunks, then the cut"
    );
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "stream_broken", "{events:?}");
    assert!(!events.iter().any(|e| e == "[DONE]"));
    assert_eq!(good.received(), 0, "no failover after commit");
}

#[tokio::test]
async fn idle_timeout_after_commit_ends_with_an_error_event() {
    let stall = mock_with(
        "stall",
        Fault {
            stall_after: Some(3),
            ..Fault::default()
        },
    )
    .await;
    let gw = gateway(&config(
        "failover",
        "idle_timeout = \"300ms\"",
        &[("stall", &stall)],
    ))
    .await;
    let started = Instant::now();
    let events = sse_events(chat(&gw, stream_body()).await).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("idle timeout"),
        "{last}"
    );
    assert!(!events.iter().any(|e| e == "[DONE]"));
}

#[tokio::test]
async fn malformed_data_before_commit_fails_over_and_after_commit_errors() {
    let early = mock_with(
        "early",
        Fault {
            malformed_after: Some(0),
            ..Fault::default()
        },
    )
    .await;
    let good = mock("good").await;
    let gw = gateway(&config(
        "failover",
        "",
        &[("early", &early), ("good", &good)],
    ))
    .await;
    let resp = chat(&gw, stream_body()).await;
    assert_eq!(header(&resp, "x-switchyard-backend"), "good");

    let late = mock_with(
        "late",
        Fault {
            malformed_after: Some(2),
            chunk_delay: Duration::from_millis(30),
            ..Fault::default()
        },
    )
    .await;
    let gw = gateway(&config("failover", "", &[("late", &late)])).await;
    let events = sse_events(chat(&gw, stream_body()).await).await;
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed"),
        "{last}"
    );
}

#[tokio::test]
async fn asks_upstream_for_usage_but_shows_it_only_when_asked() {
    let m = mock("m1").await;
    let gw = gateway(&config("failover", "", &[("m1", &m)])).await;
    let events = sse_events(chat(&gw, stream_body()).await).await;
    assert!(
        !events.iter().any(|e| e.contains("\"usage\"")),
        "unrequested usage chunk leaked: {events:?}"
    );
    let sent = &m.requests()[0].body;
    assert_eq!(sent["stream_options"]["include_usage"], true);

    let asked = chat_body(json!({"stream": true, "stream_options": {"include_usage": true}}));
    let events = sse_events(chat(&gw, asked).await).await;
    let usage: Vec<&String> = events.iter().filter(|e| e.contains("\"usage\"")).collect();
    assert_eq!(usage.len(), 1, "{events:?}");
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_stream() {
    let slow = mock_with(
        "slow",
        Fault {
            chunk_delay: Duration::from_millis(100),
            ..Fault::default()
        },
    )
    .await;
    let gw = gateway(&config("failover", "", &[("slow", &slow)])).await;
    let resp = chat(&gw, stream_body()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(slow.streams_open(), 1);
    drop(resp);
    let deadline = Instant::now() + Duration::from_secs(5);
    while slow.streams_cancelled() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        slow.streams_cancelled(),
        1,
        "the upstream saw the connection close"
    );
    let route = &gw.state.snapshot().models["m"];
    assert_eq!(route.slots[0].stats.inflight(), 0);
}

#[tokio::test]
async fn a_relay_that_never_sends_done_still_completes_cleanly() {
    let relay = mock_with(
        "relay",
        Fault {
            omit_done: true,
            ..Fault::default()
        },
    )
    .await;
    let gw = gateway(&config("failover", "", &[("relay", &relay)])).await;
    let events = sse_events(chat(&gw, stream_body()).await).await;
    assert!(stream_text(&events).starts_with("Hello from relay."));
    assert_eq!(events.last().unwrap(), "[DONE]", "{events:?}");
    assert!(
        !events.iter().any(|e| e.contains("\"error\"")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_stream_ends_at_done_even_if_the_upstream_keeps_its_response_open() {
    let holder = mock_with(
        "holder",
        Fault {
            hold_open: true,
            ..Fault::default()
        },
    )
    .await;
    // The idle timeout is far beyond the guard below: the relay must end
    // on its own after `[DONE]`, not when the upstream goes idle.
    let gw = gateway(&config(
        "failover",
        "idle_timeout = \"60s\"",
        &[("holder", &holder)],
    ))
    .await;
    let resp = chat(&gw, stream_body()).await;
    let events = tokio::time::timeout(Duration::from_secs(10), sse_events(resp))
        .await
        .expect("the stream ended after [DONE]");
    assert!(stream_text(&events).starts_with("Hello from holder."));
    assert_eq!(events.last().unwrap(), "[DONE]", "{events:?}");
    assert!(
        !events.iter().any(|e| e.contains("\"error\"")),
        "{events:?}"
    );
}
