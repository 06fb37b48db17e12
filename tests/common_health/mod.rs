//! Helpers for tests/health.rs: a gateway in-process over real HTTP, in
//! front of mock upstreams, with an admin and a plain user.

#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use mock_upstream::{MockConfig, MockServer};
use serde_json::{json, Value};
use switchyard::state::AppState;
use tokio::net::TcpListener;

pub const ADMIN: &str = "admin-token";
pub const USER: &str = "user-token";

/// The sections a test sets; everything else has test-friendly defaults
/// (no active probes, so only live traffic moves the circuits).
pub struct Setup<'a> {
    pub strategy: &'a str,
    pub settings: &'a str,
    pub health: &'a str,
    pub probe: &'a str,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            strategy: "round_robin",
            settings: "max_attempts = 2",
            health: "",
            probe: "kind = \"none\"",
        }
    }
}

/// A mock backend: its id (also its provider id), server, and extra backend lines.
pub type Upstream<'a> = (&'a str, &'a MockServer, &'a str);

pub fn config_text(setup: &Setup, upstreams: &[Upstream]) -> String {
    let urls: Vec<(&str, String, &str)> = upstreams
        .iter()
        .map(|(id, mock, extra)| (*id, mock.url(), *extra))
        .collect();
    config_text_urls(setup, &urls)
}

/// As [`config_text`], with upstreams given by URL (one may have no server).
pub fn config_text_urls(setup: &Setup, upstreams: &[(&str, String, &str)]) -> String {
    let mut t = format!(
        "[settings]\n{}\n\n[health]\n{}\n\n[health.probe]\n{}\n\n",
        setup.settings, setup.health, setup.probe
    );
    for (id, url, _) in upstreams {
        t += &format!("[providers.{id}]\nbase_url = \"{url}\"\napi_key = \"key-{id}\"\n\n");
    }
    t += &format!("[models.m]\nstrategy = \"{}\"\n", setup.strategy);
    for (id, _, extra) in upstreams {
        t += &format!(
            "[[models.m.backends]]\nprovider = \"{id}\"\nmodel = \"mock-model\"\n{extra}\n"
        );
    }
    t += &format!("\n[users.admin]\ntoken = \"{ADMIN}\"\nadmin = true\n");
    t += &format!("\n[users.user]\ntoken = \"{USER}\"\n");
    t
}

pub async fn mock(name: &str) -> MockServer {
    MockServer::start(MockConfig::new(name)).await.unwrap()
}

pub async fn mock_with(config: MockConfig) -> MockServer {
    MockServer::start(config).await.unwrap()
}

pub struct Gateway {
    pub url: String,
    pub state: AppState,
    pub http: reqwest::Client,
}

impl Gateway {
    pub async fn start(setup: &Setup<'_>, upstreams: &[Upstream<'_>]) -> Gateway {
        Self::from_text(&config_text(setup, upstreams)).await
    }

    pub async fn from_text(text: &str) -> Gateway {
        let config = switchyard::config::parse(text, &|_| None).unwrap();
        let state = AppState::new(config).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(switchyard::server::serve(
            listener,
            state.clone(),
            std::future::pending(),
        ));
        Gateway {
            url,
            state,
            http: reqwest::Client::new(),
        }
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A chat completion for model `m`; `extra` fields are merged in.
    pub async fn chat(&self, extra: Value) -> reqwest::Response {
        let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.post("/v1/chat/completions", USER, body).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut rb = self.http.get(format!("{}{path}", self.url));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb.send().await.unwrap()
    }

    /// `/admin/backends` as the admin.
    pub async fn backends(&self) -> Vec<Value> {
        let resp = self.get("/admin/backends", Some(ADMIN)).await;
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        v["data"].as_array().unwrap().clone()
    }

    /// One backend's entry in model `m`.
    pub async fn backend(&self, id: &str) -> Value {
        self.backends()
            .await
            .into_iter()
            .find(|b| b["model"] == "m" && b["backend"] == id)
            .unwrap_or_else(|| panic!("no backend {id}"))
    }

    pub async fn state_of(&self, id: &str) -> String {
        self.backend(id).await["state"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// Lets `d` pass on the gateway's clock at once (cooldowns, probe
/// intervals), instead of sleeping it out. The clock is paused only for the
/// jump: on a paused runtime waiting on a socket, Tokio jumps to the next
/// timer, so request timeouts would fire during real HTTP. Call it with no
/// request or probe in flight, or that one sees `d` pass too.
pub async fn skip(d: Duration) {
    // Tasks spawned just before (probes after an install) arm their timers
    // first, so the jump reaches them.
    tokio::task::yield_now().await;
    tokio::time::pause();
    tokio::time::advance(d).await;
    tokio::time::resume();
}

/// Polls `check` every 10 ms until it holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The content of an SSE body: text deltas joined, and whether it ended with
/// `[DONE]` or carried an error event.
pub struct Sse {
    pub text: String,
    pub chunks: usize,
    pub done: bool,
    pub error: Option<Value>,
}

pub fn parse_sse(body: &str) -> Sse {
    let mut sse = Sse {
        text: String::new(),
        chunks: 0,
        done: false,
        error: None,
    };
    for data in body.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if data == "[DONE]" {
            sse.done = true;
            continue;
        }
        let v: Value = serde_json::from_str(data).unwrap();
        if v.get("error").is_some() {
            sse.error = Some(v["error"].clone());
        } else if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
            if !t.is_empty() {
                sse.chunks += 1;
                sse.text += t;
            }
        }
    }
    sse
}
