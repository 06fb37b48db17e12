//! The pooled HTTP client every upstream call goes through (attempts and
//! active probes), also used by the CLI's `check`, `monitor` and `bench`:
//! hyper's keep-alive pool over rustls, HTTP/1.1, `TCP_NODELAY` and TCP
//! keepalive, one timeout over the whole connect (TCP and TLS), and no
//! redirects, which would carry the provider's key headers
//! to another host. An egress proxy named by `HTTPS_PROXY` and friends is
//! used through CONNECT tunnels (`connect::Dial`, docs/operations.md). It
//! is hyper-util's client used directly rather
//! than through reqwest: on the request path reqwest's layers (URL parsing,
//! redirect and retry policy, a boxed body) cost more than the proxying.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST, USER_AGENT};
use axum::http::{Method, Request, Response, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::Provider;

mod connect;

pub use connect::PROXY_VARIABLES;

/// Idle connections kept per upstream host.
const MAX_IDLE_PER_HOST: usize = 1024;
/// Error bodies are read for the client and the logs; more is not useful.
const MAX_ERROR_BODY: usize = 1 << 20;

/// Why a request did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A URL or header the protocol built is not valid HTTP.
    #[error("invalid upstream request: {0}")]
    Invalid(Box<dyn std::error::Error + Send + Sync>),
    #[error("connect timed out")]
    ConnectTimeout,
    /// hyper's own message is often only "client error (Connect)": the
    /// message carries the causes below it.
    #[error("{}", error_chain(.0))]
    Failed(#[source] hyper_util::client::legacy::Error),
}

/// Where the pool of each provider is found, by provider id.
pub trait Pools: Sync {
    fn pool(&self, provider: &str) -> Option<&UpstreamClient>;
}

/// One provider's pool (the connect timeout is per provider).
#[derive(Clone)]
pub struct UpstreamClient {
    inner: Client<connect::Timed, Full<Bytes>>,
    targets: Arc<Mutex<Vec<Target>>>,
}

/// A URL this pool was sent to, parsed, and its `Host` header: a
/// provider's requests go to a few URLs, and parsing one costs ~1k
/// instructions a request.
struct Target {
    url: String,
    uri: Uri,
    host: Option<HeaderValue>,
}

/// URLs kept per pool; more are parsed per request.
const MAX_TARGETS: usize = 8;

impl UpstreamClient {
    /// A pool connecting within `connect` and closing connections idle for
    /// `idle`, through the proxy the environment names, if any.
    pub fn new(connect: Duration, idle: Duration) -> Result<Self, String> {
        Self::with_proxy(connect, idle, connect::env_proxy())
    }

    /// As [`new`](Self::new), with the proxy rules given.
    pub fn with_proxy(
        connect: Duration,
        idle: Duration,
        proxy: Option<Arc<Matcher>>,
    ) -> Result<Self, String> {
        let dial = connect::Dial {
            tcp: connect::tcp(connect),
            proxy,
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config()?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(dial);
        let https = connect::Timed {
            inner: https,
            limit: connect,
        };
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(idle)
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .pool_timer(TokioTimer::new())
            .build(https);
        Ok(UpstreamClient {
            inner,
            targets: Arc::default(),
        })
    }

    /// `url` parsed, and its `Host` header, from the ones kept if it is one.
    fn target(&self, url: String) -> Result<(Uri, Option<HeaderValue>), SendError> {
        let mut targets = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = targets.iter().find(|t| t.url == url) {
            return Ok((t.uri.clone(), t.host.clone()));
        }
        let uri = Uri::try_from(url.as_str()).map_err(|e| SendError::Invalid(Box::new(e)))?;
        let host = host(&uri);
        if targets.len() < MAX_TARGETS {
            let (uri, host) = (uri.clone(), host.clone());
            targets.push(Target { url, uri, host });
        }
        Ok((uri, host))
    }

    /// An upstream request: the protocol's own headers, then the provider's
    /// configured ones. Header values holding keys are marked sensitive.
    pub fn request(
        &self,
        method: Method,
        url: String,
        headers: Vec<(&'static str, String)>,
        provider: &Provider,
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>, SendError> {
        let (uri, host) = self.target(url)?;
        request(method, uri, host, headers, provider, body)
    }

    /// Sends `req`; any HTTP status is an answer.
    pub async fn send(&self, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, SendError> {
        self.inner.request(req).await.map_err(|e| {
            if is_timeout(&e) {
                SendError::ConnectTimeout
            } else {
                SendError::Failed(e)
            }
        })
    }
}

fn request(
    method: Method,
    uri: Uri,
    host: Option<HeaderValue>,
    headers: Vec<(&'static str, String)>,
    provider: &Provider,
    body: Bytes,
) -> Result<Request<Full<Bytes>>, SendError> {
    fn invalid(e: impl std::error::Error + Send + Sync + 'static) -> SendError {
        SendError::Invalid(Box::new(e))
    }
    let json = !body.is_empty();
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = method;
    let map = req.headers_mut();
    map.insert(USER_AGENT, HeaderValue::from_static(AGENT));
    if json {
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    for (name, value) in headers {
        let mut value = HeaderValue::try_from(value).map_err(invalid)?;
        value.set_sensitive(true);
        map.append(HeaderName::from_static(name), value);
    }
    for (name, value) in &provider.headers {
        let name = HeaderName::try_from(name.as_str()).map_err(invalid)?;
        let mut value = HeaderValue::try_from(value.expose()).map_err(invalid)?;
        value.set_sensitive(true);
        map.insert(name, value);
    }
    // Last and only when none is set, as the client would add it.
    if let Some(host) = host.filter(|_| !map.contains_key(HOST)) {
        map.insert(HOST, host);
    }
    *req.uri_mut() = uri;
    Ok(req)
}

const AGENT: &str = concat!("switchyard/", env!("CARGO_PKG_VERSION"));

/// The `Host` header hyper-util's client would add (the host, and the
/// port unless it is the scheme's default), made here from the parsed URI:
/// the client's own clones the URI and formats a new string per request.
/// `None` (the client adds it) for an authority with user info.
fn host(uri: &Uri) -> Option<HeaderValue> {
    let authority = uri.authority()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let secure = matches!(uri.scheme_str(), Some("https" | "wss"));
    let host = match (authority.port_u16(), secure) {
        (Some(443), true) | (Some(80), false) => authority.host(),
        _ => authority.as_str(),
    };
    HeaderValue::from_str(host).ok()
}

/// Why the whole body of an answer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("upstream connection failed: {}", error_chain(.0))]
    Transport(#[source] hyper::Error),
    /// Reading stopped at the limit: a huge answer must not take the
    /// gateway's memory with it.
    #[error("answer larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
}

/// The whole body of an answer, at most `limit` bytes.
pub async fn read_all(body: Incoming, limit: usize) -> Result<Bytes, ReadError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => match e.downcast::<hyper::Error>() {
            Ok(e) => Err(ReadError::Transport(*e)),
            Err(_) => Err(ReadError::TooLarge { limit }),
        },
    }
}

/// The body of an error answer, at most 1 MiB; empty if it cannot be read.
pub async fn read_error_body(body: Incoming) -> Bytes {
    match Limited::new(body, MAX_ERROR_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    }
}

/// An error and its sources, joined: hyper's own message is often only
/// "client error (Connect)", and the cause is further down.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}

fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        current = err.source();
    }
    false
}

/// The TLS setup every pool shares: made once, then cloned, which shares
/// its root store and verifier (both behind `Arc`s). Made per provider it
/// cost each provider its own copy of the roots, ~40 KiB of a gateway's
/// idle memory per provider.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    static SHARED: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    SHARED.get_or_init(new_tls_config).clone()
}

fn new_tls_config() -> Result<rustls::ClientConfig, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Like hyper-util's `ConnectError`: a message over an io::Error cause.
    #[derive(Debug)]
    struct Wrapped(std::io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("tcp connect error")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn chain_names_the_cause_and_finds_a_timeout() {
        let timed_out = Wrapped(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "timed out",
        ));
        assert!(is_timeout(&timed_out));
        assert_eq!(error_chain(&timed_out), "tcp connect error: timed out");
        let refused = Wrapped(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        ));
        assert!(!is_timeout(&refused));
    }

    /// As hyper-util's client: the host, and the port unless the scheme's.
    #[test]
    fn the_host_header_is_the_clients() {
        let cases = [
            ("http://127.0.0.1:8080/v1", Some("127.0.0.1:8080")),
            ("https://api.example.com/v1", Some("api.example.com")),
            ("https://api.example.com:443/v1", Some("api.example.com")),
            ("http://api.example.com:80/v1", Some("api.example.com")),
            ("http://api.example.com:443/v1", Some("api.example.com:443")),
            ("https://[::1]:8443/v1", Some("[::1]:8443")),
            ("http://user:pass@api.example.com/v1", None),
        ];
        for (url, want) in cases {
            let got = host(&url.parse().unwrap());
            assert_eq!(got.as_ref().map(|v| v.to_str().unwrap()), want, "{url}");
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_failure_with_its_cause() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let client = UpstreamClient::new(Duration::from_secs(2), Duration::from_secs(30)).unwrap();
        let req = Request::get(format!("http://{addr}/v1/models"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        match client.send(req).await {
            Err(e @ SendError::Failed(_)) => {
                let msg = e.to_string();
                assert!(msg.contains("refused"), "{msg}")
            }
            other => panic!("expected a connect failure, got {other:?}"),
        }
    }

    /// An https URL really speaks TLS: a plain-HTTP server fails the handshake.
    #[tokio::test]
    async fn https_urls_go_through_tls() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let (mut sock, _) = listener.accept().await.unwrap();
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await;
        });
        let client = UpstreamClient::new(Duration::from_secs(2), Duration::from_secs(30)).unwrap();
        let req = Request::get(format!("https://{addr}/v1/models"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        match client.send(req).await {
            // rustls: "received corrupt message of type InvalidContentType"
            Err(e @ SendError::Failed(_)) => {
                let msg = e.to_string();
                assert!(msg.contains("corrupt message"), "{msg}")
            }
            other => panic!("expected a TLS failure, got {other:?}"),
        }
    }

    /// An idle pooled connection is closed after the pool's idle timeout
    /// (at most twice it: the pool checks once per period).
    #[tokio::test]
    async fn idle_connections_are_closed_after_the_pool_idle_timeout() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await.unwrap();
            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            sock.write_all(ok).await.unwrap();
            let started = std::time::Instant::now();
            // The client closing the idle connection reads as end of file.
            while sock.read(&mut buf).await.unwrap() > 0 {}
            started.elapsed()
        });
        let idle = Duration::from_millis(200);
        let client = UpstreamClient::new(Duration::from_secs(2), idle).unwrap();
        let req = Request::get(format!("http://{addr}/"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = client.send(req).await.unwrap();
        assert_eq!(read_all(resp.into_body(), 2).await.unwrap(), "ok");
        let open_for = tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the idle connection was never closed")
            .unwrap();
        assert!(open_for >= idle && open_for < idle * 3, "{open_for:?}");
    }

    /// A peer that accepts TCP and then stalls the TLS handshake runs into
    /// the connect timeout, not the request's.
    #[tokio::test]
    async fn the_connect_timeout_covers_the_tls_handshake() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _server = tokio::spawn(async move {
            let (_sock, _) = listener.accept().await.unwrap();
            std::future::pending::<()>().await;
        });
        let client =
            UpstreamClient::new(Duration::from_millis(300), Duration::from_secs(30)).unwrap();
        let req = Request::get(format!("https://{addr}/v1/models"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(5), client.send(req)).await;
        assert!(
            matches!(result, Ok(Err(SendError::ConnectTimeout))),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
