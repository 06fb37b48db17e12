//! `switchyard check`, `monitor` and `bench`: the seed's health-check tools,
//! built in. They talk to a running gateway like any client, pinning one
//! request per backend with the `backend` field.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// Where the gateway is and who we are.
#[derive(clap::Args, Clone)]
pub struct Target {
    #[arg(long, default_value = "http://localhost:3000")]
    pub url: String,
    /// Defaults to $SWITCHYARD_TOKEN, else the demo's `your-token`.
    #[arg(
        long,
        env = "SWITCHYARD_TOKEN",
        default_value = "your-token",
        hide_env_values = true
    )]
    pub token: String,
    #[arg(long, default_value = "gpt-4o")]
    pub model: String,
    /// Seconds per request.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
}

/// One pinned probe's result.
#[derive(Debug, Clone)]
pub struct Probe {
    pub backend: String,
    pub status: Option<u16>,
    pub latency: Duration,
    pub ttft: Option<Duration>,
    /// `None` when healthy.
    pub error: Option<String>,
}

impl Probe {
    pub fn healthy(&self) -> bool {
        self.error.is_none()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "backend": self.backend, "healthy": self.healthy(), "status": self.status,
            "latency_s": self.latency.as_secs_f64(), "ttft_s": self.ttft.map(|t| t.as_secs_f64()),
            "error": self.error,
        })
    }
}

pub struct Client {
    http: reqwest::Client,
    target: Target,
}

impl Client {
    pub fn new(target: Target) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(target.timeout))
            .build()?;
        Ok(Client { http, target })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The backends this user may pin for the model, from `GET /v1/models/{model}`.
    pub async fn backends(&self) -> Result<Vec<String>> {
        let url = format!(
            "{}/v1/models/{}",
            self.target.url.trim_end_matches('/'),
            self.target.model
        );
        let resp = self
            .http
            .get(&url)
            .bearer_auth(&self.target.token)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.target.url))?;
        let status = resp.status();
        let body: Value = serde_json::from_slice(&resp.bytes().await?).unwrap_or_default();
        if !status.is_success() {
            bail!(
                "GET {url}: HTTP {}: {}",
                status.as_u16(),
                body["error"]["message"].as_str().unwrap_or("")
            );
        }
        let list = body["backends"]
            .as_array()
            .context("the model object has no `backends` list")?;
        Ok(list
            .iter()
            .filter_map(|b| b.as_str().map(str::to_string))
            .collect())
    }

    /// One pinned `ping` with `max_tokens: 1`: healthy means HTTP 200 and real content.
    pub async fn probe(&self, backend: &str, streaming: bool) -> Probe {
        let started = Instant::now();
        let body = json!({"model": self.target.model, "messages": [{"role": "user", "content": "ping"}],
                          "backend": backend, "max_tokens": 1, "stream": streaming});
        let url = format!(
            "{}/v1/chat/completions",
            self.target.url.trim_end_matches('/')
        );
        let sent = self
            .http
            .post(url)
            .bearer_auth(&self.target.token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        let mut probe = Probe {
            backend: backend.to_string(),
            status: None,
            latency: Duration::ZERO,
            ttft: None,
            error: None,
        };
        match sent {
            Err(e) => {
                probe.error = Some(if e.is_timeout() {
                    "timeout".into()
                } else {
                    "connection error".into()
                })
            }
            Ok(resp) => {
                probe.status = Some(resp.status().as_u16());
                probe.error = if streaming {
                    read_stream(resp, started, &mut probe.ttft).await
                } else {
                    read_json(resp).await
                };
            }
        }
        probe.latency = started.elapsed();
        probe
    }
}

async fn read_json(resp: reqwest::Response) -> Option<String> {
    let status = resp.status();
    let body: Value = match resp.bytes().await.map(|b| serde_json::from_slice(&b)) {
        Ok(Ok(v)) => v,
        _ => {
            return Some(format!(
                "HTTP {}: invalid JSON in response",
                status.as_u16()
            ))
        }
    };
    if !status.is_success() {
        return Some(format!(
            "HTTP {}: {}",
            status.as_u16(),
            body["error"]["message"].as_str().unwrap_or("")
        ));
    }
    let content = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or("");
    let tools = body["choices"][0]["message"]["tool_calls"].is_array();
    (content.is_empty() && !tools).then(|| "no content".to_string())
}

/// Reads SSE until the first real content chunk (setting `ttft`), then drains to the end.
async fn read_stream(
    resp: reqwest::Response,
    started: Instant,
    ttft: &mut Option<Duration>,
) -> Option<String> {
    let status = resp.status();
    if !status.is_success() {
        return read_json(resp).await;
    }
    let mut parser = switchyard::protocol::sse::SseParser::default();
    let mut bytes = resp.bytes_stream();
    while let Some(chunk) = bytes.next().await {
        let Ok(chunk) = chunk else {
            return Some("stream error: connection broke".into());
        };
        if parser.push(&chunk).is_err() {
            return Some("stream error: oversized event".into());
        }
        while let Ok(Some(event)) = parser.next_event() {
            if event.data == "[DONE]" {
                return ttft.is_none().then(|| "no content".to_string());
            }
            let v: Value = serde_json::from_str(&event.data).unwrap_or_default();
            if let Some(e) = v.get("error") {
                return Some(format!(
                    "stream error: {}",
                    e["message"].as_str().unwrap_or("")
                ));
            }
            let delta = &v["choices"][0]["delta"];
            if ttft.is_none()
                && (delta["content"].as_str().is_some_and(|c| !c.is_empty())
                    || delta["tool_calls"].is_array())
            {
                *ttft = Some(started.elapsed());
            }
        }
    }
    Some("stream error: ended without [DONE]".into())
}
