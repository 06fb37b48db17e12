//! Shared test harness: a real gateway on a loopback port in front of real
//! mock upstreams, each on its own port 0.
#![allow(dead_code)]

use std::time::Duration;

use futures_util::StreamExt;
use mock_upstream::{Fault, MockConfig, MockServer};
use serde_json::{json, Value};
use switchyard::state::AppState;

pub const TOKEN: &str = "test-token";

/// A gateway serving on 127.0.0.1 with an OS-chosen port.
pub struct Gateway {
    pub url: String,
    pub state: AppState,
    task: tokio::task::JoinHandle<()>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Gateway {
    /// Shuts down gracefully, as on SIGTERM, and waits for the server
    /// (and the ledger's flush) to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = task.await;
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a gateway with `toml` (which must not set `server.listen`).
pub async fn gateway(toml: &str) -> Gateway {
    let config = switchyard::config::parse(toml, &|_| None)
        .unwrap_or_else(|e| panic!("bad test config:\n{e}\n{toml}"));
    let state = AppState::new(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = rx.await;
    };
    let task = tokio::spawn({
        let state = state.clone();
        async move {
            let _ = switchyard::server::serve(listener, state, shutdown).await;
        }
    });
    Gateway {
        url,
        state,
        task,
        shutdown: Some(tx),
    }
}

pub async fn mock(name: &str) -> MockServer {
    MockServer::start(MockConfig::new(name)).await.unwrap()
}

pub async fn mock_with(name: &str, fault: Fault) -> MockServer {
    MockServer::start(MockConfig::new(name).with_fault(fault))
        .await
        .unwrap()
}

/// `[providers.NAME]` pointing at `mock`, plus extra lines.
pub fn provider(name: &str, mock: &MockServer, extra: &str) -> String {
    format!(
        "[providers.{name}]\nbase_url = \"{}\"\napi_key = \"sk-{name}-secret\"\n{extra}\n",
        mock.url()
    )
}

/// A model entry `[[models.MODEL.backends]]` for provider `name`, plus extra lines.
pub fn backend(model: &str, name: &str, extra: &str) -> String {
    format!("[[models.{model}.backends]]\nprovider = \"{name}\"\nmodel = \"up-{name}\"\n{extra}\n")
}

/// The usual test user, allowed everything.
pub fn user() -> String {
    format!("[users.tester]\ntoken = \"{TOKEN}\"\n")
}

/// Config for model `m` served by the given mocks (in order), with settings lines.
pub fn config(strategy: &str, settings: &str, mocks: &[(&str, &MockServer)]) -> String {
    let mut t = format!("[settings]\n{settings}\n");
    for (name, mock) in mocks {
        t += &provider(name, mock, "");
    }
    t += &format!("[models.m]\nstrategy = \"{strategy}\"\n");
    for (name, _) in mocks {
        t += &backend("m", name, "");
    }
    t + &user()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub fn chat_body(extra: Value) -> Value {
    let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "Hello"}]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    body
}

/// POSTs a chat completion with the test token.
pub async fn chat(gw: &Gateway, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The value of one series (its name and labels, exactly) on `/metrics`;
/// 0 when it is not there yet.
pub async fn metric(gw: &Gateway, series: &str) -> f64 {
    let text = get(gw, "/metrics", None).await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().unwrap())
}

/// GETs `path`, with the given Bearer token if any.
pub async fn get(gw: &Gateway, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut rb = client().get(format!("{}{path}", gw.url));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    rb.send().await.unwrap()
}

pub fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The error object of an OpenAI-shaped error body (panics if not that shape).
pub async fn error_of(resp: reqwest::Response) -> Value {
    let body: Value = resp.json().await.unwrap();
    let err = body["error"].clone();
    assert!(
        err["message"].is_string()
            && err.get("type").is_some()
            && err.get("param").is_some()
            && err.get("code").is_some(),
        "not an OpenAI error body: {body}"
    );
    err
}

/// Reads a whole SSE response into its `data:` payloads.
pub async fn sse_events(resp: reqwest::Response) -> Vec<String> {
    let text = resp.text().await.unwrap();
    text.split("\n\n")
        .filter_map(|e| {
            e.lines()
                .find_map(|l| l.strip_prefix("data: "))
                .map(str::to_string)
        })
        .collect()
}

/// Concatenated `delta.content` of chat.completion.chunk events.
pub fn stream_text(events: &[String]) -> String {
    events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

/// Reads SSE payloads as they arrive, returning them with their arrival times.
pub async fn timed_events(resp: reqwest::Response) -> Vec<(std::time::Instant, String)> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                out.push((std::time::Instant::now(), data.to_string()));
            }
        }
    }
    out
}
