//! `bare-proxy`: the least a proxy can do, as a baseline for the gateway.
//!
//! tokio + hyper, HTTP/1.1 keep-alive on both sides, TCP_NODELAY, a pooled
//! upstream client, and no parsing at all: the request and response bodies
//! stream through untouched. Whatever the gateway costs above this is the
//! price of its features, not of being a proxy.
//!
//! `--runtime` picks how it runs:
//! - `multi` (default): one multi-threaded tokio runtime, as the gateway runs;
//! - `current`: one current-thread runtime, no work stealing, no cross-thread
//!   wake-ups: the lean baseline;
//! - `per-core`: one current-thread runtime per CPU this process may use
//!   (`--threads N` to choose), each with its own `SO_REUSEPORT` listener
//!   on the same port and its own upstream pool, as nginx runs one worker
//!   per core.
//!
//! `--work floor --token T` adds the least work an LLM gateway must do
//! per request (`floor.rs`): the lean proxy plus that work is the floor
//! under the gateway's cost.
//!
//! ```text
//! bare-proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9000 [--runtime multi|current|per-core] [--threads N] [--work floor --token T]
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{Either, Empty};
use hyper::body::Incoming;
use hyper::http::uri::{Authority, Scheme};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpSocket};

mod floor;

type Upstream = Client<HttpConnector, Incoming>;
type Body = Either<Incoming, Empty<Bytes>>;

const USAGE: &str = "usage: bare-proxy --listen ADDR --upstream HOST:PORT \
[--runtime multi|current|per-core] [--threads N] [--work floor --token T]";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Runtime {
    Multi,
    Current,
    PerCore,
}

struct Args {
    listen: SocketAddr,
    upstream: Authority,
    runtime: Runtime,
    /// Runtimes for `per-core`; default: the CPUs this process may run on.
    threads: Option<usize>,
    /// `--work floor`: the token the floor accepts.
    floor: Option<String>,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Args> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut upstream = None;
    let mut runtime = Runtime::Multi;
    let mut threads = None;
    let (mut work, mut token) = (false, None);
    let mut it = args;
    while let Some(flag) = it.next() {
        let value = it.next().context("every flag takes a value")?;
        match flag.as_str() {
            "--listen" => listen = value.parse().context("--listen ADDR:PORT")?,
            "--upstream" => upstream = Some(value.parse::<Authority>()?),
            "--runtime" => {
                runtime = match value.as_str() {
                    "multi" => Runtime::Multi,
                    "current" => Runtime::Current,
                    "per-core" => Runtime::PerCore,
                    other => bail!("unknown runtime {other}; {USAGE}"),
                }
            }
            "--threads" => threads = Some(value.parse().context("--threads N")?),
            "--work" if value == "floor" => work = true,
            "--work" if value == "none" => work = false,
            "--token" => token = Some(value),
            other => bail!("unknown flag {other}; {USAGE}"),
        }
    }
    if work && token.is_none() {
        bail!("--work floor needs --token; {USAGE}");
    }
    Ok(Args {
        listen,
        upstream: upstream.context("--upstream HOST:PORT is required")?,
        runtime,
        threads,
        floor: token.filter(|_| work),
    })
}

async fn forward(
    client: Upstream,
    upstream: Authority,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (mut parts, body) = req.into_parts();
    let mut uri = parts.uri.into_parts();
    uri.scheme = Some(Scheme::HTTP);
    uri.authority = Some(upstream);
    parts.uri = match Uri::from_parts(uri) {
        Ok(u) => u,
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    match client.request(Request::from_parts(parts, body)).await {
        Ok(resp) => Ok(resp.map(Either::Left)),
        Err(_) => Ok(status(StatusCode::BAD_GATEWAY)),
    }
}

fn status(code: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Either::Right(Empty::new()));
    *resp.status_mut() = code;
    resp
}

/// Accepts on `listener` forever; every connection is served on the
/// runtime this runs on (with `tokio::spawn`), through this runtime's pool.
async fn serve(listener: TcpListener, upstream: Authority, floor: Option<String>) -> Result<()> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    if let Some(token) = floor {
        return serve_floor(listener, upstream, connector, &token).await;
    }
    let client: Upstream = Client::builder(TokioExecutor::new()).build(connector);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let (client, upstream) = (client.clone(), upstream.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req| forward(client.clone(), upstream.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

/// As [`serve`], each request through [`floor::forward`].
async fn serve_floor(
    listener: TcpListener,
    upstream: Authority,
    connector: HttpConnector,
    token: &str,
) -> Result<()> {
    let client: floor::Upstream = Client::builder(TokioExecutor::new()).build(connector);
    let tables = Arc::new(floor::Tables::new(token));
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let (client, upstream, tables) = (client.clone(), upstream.clone(), tables.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let (client, upstream, tables) = (client.clone(), upstream.clone(), tables.clone());
                async move { floor::forward(client, upstream, &tables, req).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

/// A listening socket with `SO_REUSEPORT`, so several runtimes can each
/// accept on the same port (the kernel spreads connections among them).
/// Bound here; `listen` happens inside the runtime that owns it.
fn reuseport_socket(addr: SocketAddr) -> Result<TcpSocket> {
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    sock.set_reuseport(true)?;
    sock.bind(addr)?;
    Ok(sock)
}

fn current_thread() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// One current-thread runtime per thread, each accepting on its own
/// `SO_REUSEPORT` socket of the same port; the first one runs on this thread.
fn run_per_core(args: &Args, threads: usize) -> Result<()> {
    let first = reuseport_socket(args.listen)?;
    // Port 0 picks a port for the first socket; the others join it.
    let addr = first.local_addr()?;
    let mut sockets = vec![first];
    for _ in 1..threads {
        sockets.push(reuseport_socket(addr)?);
    }
    let mut sockets = sockets.into_iter();
    let mine = sockets.next().context("no socket")?;
    let mut handles = Vec::new();
    for sock in sockets {
        let (upstream, floor) = (args.upstream.clone(), args.floor.clone());
        handles.push(std::thread::spawn(move || -> Result<()> {
            // `listen` registers with the reactor: inside the runtime.
            current_thread()?
                .block_on(async move { serve(sock.listen(1024)?, upstream, floor).await })
        }));
    }
    let rt = current_thread()?;
    rt.block_on(async {
        let listener = mine.listen(1024)?;
        // The benchmark reads this line to learn the port.
        println!("listening on http://{addr}");
        serve(listener, args.upstream.clone(), args.floor.clone()).await
    })?;
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("a runtime thread panicked"))??;
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = parse_args(std::env::args().skip(1))?;
    let threads = match args.runtime {
        Runtime::Current => 1,
        Runtime::PerCore => args.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        }),
        Runtime::Multi => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            return rt.block_on(async {
                let listener = TcpListener::bind(args.listen).await?;
                let addr: SocketAddr = listener.local_addr()?;
                // The benchmark reads this line to learn the port.
                println!("listening on http://{addr}");
                serve(listener, args.upstream, args.floor).await
            });
        }
    };
    run_per_core(&args, threads.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args> {
        parse_args(args.iter().map(|s| (*s).to_string()))
    }

    #[test]
    fn parses_runtimes() {
        let a = parse(&[
            "--upstream",
            "127.0.0.1:9",
            "--runtime",
            "per-core",
            "--threads",
            "3",
        ])
        .unwrap();
        assert_eq!((a.runtime, a.threads), (Runtime::PerCore, Some(3)));
        let a = parse(&["--upstream", "127.0.0.1:9"]).unwrap();
        assert_eq!(a.runtime, Runtime::Multi);
        assert!(parse(&["--upstream", "127.0.0.1:9", "--runtime", "fast"]).is_err());
        assert!(parse(&["--listen", "127.0.0.1:0"]).is_err());
    }
}
