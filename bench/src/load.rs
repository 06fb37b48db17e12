//! The load generator: N keep-alive HTTP/1.1 connections (TCP_NODELAY), each
//! sending one request after another (closed loop) until the phase ends.
//! Requests that start during warmup are sent but not counted.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::sse_check::SeqCheck;

pub const TOKEN: &str = "bench-token";
pub const MODEL: &str = "bench-model";

/// One phase's load.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub conns: usize,
    pub stream: bool,
    /// Content chunks each stream must carry, in order.
    pub chunks: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What the connections saw, merged.
#[derive(Default, Debug)]
pub struct Outcome {
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Whole request (non-stream) or whole stream, in microseconds.
    pub latency_us: Vec<u32>,
    /// Streams: request sent to first content chunk, microseconds.
    pub ttft_us: Vec<u32>,
    /// Streams: mean gap between content chunks, nanoseconds.
    pub chunk_gap_ns: Vec<u32>,
    pub chunks: u64,
    pub lost: u64,
    pub reordered: u64,
    /// Measured time (after warmup).
    pub elapsed: Duration,
}

impl Outcome {
    fn merge(&mut self, o: Outcome) {
        self.requests += o.requests;
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        self.latency_us.extend(o.latency_us);
        self.ttft_us.extend(o.ttft_us);
        self.chunk_gap_ns.extend(o.chunk_gap_ns);
        self.chunks += o.chunks;
        self.lost += o.lost;
        self.reordered += o.reordered;
    }

    fn error(&mut self, counted: bool, e: impl std::fmt::Display) {
        if counted {
            self.errors += 1;
        }
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }
}

fn body(stream: bool) -> Bytes {
    let text = format!(
        r#"{{"model":"{MODEL}","messages":[{{"role":"user","content":"Say hello to the benchmark."}}],"stream":{stream},"max_tokens":512}}"#
    );
    Bytes::from(text)
}

/// Runs `spec` against `addr` and merges what every connection saw.
pub async fn run(addr: SocketAddr, spec: Spec) -> Outcome {
    let start = Instant::now();
    let counted_from = start + spec.warmup;
    let end = counted_from + spec.duration;
    let body = body(spec.stream);
    let tasks: Vec<_> = (0..spec.conns)
        .map(|_| tokio::spawn(connection(addr, spec, body.clone(), counted_from, end)))
        .collect();
    let mut total = Outcome::default();
    for t in tasks {
        match t.await {
            Ok(o) => total.merge(o),
            Err(e) => total.error(true, format!("load task failed: {e}")),
        }
    }
    total.elapsed = Instant::now().saturating_duration_since(counted_from);
    total
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>> {
    let tcp = TcpStream::connect(addr).await.context("connect")?;
    tcp.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// One keep-alive connection's closed loop; reconnects after an error.
async fn connection(
    addr: SocketAddr,
    spec: Spec,
    body: Bytes,
    counted_from: Instant,
    end: Instant,
) -> Outcome {
    let mut out = Outcome::default();
    let mut sender = None;
    while Instant::now() < end {
        let s = match sender.take() {
            Some(s) => s,
            None => match connect(addr).await {
                Ok(s) => s,
                Err(e) => {
                    out.error(Instant::now() >= counted_from, format!("{e:#}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let t0 = Instant::now();
        let counted = t0 >= counted_from;
        match one(s, &spec, body.clone()).await {
            Ok((s, seen)) => {
                sender = Some(s);
                if counted {
                    record(&mut out, &spec, t0, seen);
                }
            }
            Err(e) => out.error(counted, format!("{e:#}")),
        }
    }
    out
}

fn record(out: &mut Outcome, spec: &Spec, t0: Instant, seen: Option<SeqCheck>) {
    out.requests += 1;
    out.latency_us.push(micros(t0.elapsed()));
    let Some(seq) = seen else { return };
    out.chunks += seq.count;
    let (lost, reordered) = seq.verdict(spec.chunks);
    out.lost += lost;
    out.reordered += reordered;
    if let (Some(first), Some(last)) = (seq.first, seq.last) {
        out.ttft_us.push(micros(first - t0));
        let gaps = seq.count.saturating_sub(1).max(1) as u32;
        let gap = (last - first).as_nanos() / u128::from(gaps);
        out.chunk_gap_ns.push(gap.min(u128::from(u32::MAX)) as u32);
    }
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

/// One request on a ready connection; gives the connection back for reuse.
async fn one(
    mut sender: SendRequest<Full<Bytes>>,
    spec: &Spec,
    body: Bytes,
) -> Result<(SendRequest<Full<Bytes>>, Option<SeqCheck>)> {
    sender.ready().await.context("connection closed")?;
    let req = Request::post("/v1/chat/completions")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("authorization", const_format_bearer())
        .body(Full::new(body))?;
    let resp = sender.send_request(req).await.context("send")?;
    let status = resp.status();
    let mut body = resp.into_body();
    if status != StatusCode::OK {
        let text = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        anyhow::bail!("HTTP {status}: {}", String::from_utf8_lossy(&text));
    }
    if !spec.stream {
        body.collect().await.context("reading body")?;
        return Ok((sender, None));
    }
    let mut seq = SeqCheck::default();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.context("reading stream")?.into_data() {
            seq.feed(&data, Instant::now());
        }
    }
    Ok((sender, Some(seq)))
}

fn const_format_bearer() -> &'static str {
    // Kept in one place so the gateway config and the load agree on the token.
    concat!("Bearer ", "bench-token")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_matches_token() {
        assert_eq!(const_format_bearer(), format!("Bearer {TOKEN}"));
        let b = body(true);
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["stream"], true);
        assert_eq!(v["model"], MODEL);
    }
}
