//! Connecting to an upstream: TCP (with keepalive), through an HTTP proxy's
//! CONNECT tunnel when the environment names one, then TLS, all within the
//! provider's `connect_timeout`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Stream = MaybeHttpsStream<TokioIo<TcpStream>>;

/// Idle time before the first TCP keepalive probe, then between probes: a
/// connection a NAT or load balancer dropped while we wait for an answer
/// fails in about a minute instead of at `request_timeout`.
const KEEPALIVE: Duration = Duration::from_secs(15);
const KEEPALIVE_PROBES: u32 = 3;
/// Unacknowledged data older than this fails the connection (Linux).
const USER_TIMEOUT: Duration = Duration::from_secs(30);

/// The TCP connector every upstream pool uses.
pub fn tcp(connect: Duration) -> HttpConnector {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect));
    http.set_keepalive(Some(KEEPALIVE));
    http.set_keepalive_interval(Some(KEEPALIVE));
    http.set_keepalive_retries(Some(KEEPALIVE_PROBES));
    http.set_tcp_user_timeout(Some(USER_TIMEOUT));
    http.enforce_http(false);
    http
}

/// The connector under TLS: straight to the upstream, or, when `proxy`
/// intercepts its address, a CONNECT tunnel through the proxy (TLS then
/// runs end to end inside it; plain `http://` upstreams are tunnelled too).
#[derive(Clone)]
pub struct Dial {
    pub tcp: HttpConnector,
    pub proxy: Option<std::sync::Arc<Matcher>>,
}

impl tower_service::Service<Uri> for Dial {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let Some(via) = self.proxy.as_ref().and_then(|m| m.intercept(&dst)) else {
            let connecting = self.tcp.call(dst);
            return Box::pin(async move { connecting.await.map_err(Into::into) });
        };
        let proxy = via.uri().clone();
        let mut tunnel = Tunnel::new(proxy.clone(), self.tcp.clone());
        if let Some(auth) = via.basic_auth() {
            tunnel = tunnel.with_auth(auth.clone());
        }
        Box::pin(async move {
            if proxy.scheme_str() == Some("https") {
                return Err("the proxy is https://; only http:// proxies are supported".into());
            }
            let target = with_port(&dst)?;
            std::future::poll_fn(|cx| tunnel.poll_ready(cx)).await?;
            tunnel.call(target).await.map_err(|e| {
                let host = proxy.host().unwrap_or_default();
                format!("through the proxy at {host}: {}", super::error_chain(&e)).into()
            })
        })
    }
}

/// The tunnel defaults a missing port to 443; an `http://` upstream means 80.
fn with_port(dst: &Uri) -> Result<Uri, BoxError> {
    let host = dst.host().ok_or("upstream address has no host")?;
    let port = dst.port_u16().unwrap_or(match dst.scheme_str() {
        Some("http") => 80,
        _ => 443,
    });
    Ok(format!("https://{host}:{port}").parse()?)
}

/// The proxy the environment names (`HTTPS_PROXY`, `HTTP_PROXY`,
/// `ALL_PROXY`, `NO_PROXY`, as curl reads them), or none when no proxy
/// variable is set, so a gateway without one skips the lookup per connect.
pub fn env_proxy() -> Option<std::sync::Arc<Matcher>> {
    PROXY_VARIABLES
        .iter()
        .any(|n| std::env::var_os(n).is_some())
        .then(|| std::sync::Arc::new(Matcher::from_env()))
}

pub const PROXY_VARIABLES: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Bounds the whole connect, DNS, TCP and the TLS handshake, by one limit:
/// `HttpConnector`'s own timeout covers only the TCP connect, and a peer
/// that accepts and then stalls the handshake would hold an attempt until
/// its request timeout.
#[derive(Clone)]
pub struct Timed {
    pub inner: HttpsConnector<Dial>,
    pub limit: Duration,
}

impl tower_service::Service<Uri> for Timed {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            match tokio::time::timeout(limit, connecting).await {
                Ok(result) => result,
                Err(_) => Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connect (TCP and TLS) took longer than {limit:?}"),
                )) as BoxError),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::Request;
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper_util::client::proxy::matcher::Matcher;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::super::{read_all, SendError, UpstreamClient};

    /// An upstream that answers one request with "ok".
    async fn upstream() -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await.unwrap();
            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            sock.write_all(ok).await.unwrap();
            let _ = sock.read(&mut buf).await;
        });
        addr
    }

    /// A proxy that answers one CONNECT with `answer`, tunnels when it is a
    /// 200, and hands back the request head it read.
    async fn proxy(
        answer: &'static str,
    ) -> (std::net::SocketAddr, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut client, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                let mut byte = [0u8; 1];
                assert_eq!(client.read(&mut byte).await.unwrap(), 1);
                head.push(byte[0]);
            }
            let head = String::from_utf8(head).unwrap();
            client.write_all(answer.as_bytes()).await.unwrap();
            if answer.starts_with("HTTP/1.1 200") {
                let target = head.split_whitespace().nth(1).unwrap().to_string();
                let mut upstream = tokio::net::TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
            head
        });
        (addr, task)
    }

    fn client(proxy: Matcher) -> UpstreamClient {
        let limit = std::time::Duration::from_secs(2);
        UpstreamClient::with_proxy(limit, limit, Some(Arc::new(proxy))).unwrap()
    }

    fn get(addr: std::net::SocketAddr) -> Request<Full<Bytes>> {
        Request::get(format!("http://{addr}/v1/models"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    }

    #[tokio::test]
    async fn an_intercepted_upstream_is_reached_through_a_connect_tunnel() {
        let up = upstream().await;
        let (at, seen) = proxy("HTTP/1.1 200 Connection established\r\n\r\n").await;
        let client = client(Matcher::builder().all(format!("http://al:pw@{at}")).build());
        let resp = client.send(get(up)).await.unwrap();
        assert_eq!(read_all(resp.into_body(), 1024).await.unwrap(), "ok");
        drop(client);
        let head = tokio::time::timeout(std::time::Duration::from_secs(5), seen)
            .await
            .expect("the proxy was never used")
            .unwrap();
        assert!(
            head.starts_with(&format!("CONNECT {up} HTTP/1.1\r\n")),
            "{head}"
        );
        // base64("al:pw")
        assert!(
            head.contains("Proxy-Authorization: Basic YWw6cHc=\r\n"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn a_no_proxy_host_is_reached_directly() {
        let up = upstream().await;
        // Nothing listens on port 9: only a direct connect can succeed.
        let rules = Matcher::builder()
            .all("http://127.0.0.1:9")
            .no("127.0.0.1")
            .build();
        let resp = client(rules).send(get(up)).await.unwrap();
        assert_eq!(read_all(resp.into_body(), 1024).await.unwrap(), "ok");
    }

    #[tokio::test]
    async fn a_refused_tunnel_fails_naming_the_proxy_but_not_its_password() {
        let up = upstream().await;
        let (at, _seen) = proxy("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n").await;
        let client = client(
            Matcher::builder()
                .all(format!("http://al:secret@{at}"))
                .build(),
        );
        match client.send(get(up)).await {
            Err(e @ SendError::Failed(_)) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(&format!("through the proxy at {}", at.ip())),
                    "{msg}"
                );
                assert!(!msg.contains("secret"), "{msg}");
            }
            other => panic!("expected a failed connect, got {other:?}"),
        }
    }
}
