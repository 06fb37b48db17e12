//! The idle-streams phase (`--only idle_streams`): memory per open, idle
//! stream, the "at most 16 KiB per idle open stream".
//!
//! The mock upstream (`--fault stall_after=1`) sends a stream's role event
//! and its first content event, then holds the stream open without
//! sending more; nginx cannot hold a response that way. For each of 1,000
//! and 10,000 streams (9,500 when the open-files limit cannot be raised
//! above 20,000), a fresh gateway (and, for comparison, a fresh lean
//! proxy) gets: 64 streams opened and closed (first-use allocations go
//! into the idle figure), the idle RSS, then N streams opened and held
//! until each has delivered its first event, the RSS with them open, and
//! the RSS once they are closed. Per stream = (open - idle) / N: the
//! client connection, the upstream connection and the request's state.

use std::cell::Cell;
use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::fixtures;
use crate::load::{MODEL, TOKEN};
use crate::procs::{Pinning, Proc};
use crate::report::Check;
use crate::setup::Paths;
use crate::sysstat::status_kib;

/// The target.
const MAX_KIB: f64 = 16.0;
/// Streams being opened at once (the rest wait): keeps the SYNs within
/// the listen backlog.
const OPENING: usize = 256;

/// One target holding N streams.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub target: &'static str,
    pub streams: usize,
    pub idle_kib: u64,
    pub open_kib: u64,
    pub after_kib: u64,
    pub per_stream_kib: f64,
    /// How long opening all N took.
    pub open_secs: f64,
}

/// The gateway's config: one model at the mock, more client connections
/// than the largest N, and an idle timeout longer than the phase.
fn gateway_config(mock: SocketAddr) -> String {
    crate::setup::gateway_config(mock)
        .replacen("[server]\n", "[server]\nmax_connections = 30000\n", 1)
        .replacen(
            "[providers.mock]",
            "[settings]\nidle_timeout = \"600s\"\n\n[providers.mock]",
            1,
        )
}

/// Opens one stream and holds it (and its connection) until aborted;
/// `opened` counts the ones that have delivered their first event.
async fn hold(addr: SocketAddr, opened: Rc<Cell<usize>>, opening: Rc<Semaphore>) -> Result<()> {
    let permit = opening.acquire().await.context("semaphore")?;
    let tcp = TcpStream::connect(addr).await.context("connect")?;
    tcp.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::task::spawn_local(conn);
    let req = Request::post("/v1/chat/completions")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Full::new(Bytes::from(fixtures::request(MODEL, true))))?;
    let resp = sender.send_request(req).await.context("send")?;
    if resp.status() != 200 {
        bail!("HTTP {} for an idle stream", resp.status());
    }
    let mut body = resp.into_body();
    loop {
        let frame = body
            .frame()
            .await
            .context("stream ended before its first event")??;
        if frame.data_ref().is_some_and(|d| d.starts_with(b"data:")) {
            break;
        }
    }
    drop(permit);
    opened.set(opened.get() + 1);
    std::future::pending::<()>().await;
    drop((sender, body));
    Ok(())
}

/// Opens `n` streams at `addr`, waits until all are open, reads `pid`'s
/// RSS, and closes them. Returns (RSS with them open, seconds to open).
fn open_held(addr: SocketAddr, n: usize, pid: u32) -> Result<(u64, f64)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let opened = Rc::new(Cell::new(0));
        let opening = Rc::new(Semaphore::new(OPENING));
        let mut tasks: Vec<_> = (0..n)
            .map(|_| tokio::task::spawn_local(hold(addr, opened.clone(), opening.clone())))
            .collect();
        let start = Instant::now();
        while opened.get() < n {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Some(i) = tasks.iter().position(|t| t.is_finished()) {
                let why = match tasks.swap_remove(i).await {
                    Ok(Err(e)) => format!("{e:#}"),
                    other => format!("{other:?}"),
                };
                bail!(
                    "{} of {n} streams open, then one failed: {why}",
                    opened.get()
                );
            }
            if start.elapsed() > Duration::from_secs(180) {
                bail!("{} of {n} streams open after 180 s", opened.get());
            }
        }
        let secs = start.elapsed().as_secs_f64();
        // Let the last streams' first events settle in the buffers.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = status_kib(pid, "VmRSS:").unwrap_or(0);
        for t in &tasks {
            t.abort();
        }
        Ok((rss, secs))
    })
}

/// The RSS of a target that must still be running.
fn rss(p: &mut Proc) -> Result<u64> {
    if !p.alive() {
        bail!(
            "a proxy died in the idle-streams phase; see {}",
            p.log.display()
        );
    }
    Ok(status_kib(p.pid, "VmRSS:").unwrap_or(0))
}

/// One fresh target holding `n` streams.
fn measure(start: &dyn Fn() -> Result<Proc>, target: &'static str, n: usize) -> Result<Row> {
    let mut p = start()?;
    open_held(p.addr, 64, p.pid).with_context(|| format!("{target}: warming up"))?;
    std::thread::sleep(Duration::from_secs(1));
    let idle = rss(&mut p)?;
    let (open, open_secs) =
        open_held(p.addr, n, p.pid).with_context(|| format!("{target}: {n} idle streams"))?;
    std::thread::sleep(Duration::from_secs(2));
    let after = rss(&mut p)?;
    let row = Row {
        target,
        streams: n,
        idle_kib: idle,
        open_kib: open,
        after_kib: after,
        per_stream_kib: open.saturating_sub(idle) as f64 / n as f64,
        open_secs,
    };
    println!(
        "  {:<8} {:>6} idle streams: {:>6.1} KiB each (RSS {:.1} MiB idle, {:.1} open, {:.1} after; opened in {:.1} s)",
        row.target,
        n,
        row.per_stream_kib,
        idle as f64 / 1024.0,
        open as f64 / 1024.0,
        after as f64 / 1024.0,
        open_secs
    );
    Ok(row)
}

/// The whole phase: the mock, then per N a fresh lean proxy and gateway.
pub fn run(paths: &Paths, gateway: &Path, pin: Pinning) -> Result<Vec<Row>> {
    let out = &paths.out_dir;
    println!("\nidle open streams (first event sent, then held):");
    let mock_args = ["--listen", "127.0.0.1:0", "--fault", "stall_after=1"].map(String::from);
    let mock = Proc::start(
        "mock",
        &paths.bin_dir.join("mock-upstream"),
        &mock_args,
        pin.load_cpu,
        out.join("mock-idle.log"),
    )?;
    let config = out.join("gateway-idle.toml");
    std::fs::write(&config, gateway_config(mock.addr))?;
    let lean_args = ["--listen", "127.0.0.1:0", "--upstream"]
        .map(String::from)
        .into_iter()
        .chain([mock.addr.to_string(), "--runtime".into(), "current".into()])
        .collect::<Vec<_>>();
    let gw_args = [
        "serve".to_string(),
        "--config".into(),
        config.display().to_string(),
    ];
    let lean = || {
        let exe = paths.bin_dir.join("bare-proxy");
        Proc::start(
            "lean",
            &exe,
            &lean_args,
            pin.proxy_cpu,
            out.join("lean-idle.log"),
        )
    };
    let gw = || {
        let log = out.join("gateway-idle.log");
        Proc::start("gateway", gateway, &gw_args, pin.proxy_cpu, log)
    };
    let mut rows = Vec::new();
    let (most, _) = super::scale::most_streams();
    if most < super::scale::MAX_CONNS {
        println!("  (open-files limit too low for 10,000 streams: {most} instead)");
    }
    for n in [1_000, most] {
        rows.push(measure(&lean, super::LEAN, n)?);
        rows.push(measure(&gw, "gateway", n)?);
    }
    drop(mock);
    Ok(rows)
}

/// The gateway at every N within the 16 KiB.
pub fn checks(rows: &[Row]) -> Vec<Check> {
    rows.iter()
        .filter(|r| r.target == "gateway")
        .map(|r| {
            let lean = rows
                .iter()
                .find(|l| l.target == super::LEAN && l.streams == r.streams)
                .map_or(String::new(), |l| {
                    format!(" (lean {:.1})", l.per_stream_kib)
                });
            Check {
                target: format!("{} idle streams: <= {MAX_KIB} KiB each", r.streams),
                measured: format!("{:.1} KiB{lean}", r.per_stream_kib),
                pass: r.per_stream_kib <= MAX_KIB,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn gateway_accepts_the_config() {
        let text = super::gateway_config("127.0.0.1:9".parse().unwrap());
        let c = switchyard::config::parse(&text, &|_| None).unwrap();
        assert_eq!(c.server.connections.max_connections, 30000);
    }
}
