//! Connecting to an upstream: TCP (with keepalive) then TLS, all within
//! the provider's `connect_timeout`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
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

/// Bounds the whole connect, DNS, TCP and the TLS handshake, by one limit:
/// `HttpConnector`'s own timeout covers only the TCP connect, and a peer
/// that accepts and then stalls the handshake would hold an attempt until
/// its request timeout.
#[derive(Clone)]
pub struct Timed {
    pub inner: HttpsConnector<HttpConnector>,
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
