//! Streaming attempts. An attempt reads upstream events until the first one
//! with content, holding back what came before; only then is the request
//! committed to that backend, so a failure before it still fails over. After
//! the commit, a failure ends the stream with an SSE error event, never `[DONE]`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;

use http_body_util::{BodyDataStream, BodyExt};
use hyper::body::Incoming;

use super::attempt::{self, AttemptError, TimeoutKind};
use super::sse::SseParser;
use crate::config::{Backend, Config, Model};
use crate::health::{BackendStats, Failure, InflightGuard, Target};
use crate::providers::{self, ChatRequest, EventInfo, StreamTranslator, Usage};
use crate::server::error::error_body;
use crate::telemetry::RequestRecord;
use crate::upstream::{self, UpstreamClient};

type Upstream = BodyDataStream<Incoming>;

/// A stream that produced its first content: the request is now committed.
pub struct Committed {
    upstream: Upstream,
    parser: SseParser,
    translator: Box<dyn StreamTranslator>,
    /// Translated bytes not yet sent to the client.
    pending: Vec<u8>,
    usage: Option<Usage>,
    done: bool,
    /// Time from sending the request to the first content.
    pub ttft: Duration,
}

/// Sends a streaming attempt and waits, within `limit`, for its first content.
pub async fn open(
    client: &UpstreamClient,
    backend: &Backend,
    req: &ChatRequest,
    limit: (Duration, TimeoutKind),
) -> Result<Committed, AttemptError> {
    let up = attempt::build(backend, req)?;
    let started = Instant::now();
    let work = async {
        let resp = attempt::send(client, backend, up).await?;
        let mut c = Committed {
            upstream: resp.into_body().into_data_stream(),
            parser: SseParser::default(),
            translator: providers::stream_translator(backend, req),
            pending: Vec::new(),
            usage: None,
            done: false,
            ttft: Duration::ZERO,
        };
        loop {
            let Some(chunk) = c.upstream.next().await else {
                return Err(AttemptError::StreamBroken(
                    "upstream closed the stream before any content".into(),
                ));
            };
            let chunk = chunk.map_err(|e| AttemptError::StreamBroken(upstream::error_chain(&e)))?;
            let info = c
                .feed(&chunk)
                .map_err(|e| AttemptError::StreamBroken(backend.provider.scrub(&e)))?;
            if info.content || c.done {
                c.ttft = started.elapsed();
                return Ok(c);
            }
        }
    };
    match tokio::time::timeout(limit.0, work).await {
        Ok(result) => result,
        Err(_) => Err(AttemptError::Timeout {
            kind: limit.1,
            after: started.elapsed(),
        }),
    }
}

impl Committed {
    /// Parses and translates one upstream chunk into `pending`; the returned
    /// info says whether any event in it had content.
    fn feed(&mut self, chunk: &[u8]) -> Result<EventInfo, String> {
        self.parser.push(chunk).map_err(|e| e.to_string())?;
        // What goes out is about what came in; sized once, `pending` (taken
        // empty after every send) is not regrown several times per read.
        self.pending.reserve(chunk.len() + 64);
        let mut seen = EventInfo::default();
        while let Some(event) = self.parser.next_event().map_err(|e| e.to_string())? {
            if self.done {
                continue;
            }
            let info = self
                .translator
                .event(&event, &mut self.pending)
                .map_err(|e| e.to_string())?;
            seen.content |= info.content;
            if info.usage.is_some() {
                self.usage = info.usage;
            }
            self.done |= info.done;
        }
        Ok(seen)
    }
}

/// Everything the response body needs after the commit.
pub struct Relay {
    pub stream: Committed,
    pub idle_timeout: Duration,
    pub record: Arc<RequestRecord>,
    pub stats: Arc<BackendStats>,
    /// What a failure after the commit is recorded against.
    pub config: Arc<Config>,
    pub model: Arc<Model>,
    pub index: usize,
    /// Held until the stream ends or the client goes away.
    pub _inflight: InflightGuard,
}

struct State {
    relay: Relay,
    finished: bool,
    /// The idle timer, moved forward at each chunk: extending a tokio timer
    /// is an atomic store, where a new `timeout` per chunk registered and
    /// cancelled a timer-wheel entry each time.
    idle: Pin<Box<tokio::time::Sleep>>,
}

/// The client's response body: held-back events first, then the rest as it comes.
pub fn body(relay: Relay) -> Body {
    let idle = Box::pin(tokio::time::sleep(relay.idle_timeout));
    let state = State {
        relay,
        finished: false,
        idle,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        let bytes = st.next_bytes().await?;
        Some((Ok::<_, std::convert::Infallible>(bytes), st))
    });
    Body::from_stream(stream)
}

impl State {
    async fn next_bytes(&mut self) -> Option<Bytes> {
        let c = &mut self.relay.stream;
        if !c.pending.is_empty() {
            return Some(Bytes::from(std::mem::take(&mut c.pending)));
        }
        if self.finished {
            return None;
        }
        loop {
            let c = &mut self.relay.stream;
            let deadline = tokio::time::Instant::now() + self.relay.idle_timeout;
            self.idle.as_mut().reset(deadline);
            let next = tokio::select! {
                biased;
                item = c.upstream.next() => Ok(item),
                () = self.idle.as_mut() => Err(()),
            };
            let result = match next {
                Err(_) => Err(format!(
                    "no data from upstream for {:?} (idle timeout)",
                    self.relay.idle_timeout
                )),
                Ok(None) if c.done => return self.end(None),
                Ok(None) if c.translator.closed(&mut c.pending) => {
                    let rest = Bytes::from(std::mem::take(&mut c.pending));
                    self.end(None);
                    return Some(rest);
                }
                Ok(None) => Err("upstream closed the stream before it was complete".to_string()),
                Ok(Some(Err(e))) => Err(format!(
                    "upstream connection failed: {}",
                    upstream::error_chain(&e)
                )),
                Ok(Some(Ok(chunk))) => c.feed(&chunk).map(|_| ()),
            };
            if let Err(reason) = result {
                return self.end(Some(reason));
            }
            let c = &mut self.relay.stream;
            if !c.pending.is_empty() {
                return Some(Bytes::from(std::mem::take(&mut c.pending)));
            }
            // Complete: stop here rather than wait on an upstream that keeps
            // the connection open after its last event.
            if c.done {
                return self.end(None);
            }
        }
    }

    /// Ends the stream: cleanly, or with an error event and no `[DONE]`.
    fn end(&mut self, failure: Option<String>) -> Option<Bytes> {
        self.finished = true;
        let provider = &self.relay.model.backends[self.relay.index].provider;
        let failure = failure.map(|f| provider.scrub(&f));
        let usage = self.relay.stream.usage;
        self.relay.record.update(|f| {
            f.usage = usage.or(f.usage);
            if let Some(reason) = &failure {
                f.error = Some(format!("stream broken after commit: {reason}"));
                if let Some(last) = f.attempts.last_mut() {
                    last.outcome = "stream_broken";
                }
            }
        });
        let r = &mut self.relay;
        let backend = &r.model.backends[r.index];
        let reason = failure?;
        let target = Target {
            model: &r.model.name,
            backend,
        };
        let detail = format!("stream broken after commit: {reason}");
        r.stats
            .on_failure(&r.config.health, target, Failure::StreamBroken, &detail);
        let event = error_body(&reason, "server_error", None, Some("stream_broken"));
        // Events translated before the failure go first, then the error.
        let mut out = std::mem::take(&mut r.stream.pending);
        out.extend_from_slice(format!("data: {event}\n\n").as_bytes());
        Some(Bytes::from(out))
    }
}
