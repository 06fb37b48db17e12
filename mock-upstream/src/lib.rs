//! A mock LLM upstream for Switchyard's tests, demo and benchmarks.
//!
//! One server speaks every wire protocol the gateway does, chosen by path
//! (OpenAI and Azure chat completions, Responses, embeddings and text
//! completions, Anthropic messages and count_tokens, Gemini generateContent
//! and batchEmbedContents), and records what it receives. Each protocol
//! answers a user message mentioning the weather, when tools are offered,
//! with a call of the first tool (`{"city": "Paris"}`), one asking to
//! "list the files", when `Bash` is offered, with a `Bash` call
//! (`{"command": "ls"}`, what Claude Code's tool takes), and one asking to
//! "run `CMD`" with a call of Codex's shell tool, so tool round trips can
//! be tested (`script::tool_to_call`). Faults ([`Fault`]) are set per
//! server ([`MockServer::set_fault`]) or per request with the
//! `x-mock-fault` header.

mod anthropic;
mod anthropic_reply;
mod anthropic_rules;
mod completions;
mod embeddings;
mod example;
mod fault;
mod gemini;
mod openai;
mod reply;
mod responses;
mod script;
mod sse;

pub use embeddings::{embedding, DEFAULT_DIMENSIONS};
pub use fault::{parse_duration, Fault};
pub use script::Script;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How a mock behaves before any fault.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Shown in every reply, so a test can tell which mock answered.
    pub name: String,
    pub fault: Fault,
    /// Force replies of exactly this many content chunks (before `max_tokens`).
    pub chunks: Option<usize>,
    /// Ids served by `GET /v1/models`.
    pub models: Vec<String>,
    /// Keep a copy of every request (turn off for benchmarks).
    pub record: bool,
    /// Report this many of each prompt's tokens (at most all) as read
    /// from the provider's prompt cache, each protocol its own way.
    pub cached_tokens: u64,
}

impl MockConfig {
    pub fn new(name: &str) -> Self {
        MockConfig {
            name: name.to_string(),
            fault: Fault::default(),
            chunks: None,
            models: vec!["mock-model".to_string()],
            record: true,
            cached_tokens: 0,
        }
    }

    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }
}

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// The body's bytes as they arrived, where the handler keeps them (the
    /// Anthropic, Responses, embeddings and completions APIs, for
    /// byte-faithfulness tests); empty elsewhere.
    pub raw: bytes::Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) struct Shared {
    pub(crate) config: MockConfig,
    fault: Mutex<Fault>,
    /// Sent with every answer (e.g. rate-limit headers).
    reply_headers: Mutex<Vec<(String, String)>>,
    requests: Mutex<Vec<Recorded>>,
    received: AtomicU64,
    pub(crate) streams_open: AtomicI64,
    pub(crate) streams_cancelled: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// The server-wide fault, as set by config or `set_fault`.
    pub(crate) fn current_fault(&self) -> Fault {
        lock(&self.fault).clone()
    }

    /// Records the request and returns the fault that applies to it.
    pub(crate) fn admit(&self, path: String, headers: &HeaderMap, body: &Value) -> Fault {
        self.admit_raw(path, headers, bytes::Bytes::new(), body)
    }

    /// As [`admit`](Self::admit), keeping the body's bytes too.
    /// Requests received so far, this one included once admitted.
    pub(crate) fn received_count(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    pub(crate) fn admit_raw(
        &self,
        path: String,
        headers: &HeaderMap,
        raw: bytes::Bytes,
        body: &Value,
    ) -> Fault {
        let n = self.received.fetch_add(1, Ordering::SeqCst);
        if self.config.record {
            let headers = headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            lock(&self.requests).push(Recorded {
                path,
                headers,
                body: body.clone(),
                raw,
            });
        }
        let header = headers.get("x-mock-fault").and_then(|v| v.to_str().ok());
        let mut fault = match header.map(Fault::parse) {
            Some(Ok(f)) => f,
            _ => lock(&self.fault).clone(),
        };
        if fault.fail_first.is_some_and(|k| n >= u64::from(k)) {
            fault.status = None;
        }
        fault
    }
}

/// A running mock on a loopback port; stops when dropped.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl MockServer {
    /// Starts a mock on 127.0.0.1 with an OS-chosen port.
    pub async fn start(config: MockConfig) -> std::io::Result<MockServer> {
        Self::bind("127.0.0.1:0", config).await
    }

    pub async fn bind(addr: &str, config: MockConfig) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            fault: Mutex::new(config.fault.clone()),
            reply_headers: Mutex::new(Vec::new()),
            config,
            requests: Mutex::new(Vec::new()),
            received: AtomicU64::new(0),
            streams_open: AtomicI64::new(0),
            streams_cancelled: AtomicU64::new(0),
        });
        let app = router(shared.clone());
        // Without TCP_NODELAY each small stream chunk waits on the peer's
        // delayed ACK (~40 ms), which no real upstream does.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockServer { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a path.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the fault applied to requests without an `x-mock-fault` header.
    pub fn set_fault(&self, fault: Fault) {
        *lock(&self.shared.fault) = fault;
    }

    /// Headers to send with every answer from now on (replacing earlier ones).
    pub fn set_reply_headers(&self, headers: &[(&str, &str)]) {
        *lock(&self.shared.reply_headers) = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// Every request received, recorded or not.
    pub fn received(&self) -> u64 {
        self.shared.received.load(Ordering::SeqCst)
    }

    /// Streams whose client went away before the stream ended.
    pub fn streams_cancelled(&self) -> u64 {
        self.shared.streams_cancelled.load(Ordering::SeqCst)
    }

    /// Streams still being sent.
    pub fn streams_open(&self) -> i64 {
        self.shared.streams_open.load(Ordering::SeqCst)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the mock received (with `record` on), for tests in other processes.
async fn recorded(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
) -> axum::Json<Value> {
    let list: Vec<Value> = lock(&shared.requests)
        .iter()
        .map(|r| serde_json::json!({"path": r.path, "headers": r.headers, "body": r.body}))
        .collect();
    axum::Json(Value::Array(list))
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::chat))
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(openai::chat),
        )
        .route("/v1/responses", post(responses::responses))
        .route("/openai/v1/responses", post(responses::responses))
        .route("/v1/embeddings", post(embeddings::openai))
        .route(
            "/openai/deployments/{deployment}/embeddings",
            post(embeddings::openai),
        )
        .route("/v1/completions", post(completions::completions))
        .route(
            "/openai/deployments/{deployment}/completions",
            post(completions::completions),
        )
        .route("/v1/models", get(openai::models))
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/v1beta/models/{*rest}", post(gemini::models))
        .route("/v1beta/models", get(openai::models))
        .route("/openai/models", get(openai::models))
        .route("/mock/requests", get(recorded))
        .layer(axum::middleware::map_response_with_state(
            shared.clone(),
            with_reply_headers,
        ))
        .with_state(shared)
}

async fn with_reply_headers(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    mut resp: axum::response::Response,
) -> axum::response::Response {
    for (k, v) in lock(&shared.reply_headers).iter() {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::try_from(k.as_str()),
            axum::http::HeaderValue::try_from(v.as_str()),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}
