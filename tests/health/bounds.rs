//! What one party cannot take from everyone else: memory for a huge
//! upstream answer, connections held by slow clients.

use std::time::{Duration, Instant};

use mock_upstream::{Fault, MockConfig};
use serde_json::{json, Value};

use super::process::{on_any_port, Process};
use super::{ms, SECOND};
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

/// A raw client connection, for what a well-behaved HTTP client never does.
struct Raw(tokio::net::TcpStream);

impl Raw {
    async fn connect(url: &str) -> Raw {
        let addr = url.trim_start_matches("http://");
        Raw(tokio::net::TcpStream::connect(addr).await.unwrap())
    }

    async fn send(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.0.write_all(bytes).await.unwrap();
    }

    /// What the gateway sent until it closed the connection, and when it
    /// did; `None` if it was still open after `limit`.
    async fn until_closed(&mut self, limit: Duration) -> Option<(String, Duration)> {
        use tokio::io::AsyncReadExt;
        let start = Instant::now();
        let mut got = Vec::new();
        let read = async {
            let mut buf = [0u8; 4096];
            // A reset is a close too.
            while let Ok(n @ 1..) = self.0.read(&mut buf).await {
                got.extend_from_slice(&buf[..n]);
            }
        };
        tokio::time::timeout(limit, read).await.ok()?;
        Some((String::from_utf8_lossy(&got).into_owned(), start.elapsed()))
    }

    /// One response head, alone (an interim `100 Continue`).
    async fn head(&mut self) -> String {
        use tokio::io::AsyncReadExt;
        let mut got = Vec::new();
        while !got.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            let n = tokio::time::timeout(5 * SECOND, self.0.read(&mut byte))
                .await
                .expect("a head within 5 s")
                .unwrap();
            assert!(n > 0, "closed before a head");
            got.push(byte[0]);
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    /// One whole response to a request already sent (a `content-length` one).
    async fn response(&mut self) -> String {
        use tokio::io::AsyncReadExt;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|n| n.trim().parse::<usize>().ok());
                if len.is_some_and(|n| body.len() >= n) {
                    return text;
                }
            }
            let n = tokio::time::timeout(5 * SECOND, self.0.read(&mut buf))
                .await
                .expect("a response within 5 s")
                .unwrap();
            assert!(n > 0, "closed before a whole response: {text}");
            got.extend_from_slice(&buf[..n]);
        }
    }
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n";

/// A gateway in-process whose shutdown the test triggers.
struct Stoppable {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<()>,
}

impl Stoppable {
    async fn start(text: &str) -> Stoppable {
        let config = switchyard::config::parse(text, &|_| None).unwrap();
        let state = switchyard::state::AppState::new(config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let stop = async {
            let _ = rx.await;
        };
        let served = tokio::spawn(async move {
            let _ = switchyard::server::serve(listener, state, stop).await;
        });
        Stoppable {
            url,
            stop: Some(tx),
            served,
        }
    }

    async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// `[server]` lines on top of the usual one-backend config.
fn with_server(server: &str, mock: &mock_upstream::MockServer, settings: &str) -> String {
    let setup = Setup {
        settings,
        ..Setup::default()
    };
    format!("[server]\n{server}\n") + &config_text(&setup, &[("a", mock, "")])
}

const SHORT: &str =
    "header_timeout = \"300ms\"\nbody_timeout = \"300ms\"\nkeep_alive_timeout = \"300ms\"";

fn around_the_limit(took: Duration) -> bool {
    took >= ms(250) && took < 3 * SECOND
}

/// Half a request head, then a byte every 50 ms: closed once the head is
/// `header_timeout` late, however it trickles; and a connection that sends
/// nothing at all is closed as soon.
#[tokio::test]
async fn a_half_sent_head_is_closed_after_the_header_timeout() {
    let a = mock("a").await;
    let gw = Stoppable::start(&with_server(SHORT, &a, "")).await;
    let mut silent = Raw::connect(&gw.url).await;
    let mut slow = Raw::connect(&gw.url).await;
    slow.send(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
        .await;
    let start = Instant::now();
    let trickle = async {
        while start.elapsed() < 2 * SECOND {
            use tokio::io::AsyncWriteExt;
            if slow.0.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(ms(50)).await;
        }
        start.elapsed()
    };
    let closed_after = trickle.await;
    assert!(around_the_limit(closed_after), "{closed_after:?}");
    let (sent, took) = silent.until_closed(3 * SECOND).await.expect("closed");
    assert!(sent.is_empty() && took < 3 * SECOND, "{sent} {took:?}");
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(r#"switchyard_requests_total{model="_none",backend="_none",endpoint="_none",status_class="4xx",fault="client",pinned="false",stream="false",outcome="completed"} "#),
        "the late head has its log line and metrics (408): {metrics}"
    );
    assert_eq!(a.received(), 0);
}

/// A body that stops after `{`: a 408 in OpenAI's shape after
/// `body_timeout`, and the connection closes.
#[tokio::test]
async fn a_stalled_body_gets_a_408_after_the_body_timeout() {
    let a = mock("a").await;
    let gw = Stoppable::start(&with_server(SHORT, &a, "")).await;
    let mut client = Raw::connect(&gw.url).await;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {USER}\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{{"
    );
    client.send(head.as_bytes()).await;
    let (sent, took) = client.until_closed(5 * SECOND).await.expect("closed");
    assert!(around_the_limit(took), "{took:?}");
    assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
    let body: Value = serde_json::from_str(sent.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["error"]["code"], "request_timeout");
    assert_eq!(a.received(), 0);
}

/// Between requests a keep-alive connection may idle `keep_alive_timeout`,
/// no longer; a request within it keeps the connection.
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let a = mock("a").await;
    let gw = Stoppable::start(&with_server(SHORT, &a, "")).await;
    let mut client = Raw::connect(&gw.url).await;
    client.send(HEALTH).await;
    assert!(client.response().await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(ms(150)).await;
    client.send(HEALTH).await;
    assert!(
        client.response().await.starts_with("HTTP/1.1 200"),
        "still open within the timeout"
    );
    let (sent, took) = client.until_closed(5 * SECOND).await.expect("closed");
    assert!(sent.is_empty() && around_the_limit(took), "{sent} {took:?}");
}

/// At `max_connections` a new connection waits, unanswered, until one of
/// the open ones closes.
#[tokio::test]
async fn new_connections_wait_at_the_connection_limit() {
    let a = mock("a").await;
    let gw = Stoppable::start(&with_server("max_connections = 2", &a, "")).await;
    let mut first = Raw::connect(&gw.url).await;
    first.send(HEALTH).await;
    first.response().await;
    let mut second = Raw::connect(&gw.url).await;
    second.send(HEALTH).await;
    second.response().await;
    let mut third = Raw::connect(&gw.url).await;
    third.send(HEALTH).await;
    let waited = third.until_closed(ms(300)).await;
    assert!(
        waited.is_none(),
        "not served while two are open: {waited:?}"
    );
    drop(first);
    assert!(third.response().await.starts_with("HTTP/1.1 200"));
}

/// SIGTERM with a long grace: an idle connection, one with half a head and
/// one with half a body close at once (the last with a 503), and with no
/// request left the server stops without waiting out the grace.
#[tokio::test]
async fn shutdown_closes_idle_and_half_read_connections_at_once() {
    let a = mock("a").await;
    let mut gw = Stoppable::start(&with_server("", &a, "shutdown_grace = \"30s\"")).await;
    let mut idle = Raw::connect(&gw.url).await;
    idle.send(HEALTH).await;
    idle.response().await;
    let mut half_head = Raw::connect(&gw.url).await;
    half_head
        .send(b"POST /v1/chat/completions HTTP/1.1\r\nhost:")
        .await;
    let mut half_body = Raw::connect(&gw.url).await;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {USER}\r\ncontent-length: 500\r\nexpect: 100-continue\r\n\r\n"
    );
    half_body.send(head.as_bytes()).await;
    // Hyper says `100 Continue` once the pipeline reads the body: the
    // request is in flight.
    assert!(half_body.head().await.starts_with("HTTP/1.1 100"));
    half_body.send(b"{").await;
    gw.stop.take().unwrap().send(()).unwrap();
    let started = Instant::now();
    for (name, conn) in [("idle", &mut idle), ("half head", &mut half_head)] {
        let (sent, _) = conn.until_closed(5 * SECOND).await.expect(name);
        assert!(sent.is_empty(), "{name}: {sent}");
    }
    let (sent, _) = half_body.until_closed(5 * SECOND).await.expect("half body");
    assert!(sent.starts_with("HTTP/1.1 503"), "{sent}");
    assert!(sent.contains("shutting_down"), "{sent}");
    tokio::time::timeout(5 * SECOND, &mut gw.served)
        .await
        .expect("the server stopped without waiting out the grace")
        .unwrap();
    assert!(started.elapsed() < 5 * SECOND);
}

/// What hyper refuses to parse gets its status with an OpenAI error body, a
/// request id and a log line, not an empty body.
#[tokio::test]
async fn unparsable_requests_get_openai_errors() {
    let a = mock("a").await;
    let gw = Stoppable::start(&with_server("", &a, "")).await;
    let long_uri = format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(70_000));
    let big_header = format!(
        "GET /health HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(500_000)
    );
    let cases: [(&[u8], &str, &str); 4] = [
        (b"GARBAGE\r\n\r\n", "400", "invalid_http_request"),
        (
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            "400",
            "invalid_http_request",
        ),
        (long_uri.as_bytes(), "414", "uri_too_long"),
        (big_header.as_bytes(), "431", "headers_too_large"),
    ];
    for (request, status, code) in cases {
        let mut client = Raw::connect(&gw.url).await;
        // The gateway may answer (and close) before all of it is sent.
        let _ = tokio::io::AsyncWriteExt::write_all(&mut client.0, request).await;
        let (sent, _) = client.until_closed(5 * SECOND).await.expect("closed");
        assert!(sent.starts_with(&format!("HTTP/1.1 {status} ")), "{sent}");
        assert!(sent.contains("\r\nx-request-id: req_"), "{sent}");
        let body: Value = serde_json::from_str(sent.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(body["error"]["code"], code, "{sent}");
    }
    let metrics = gw.metrics().await;
    assert!(metrics.contains(r#"endpoint="_none",status_class="4xx",fault="client""#));
}

/// A megabyte of model name costs a short error and a short log line.
#[tokio::test]
async fn a_megabyte_model_name_is_echoed_in_a_few_bytes() {
    let a = mock("a").await;
    let mut gw = Process::start(&on_any_port(&config_text(
        &Setup::default(),
        &[("a", &a, "")],
    )));
    let huge = "m".repeat(1 << 20);
    let resp = reqwest::Client::new()
        .post(format!("http://{}/v1/chat/completions", gw.addr))
        .bearer_auth(USER)
        .json(&json!({"model": huge, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.text().await.unwrap().len() < 1024);
    gw.signal("-TERM");
    assert_eq!(gw.exit_code(10 * SECOND).await, Some(0));
    let lines = gw.request_lines();
    let line = lines
        .iter()
        .find(|l| l["status"] == 404)
        .unwrap_or_else(|| panic!("no line: {lines:?}"));
    assert!(
        line.to_string().len() < 2048,
        "{} bytes",
        line.to_string().len()
    );
    assert!(line["model"].as_str().unwrap().ends_with('…'), "{line}");
}

/// A client that sends a streaming request and then takes none of the
/// answer: closed once it has accepted nothing for `send_timeout`, its
/// request counted and the upstream stream closed, instead of holding both
/// connections for as long as it likes.
#[tokio::test]
async fn a_client_that_stops_reading_is_closed_after_the_send_timeout() {
    let long = mock_with(MockConfig {
        chunks: Some(60_000),
        ..MockConfig::new("long")
    })
    .await;
    let text = with_server("send_timeout = \"300ms\"", &long, "");
    let gw = Stoppable::start(&text).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let addr = gw.url.trim_start_matches("http://").parse().unwrap();
    let mut client = Raw(socket.connect(addr).await.unwrap());
    let body = r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {USER}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    client.send(head.as_bytes()).await;
    // Never reading: the stream cannot end (hyper takes its frames only as
    // the socket takes bytes), so the request is counted only when the
    // gateway gives up on this client.
    let counted = r#"switchyard_requests_total{model="m",backend="a",endpoint="chat_completions",status_class="2xx",fault="none",pinned="false",stream="true",outcome="client_disconnected"} 1"#;
    let start = Instant::now();
    while !gw.metrics().await.contains(counted) {
        assert!(
            start.elapsed() < 10 * SECOND,
            "never given up on: {}",
            gw.metrics().await
        );
        tokio::time::sleep(ms(50)).await;
    }
    let start = Instant::now();
    while long.streams_cancelled() == 0 {
        assert!(
            start.elapsed() < 5 * SECOND,
            "the upstream stream was left open"
        );
        tokio::time::sleep(ms(20)).await;
    }
    drop(client);
}
