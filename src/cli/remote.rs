//! `switchyard check`, `monitor` and `bench`: the seed's health-check tools,
//! built in. They talk to a running gateway like any client, pinning one
//! request per backend with the `backend` field.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use axum::http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Method, Request, StatusCode, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{json, Value};
use switchyard::upstream::{self, SendError, UpstreamClient};

/// The largest answer a check reads: a probe's answer is one token.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// Where the gateway is and who we are.
#[derive(clap::Args, Clone)]
pub struct Gateway {
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
    /// Seconds per request.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
}

/// A model behind the gateway, whose backends `check`, `monitor` and `bench` probe.
#[derive(clap::Args, Clone)]
pub struct Target {
    #[command(flatten)]
    pub gateway: Gateway,
    #[arg(long, default_value = "gpt-4o")]
    pub model: String,
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

/// How long an idle keep-alive connection to the gateway is kept (`bench`
/// reuses them between rounds).
const IDLE: Duration = Duration::from_secs(90);

/// Built on the gateway's upstream client, so the binary has one HTTP
/// client stack (TLS roots, proxy variables, pooling) to keep right.
pub struct Client {
    http: UpstreamClient,
    /// Over each whole request, from sending it to the end of its body.
    timeout: Duration,
    gateway: Gateway,
}

/// Why a request got no answer.
enum Failure {
    /// It could not be built (a bad URL or token): the whole message.
    Invalid(String),
    Timeout,
    Failed(String),
}

impl Client {
    pub fn new(gateway: Gateway) -> Result<Self> {
        let timeout = Duration::try_from_secs_f64(gateway.timeout)
            .map_err(|_| anyhow!("--timeout must be a finite, non-negative number of seconds"))?;
        let http = UpstreamClient::new(timeout, IDLE).map_err(anyhow::Error::msg)?;
        Ok(Client {
            http,
            timeout,
            gateway,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.url.trim_end_matches('/'))
    }

    /// Sends a request carrying the token; any HTTP status is an answer.
    /// The returned deadline bounds reading its body.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<String>,
    ) -> Result<(StatusCode, Incoming, Deadline), Failure> {
        let deadline = Deadline::after(self.timeout);
        let invalid = |e: &dyn std::fmt::Display| {
            Failure::Invalid(format!("builder error for url ({url}): {e}"))
        };
        // Checked first: without a scheme the parse fails as "invalid format".
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("http" | "https")) {
            return Err(invalid(&"URL scheme is not allowed"));
        }
        let uri: Uri = url.parse().map_err(|e| invalid(&e))?;
        let mut token = HeaderValue::try_from(format!("Bearer {}", self.gateway.token))
            .map_err(|e| Failure::Invalid(format!("builder error: {e}")))?;
        token.set_sensitive(true);
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(AUTHORIZATION, token);
        if body.is_some() {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(body.map(Bytes::from).unwrap_or_default()))
            .map_err(|e| invalid(&e))?;
        match deadline.bound(self.http.send(req)).await {
            None | Some(Err(SendError::ConnectTimeout)) => Err(Failure::Timeout),
            Some(Err(e)) => Err(Failure::Failed(e.to_string())),
            Some(Ok(resp)) => Ok((resp.status(), resp.into_body(), deadline)),
        }
    }

    /// `GET path` as JSON, with its status; an error when there is no
    /// answer. A body that is not JSON reads as `null`.
    pub async fn get_json(&self, path: &str) -> Result<(StatusCode, Value)> {
        let url = self.url(path);
        let (status, body, deadline) = self
            .send(Method::GET, &url, None)
            .await
            .map_err(|e| match e {
                Failure::Invalid(why) => anyhow!(why),
                Failure::Timeout => {
                    anyhow!("error sending request for url ({url}): operation timed out")
                }
                Failure::Failed(why) => anyhow!("error sending request for url ({url}): {why}"),
            })
            .with_context(|| format!("cannot reach {}", self.gateway.url))?;
        let bytes = match deadline.bound(upstream::read_all(body, MAX_ANSWER)).await {
            Some(Ok(bytes)) => bytes,
            Some(Err(why)) => bail!("reading the answer to GET {url}: {why}"),
            None => bail!("reading the answer to GET {url}: operation timed out"),
        };
        Ok((status, serde_json::from_slice(&bytes).unwrap_or_default()))
    }

    /// The backends this user may pin for `model`, from `GET /v1/models/{model}`.
    pub async fn backends(&self, model: &str) -> Result<Vec<String>> {
        let path = format!("/v1/models/{model}");
        let (status, body) = self.get_json(&path).await?;
        if !status.is_success() {
            bail!("GET {}: {}", self.url(&path), http_error(status, &body));
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
    pub async fn probe(&self, model: &str, backend: &str, streaming: bool) -> Probe {
        let started = Instant::now();
        let body = json!({"model": model, "messages": [{"role": "user", "content": "ping"}],
                          "backend": backend, "max_tokens": 1, "stream": streaming});
        let url = self.url("/v1/chat/completions");
        let sent = self.send(Method::POST, &url, Some(body.to_string())).await;
        let mut probe = Probe {
            backend: backend.to_string(),
            status: None,
            latency: Duration::ZERO,
            ttft: None,
            error: None,
        };
        match sent {
            Err(Failure::Timeout) => probe.error = Some("timeout".into()),
            Err(Failure::Invalid(_) | Failure::Failed(_)) => {
                probe.error = Some("connection error".into())
            }
            Ok((status, body, deadline)) => {
                probe.status = Some(status.as_u16());
                probe.error = if streaming && status.is_success() {
                    read_stream(body, deadline, started, &mut probe.ttft).await
                } else {
                    read_json(status, body, deadline).await
                };
            }
        }
        probe.latency = started.elapsed();
        probe
    }
}

/// The end of a request's time, if it has one that a clock can hold.
#[derive(Clone, Copy)]
struct Deadline(Option<tokio::time::Instant>);

impl Deadline {
    fn after(timeout: Duration) -> Self {
        Deadline(tokio::time::Instant::now().checked_add(timeout))
    }

    /// `fut`'s output, or `None` if the deadline passes first.
    async fn bound<F: Future>(self, fut: F) -> Option<F::Output> {
        match self.0 {
            Some(at) => tokio::time::timeout_at(at, fut).await.ok(),
            None => Some(fut.await),
        }
    }
}

async fn read_json(status: StatusCode, body: Incoming, deadline: Deadline) -> Option<String> {
    let body: Value = match deadline.bound(upstream::read_all(body, MAX_ANSWER)).await {
        Some(Ok(bytes)) => match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(_) => return Some(invalid_json(status)),
        },
        _ => return Some(invalid_json(status)),
    };
    if !status.is_success() {
        return Some(http_error(status, &body));
    }
    let content = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or("");
    let tools = body["choices"][0]["message"]["tool_calls"].is_array();
    (content.is_empty() && !tools).then(|| "no content".to_string())
}

/// `HTTP 403: user "bob" is not an admin`: a gateway's error answer.
pub fn http_error(status: StatusCode, body: &Value) -> String {
    format!(
        "HTTP {}: {}",
        status.as_u16(),
        body["error"]["message"].as_str().unwrap_or("")
    )
}

fn invalid_json(status: StatusCode) -> String {
    format!("HTTP {}: invalid JSON in response", status.as_u16())
}

/// Reads SSE until the first real content chunk (setting `ttft`), then drains to the end.
async fn read_stream(
    mut body: Incoming,
    deadline: Deadline,
    started: Instant,
    ttft: &mut Option<Duration>,
) -> Option<String> {
    let mut parser = switchyard::protocol::sse::SseParser::default();
    let broke = || Some("stream error: connection broke".to_string());
    loop {
        let frame = match deadline.bound(body.frame()).await {
            Some(None) => break,
            Some(Some(Ok(frame))) => frame,
            // Running out of time mid-stream reads as a broken connection,
            // as it did when reqwest enforced the timeout.
            Some(Some(Err(_))) | None => return broke(),
        };
        let Ok(chunk) = frame.into_data() else {
            continue;
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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A gateway that answers every request with `head` and then stalls.
    async fn stalling(head: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    sock.write_all(head.as_bytes()).await.unwrap();
                    std::future::pending::<()>().await;
                });
            }
        });
        format!("http://{addr}")
    }

    fn client(url: String) -> Client {
        Client::new(Gateway {
            url,
            token: "t".into(),
            timeout: 0.3,
        })
        .unwrap()
    }

    /// The timeout covers the body, not only the wait for the headers.
    #[tokio::test]
    async fn the_timeout_covers_a_stalled_body() {
        let url = stalling("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n").await;
        let client = client(url);
        let started = Instant::now();
        let streamed = client.probe("m", "b", true).await;
        let whole = client.probe("m", "b", false).await;
        assert_eq!(streamed.status, Some(200));
        assert_eq!(
            streamed.error.as_deref(),
            Some("stream error: connection broke")
        );
        assert_eq!(
            whole.error.as_deref(),
            Some("HTTP 200: invalid JSON in response")
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_gateway_that_never_answers_is_a_timeout() {
        let client = client(stalling("").await);
        let probe = client.probe("m", "b", false).await;
        assert_eq!(
            (probe.status, probe.error.as_deref()),
            (None, Some("timeout"))
        );
        let err = client.backends("m").await.unwrap_err();
        assert!(
            format!("{err:#}").ends_with("operation timed out"),
            "{err:#}"
        );
    }
}
