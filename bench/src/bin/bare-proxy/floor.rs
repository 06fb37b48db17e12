//! `--work floor`: the least work any LLM gateway must do per request, on
//! the lean proxy. It is the measured floor under the gateway's cost: if
//! the floor alone is above a target's ratio to the lean proxy, the target
//! is out of reach whatever the gateway's own code does.
//!
//! Per request, each the cheapest way this crate knows:
//! - the bearer token found in a map of users (no hash of the token:
//!   cheaper than any gateway that keeps tokens hashed at rest);
//! - the request body read whole and parsed as JSON (it must be valid, its
//!   `model` and `stream` read), the model renamed to the upstream's by
//!   splicing the bytes;
//! - a whole answer read, parsed as JSON (a 200 with a broken body is a
//!   failure to fail over from) and its usage read; a stream's events
//!   split, the one that mentions `"usage"` parsed, the bytes passed on as
//!   they came (no event's JSON checked: lower than any relay that checks);
//! - one log line formatted into a thread-local buffer that is written to
//!   a file in 32 KiB blocks;
//! - one counter and one latency bucket, atomics.
//!
//! Left out, so the floor is lower than any real gateway: routing among
//! backends, health, limits, retries, timeouts, error translation.

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH};
use hyper::http::uri::{Authority, Scheme};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde::Deserialize;

/// The users and models the floor knows (the bench sends one of each).
pub struct Tables {
    users: HashMap<String, &'static str>,
    models: HashMap<String, &'static str>,
}

impl Tables {
    pub fn new(token: &str) -> Self {
        let users = HashMap::from([(format!("Bearer {token}"), "bench-user")]);
        let models = ["bench-model", "bench-stream"]
            .into_iter()
            .map(|m| (m.to_string(), "nginx-model"))
            .collect();
        Tables { users, models }
    }
}

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    model: &'a str,
    #[serde(default)]
    stream: bool,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Deserialize)]
struct Answer {
    usage: Option<Usage>,
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);
static BUCKETS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

/// What the floor knows of a request once it is admitted.
pub struct Admitted {
    user: &'static str,
    model: &'static str,
    stream: bool,
    start: Instant,
}

/// The floor's client: request bodies are sent whole.
pub type Upstream = Client<HttpConnector, Full<Bytes>>;

/// One request through the floor: admitted, sent, its answer checked.
pub async fn forward(
    client: Upstream,
    upstream: Authority,
    tables: &Tables,
    req: Request<Incoming>,
) -> Result<Response<FloorBody>, Infallible> {
    let (mut out, admitted) = match admit(tables, req).await {
        Ok(ok) => ok,
        Err(code) => return Ok(status(code)),
    };
    let mut uri = std::mem::take(out.uri_mut()).into_parts();
    uri.scheme = Some(Scheme::HTTP);
    uri.authority = Some(upstream);
    *out.uri_mut() = match Uri::from_parts(uri) {
        Ok(u) => u,
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    match client.request(out).await {
        Ok(resp) => Ok(answer(admitted, resp).await),
        Err(_) => Ok(status(StatusCode::BAD_GATEWAY)),
    }
}

/// The floor's answers: whole, relayed, or a bare status.
pub enum FloorBody {
    Whole(Full<Bytes>),
    Stream(Events),
    Empty,
}

impl http_body::Body for FloorBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            FloorBody::Whole(b) => Pin::new(b).poll_frame(cx).map_err(|e| match e {}),
            FloorBody::Stream(e) => Pin::new(e).poll_frame(cx),
            FloorBody::Empty => Poll::Ready(None),
        }
    }
}

fn status(code: StatusCode) -> Response<FloorBody> {
    let mut resp = Response::new(FloorBody::Empty);
    *resp.status_mut() = code;
    resp
}

/// Authenticates and reads the request, and gives the request to send
/// upstream; `Err` is the status to answer with.
async fn admit(
    t: &Tables,
    req: Request<Incoming>,
) -> Result<(Request<Full<Bytes>>, Admitted), StatusCode> {
    let start = Instant::now();
    let (mut parts, body) = req.into_parts();
    let token = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let user = *token
        .and_then(|token| t.users.get(token))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let body = body.collect().await.map_err(|_| StatusCode::BAD_REQUEST)?;
    let body = body.to_bytes();
    let peek: Peek = serde_json::from_slice(&body).map_err(|_| StatusCode::BAD_REQUEST)?;
    let model = *t.models.get(peek.model).ok_or(StatusCode::NOT_FOUND)?;
    let out = rename(&body, peek.model, model);
    parts.headers.remove(AUTHORIZATION);
    parts.headers.insert(CONTENT_LENGTH, out.len().into());
    let admitted = Admitted {
        user,
        model,
        stream: peek.stream,
        start,
    };
    Ok((Request::from_parts(parts, Full::new(out)), admitted))
}

/// The body with the model written as `to`. `from` is the model as the
/// parse borrowed it, a slice of `body`: where it stands is known, no
/// search needed.
fn rename(body: &[u8], from: &str, to: &str) -> Bytes {
    let at = from.as_ptr() as usize - body.as_ptr() as usize;
    let mut out = BytesMut::with_capacity(body.len() + to.len());
    out.extend_from_slice(&body[..at]);
    out.extend_from_slice(to.as_bytes());
    out.extend_from_slice(&body[at + from.len()..]);
    out.freeze()
}

/// The answer, read and checked whole, or relayed event by event.
async fn answer(a: Admitted, resp: Response<Incoming>) -> Response<FloorBody> {
    let (parts, body) = resp.into_parts();
    if a.stream {
        let events = Events {
            inner: body,
            partial: BytesMut::new(),
            usage: Usage::default(),
            admitted: Some(a),
        };
        return Response::from_parts(parts, FloorBody::Stream(events));
    }
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return status(StatusCode::BAD_GATEWAY);
    };
    let Ok(answer) = serde_json::from_slice::<Answer>(&body) else {
        return status(StatusCode::BAD_GATEWAY);
    };
    finish(&a, parts.status.as_u16(), &answer.usage.unwrap_or_default());
    Response::from_parts(parts, FloorBody::Whole(Full::new(body)))
}

/// A stream passed on as it comes, each complete event's JSON parsed.
pub struct Events {
    inner: Incoming,
    partial: BytesMut,
    usage: Usage,
    admitted: Option<Admitted>,
}

impl Events {
    fn scan(&mut self, chunk: &[u8]) {
        self.partial.extend_from_slice(chunk);
        while let Some(end) = memchr::memmem::find(&self.partial, b"\n\n") {
            let event = self.partial.split_to(end + 2);
            let Some(data) = event.strip_prefix(b"data: ") else {
                continue;
            };
            let data = &data[..data.len() - 2];
            // Only the event with the usage (the last) is parsed: its
            // position in the others cannot be known without parsing them,
            // but a substring check is a lower bound of any relay that
            // must find it.
            if memchr::memmem::find(data, b"\"usage\"").is_none() {
                continue;
            }
            if let Ok(Answer { usage: Some(u), .. }) = serde_json::from_slice::<Answer>(data) {
                self.usage = u;
            }
        }
    }
}

impl http_body::Body for Events {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let data = data.clone();
                    self.scan(&data);
                }
            }
            Poll::Ready(None) => {
                if let Some(a) = self.admitted.take() {
                    finish(&a, 200, &self.usage);
                }
            }
            _ => {}
        }
        polled
    }
}

thread_local! {
    static LOG: RefCell<String> = RefCell::new(String::with_capacity(LOG_BLOCK + 512));
}

const LOG_BLOCK: usize = 32 * 1024;

/// The request's log line and metrics.
fn finish(a: &Admitted, status: u16, usage: &Usage) {
    let micros = a.start.elapsed().as_micros() as u64;
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    let bucket = (64 - micros.leading_zeros() as usize).min(BUCKETS.len() - 1);
    BUCKETS[bucket].fetch_add(1, Ordering::Relaxed);
    LOG.with(|log| {
        let Ok(mut log) = log.try_borrow_mut() else { return };
        let _ = writeln!(
            log,
            "level=INFO user={} model={} status={status} stream={} prompt_tokens={} completion_tokens={} latency_us={micros}",
            a.user, a.model, a.stream, usage.prompt_tokens, usage.completion_tokens,
        );
        if log.len() >= LOG_BLOCK {
            let _ = std::io::stderr().write_all(log.as_bytes());
            log.clear();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_is_renamed_where_the_parse_found_it() {
        let body = br#"{"messages":[{"content":"bench-model"}],"model":"bench-model"}"#;
        let peek: Peek = serde_json::from_slice(body).unwrap();
        let out = rename(body, peek.model, "nginx-model");
        assert_eq!(
            &out[..],
            br#"{"messages":[{"content":"bench-model"}],"model":"nginx-model"}"#
        );
    }
}
