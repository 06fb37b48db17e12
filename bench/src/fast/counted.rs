//! A fixed number of requests over N keep-alive connections, every body
//! checked: the load for instruction counts (`--callgrind`), where what
//! matters is how many requests the proxy served, not for how long.
//!
//! Connections take the next request from one shared count until `total`
//! have been sent, so exactly `total` requests reach the proxy whatever
//! its speed; each request carries the next token and body of the lists.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Connections opened and not yet answered at once. The kernel completes
/// a connection before the proxy accepts it, so thousands opened at one go
/// overflow the accept queue (1,024) of a proxy under valgrind, and the
/// ones left waiting too long are reset; a connection keeps its place
/// until its first response head arrives, when the proxy has accepted it.
const OPENING: usize = 256;

/// What to send, and what must come back.
#[derive(Clone, Debug)]
pub struct Counted {
    pub addr: SocketAddr,
    pub path: String,
    /// Cycled through, one step per request (`Bearer` is added).
    pub tokens: Vec<String>,
    pub bodies: Vec<Bytes>,
    pub expected: Bytes,
    pub conns: usize,
}

/// Responses that were not status 200 with exactly the expected body.
#[derive(Debug, Default)]
pub struct Tally {
    pub ok: u64,
    pub bad: u64,
    pub first_bad: Option<String>,
}

/// Sends exactly `total` requests and waits for every answer.
pub fn run(load: &Counted, total: u64) -> Result<Tally> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let next = Rc::new(Cell::new(0u64));
        let opening = Rc::new(Semaphore::new(OPENING));
        let tasks: Vec<_> = (0..load.conns.max(1))
            .map(|_| {
                let task = connection(load.clone(), next.clone(), opening.clone(), total);
                tokio::task::spawn_local(task)
            })
            .collect();
        let mut tally = Tally::default();
        for t in tasks {
            let part = t.await.context("load task")??;
            tally.ok += part.ok;
            tally.bad += part.bad;
            tally.first_bad = tally.first_bad.or(part.first_bad);
        }
        Ok(tally)
    })
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>> {
    let tcp = TcpStream::connect(addr).await.context("connect")?;
    tcp.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::task::spawn_local(conn);
    Ok(sender)
}

/// One connection's closed loop, while requests are left to send.
async fn connection(
    load: Counted,
    next: Rc<Cell<u64>>,
    opening: Rc<Semaphore>,
    total: u64,
) -> Result<Tally> {
    let mut permit = Some(opening.acquire().await.context("semaphore")?);
    let mut sender = connect(load.addr).await?;
    let mut tally = Tally::default();
    loop {
        let step = next.get();
        if step >= total {
            return Ok(tally);
        }
        next.set(step + 1);
        let i = step as usize;
        let token = &load.tokens[i % load.tokens.len()];
        let body = load.bodies[i % load.bodies.len()].clone();
        sender.ready().await.context("connection closed")?;
        let req = Request::post(load.path.as_str())
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(body))?;
        let resp = sender.send_request(req).await.context("send")?;
        drop(permit.take());
        let status = resp.status();
        let got = resp.into_body().collect().await.context("body")?.to_bytes();
        if status == 200 && got == load.expected {
            tally.ok += 1;
        } else {
            tally.bad += 1;
            if tally.first_bad.is_none() {
                let text = String::from_utf8_lossy(&got[..got.len().min(300)]).into_owned();
                tally.first_bad = Some(format!("HTTP {status} body: {text}"));
            }
        }
    }
}

/// Fails unless every answer was the expected one.
pub fn all_ok(t: &Tally, total: u64) -> Result<()> {
    if t.ok != total {
        bail!(
            "{} of {total} answers were wrong; first: {}",
            t.bad,
            t.first_bad.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}
