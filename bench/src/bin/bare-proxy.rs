//! `bare-proxy`: the least a proxy can do, as a baseline for the gateway.
//!
//! tokio + hyper, HTTP/1.1 keep-alive on both sides, TCP_NODELAY, a pooled
//! upstream client, and no parsing at all: the request and response bodies
//! stream through untouched. Whatever the gateway costs above this is the
//! price of its features, not of being a proxy.
//!
//! ```text
//! bare-proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9000
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;

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
use tokio::net::TcpListener;

type Upstream = Client<HttpConnector, Incoming>;
type Body = Either<Incoming, Empty<Bytes>>;

fn parse_args() -> Result<(String, Authority)> {
    let mut listen = "127.0.0.1:0".to_string();
    let mut upstream = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().context("every flag takes a value")?;
        match flag.as_str() {
            "--listen" => listen = value,
            "--upstream" => upstream = Some(value.parse::<Authority>()?),
            other => {
                bail!("unknown flag {other}; usage: bare-proxy --listen ADDR --upstream HOST:PORT")
            }
        }
    }
    Ok((
        listen,
        upstream.context("--upstream HOST:PORT is required")?,
    ))
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

async fn serve(listener: TcpListener, upstream: Authority) -> Result<()> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
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

fn main() -> Result<()> {
    let (listen, upstream) = parse_args()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(&listen).await?;
        let addr: SocketAddr = listener.local_addr()?;
        // The benchmark reads this line to learn the port.
        println!("listening on http://{addr}");
        serve(listener, upstream).await
    })
}
