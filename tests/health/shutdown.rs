//! Graceful shutdown of the real binary.

use std::time::Instant;

use mock_upstream::{Fault, MockConfig};
use serde_json::json;

use super::process::{on_any_port, Process};
use super::{ms, SECOND};
use crate::common_health::*;

fn shutdown_config(mock: &mock_upstream::MockServer, grace: &str) -> String {
    let settings = format!("shutdown_grace = \"{grace}\"");
    let setup = Setup {
        settings: &settings,
        ..Setup::default()
    };
    on_any_port(&config_text(&setup, &[("a", mock, "")]))
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

/// A stream still open when the grace period ends is ended by the gateway
/// with an SSE error event (not cut mid-air), its upstream request is
/// closed, and its log line says the shutdown cut it.
#[tokio::test]
async fn the_grace_period_bounds_shutdown_and_cut_streams_end_with_an_error_event() {
    grace_period_cuts_the_stream(&[]).await;
}

/// The same on the current-thread runtime a process allowed one CPU gets
/// (`TOKIO_WORKER_THREADS=1` chooses it here): serving, the stream, the
/// shutdown's cut and the log line its one thread gathered.
#[tokio::test]
async fn on_a_current_thread_runtime_the_grace_period_cuts_streams_the_same_way() {
    grace_period_cuts_the_stream(&[("TOKIO_WORKER_THREADS", "1")]).await;
}

async fn grace_period_cuts_the_stream(env: &[(&str, &str)]) {
    let a = mock_with(MockConfig::new("a").with_fault(Fault {
        stall_after: Some(1),
        ..Fault::default()
    }))
    .await;
    let mut gw = Process::start_with(&shutdown_config(&a, "300ms"), env);
    let resp = start_stream(&gw.addr).await;
    let started = Instant::now();
    gw.signal("-INT");
    assert_eq!(gw.exit_code(10 * SECOND).await, Some(0));
    assert!(started.elapsed() < 5 * SECOND, "{:?}", started.elapsed());
    let text = resp.text().await.expect("the stream was ended, not cut");
    let sse = parse_sse(&text);
    assert!(!sse.done, "{text}");
    assert_eq!(sse.error.expect("an error event")["code"], "stream_broken");
    assert!(eventually(3 * SECOND, || async { a.streams_cancelled() == 1 }).await);
    let lines = gw.request_lines();
    let line = lines
        .iter()
        .find(|l| l["path"] == "/v1/chat/completions")
        .unwrap_or_else(|| panic!("no request line: {lines:?}"));
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["client_disconnected"], false, "{line}");
    assert_eq!(line["fault"], "internal", "{line}");
    assert!(
        line["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("stream cut by shutdown")),
        "{line}"
    );
}
