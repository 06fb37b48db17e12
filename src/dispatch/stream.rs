//! Streaming attempts. An attempt reads upstream events until the first one
//! with content, holding back what came before; only then is the request
//! committed to that backend, so a failure before it still fails over. After
//! the commit, a failure ends the stream with an SSE error event, never `[DONE]`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Body as _, Frame};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant;

use super::attempt::{self, AttemptError, Broken, TimeoutKind};
use crate::config::{Backend, Config, Model, Provider};
use crate::error::Fault;
use crate::health::{BackendStats, Failure, InflightGuard, Target};
use crate::protocol::sse::SseParser;
use crate::protocol::{EventInfo, Request, StreamTranslator, Usage};
use crate::shutdown::Shutdown;
use crate::telemetry::{Cut, RequestRecord};
use crate::upstream::UpstreamClient;

mod pass;

/// A stream that produced its first content: the request is now committed.
pub struct Committed {
    upstream: Incoming,
    parser: SseParser,
    translator: Box<dyn StreamTranslator>,
    /// Upstream bytes passed through as they came, not yet sent to the
    /// client; they go before `pending`.
    passed: Option<Bytes>,
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
    req: &Request,
    limit: (Duration, TimeoutKind),
    seen: &attempt::Seen<'_>,
) -> Result<Committed, AttemptError> {
    let (prepared, up) = attempt::build(backend, req)?;
    let started = Instant::now();
    let work = async {
        let resp = attempt::send(client, backend, up, seen).await?;
        let mut c = Committed {
            upstream: resp.into_body(),
            parser: SseParser::default(),
            translator: prepared.stream(&*backend.provider.protocol, &backend.upstream()),
            passed: None,
            pending: Vec::new(),
            usage: None,
            done: false,
            ttft: Duration::ZERO,
        };
        loop {
            let Some(frame) = c.upstream.frame().await else {
                return Err(AttemptError::StreamBroken(Broken::BeforeContent));
            };
            let frame = frame.map_err(|e| AttemptError::StreamBroken(Broken::Transport(e)))?;
            // Trailers carry no events.
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            let info = c
                .feed(&chunk, &backend.provider)
                .map_err(AttemptError::StreamBroken)?;
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
    /// The state the stream's events named so far (a Responses id).
    pub fn state(&self) -> Option<String> {
        self.translator.state()
    }

    /// Parses and translates one upstream chunk into `pending`; the returned
    /// info says whether any event in it had content.
    fn feed(&mut self, chunk: &Bytes, provider: &Provider) -> Result<EventInfo, Broken> {
        let mut seen = EventInfo::default();
        let at = self
            .pass(chunk, &mut seen)
            .map_err(|e| Broken::event(e, provider))?;
        if self.done || at == chunk.len() {
            return Ok(seen);
        }
        let chunk = &chunk[at..];
        self.parser.push(chunk)?;
        // What goes out is about what came in; sized once, `pending` (taken
        // empty after every send) is not regrown several times per read.
        self.pending.reserve(chunk.len() + 64);
        // Nothing after the last event is read: not even bytes that would
        // fail to parse, which must not turn a complete stream into an error.
        while !self.done {
            let Some(event) = self.parser.next_event()? else {
                break;
            };
            let info = self
                .translator
                .event(&event, &mut self.pending)
                .map_err(|e| Broken::event(e, provider))?;
            self.parser.recycle(event);
            seen.content |= info.content;
            if info.usage.is_some() {
                self.usage = info.usage;
            }
            self.done |= info.done;
        }
        Ok(seen)
    }
}

/// How long, after the last event, the relay waits for the upstream to end
/// its response. Reading that end returns the connection to the pool; a
/// client that already has `[DONE]` must not wait on an upstream that keeps
/// its connection open (and then get an idle-timeout error after `[DONE]`).
const END_GRACE: Duration = Duration::from_millis(250);

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
    /// When it is cutting, the stream ends with an error event.
    pub shutdown: Arc<Shutdown>,
    /// Held until the stream ends or the client goes away.
    pub _inflight: InflightGuard,
}

impl Relay {
    /// The longest wait for the upstream's next bytes.
    fn wait(&self) -> Duration {
        if self.stream.done {
            END_GRACE.min(self.idle_timeout)
        } else {
            self.idle_timeout
        }
    }
}

/// The client's response body: held-back events first, then the rest as it
/// comes. A hand-written `Body` rather than a stream built from an async
/// closure: that moved the whole relay state in and out of a new future for
/// every chunk.
struct RelayBody {
    relay: Relay,
    finished: bool,
    /// The idle timer, moved forward at each chunk: extending a tokio timer
    /// is an atomic store, where a new `timeout` per chunk registered and
    /// cancelled a timer-wheel entry each time.
    idle: Pin<Box<tokio::time::Sleep>>,
    /// The translator's keep-alive event and the silence it is sent after
    /// (none for chat completions).
    beat: Option<Beat>,
}

struct Beat {
    timer: Pin<Box<tokio::time::Sleep>>,
    every: Duration,
    event: &'static [u8],
}

/// The client's response body for a committed stream.
pub fn body(relay: Relay) -> Body {
    let idle = Box::pin(tokio::time::sleep(relay.wait()));
    let beat = relay
        .stream
        .translator
        .keepalive()
        .map(|(every, event)| Beat {
            timer: Box::pin(tokio::time::sleep(every)),
            every,
            event,
        });
    Body::new(RelayBody {
        relay,
        finished: false,
        idle,
        beat,
    })
}

impl http_body::Body for RelayBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let bytes = ready!(self.get_mut().poll_bytes(cx));
        Poll::Ready(bytes.map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        let c = &self.relay.stream;
        self.finished && c.passed.is_none() && c.pending.is_empty()
    }
}

impl RelayBody {
    fn poll_bytes(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        loop {
            let c = &mut self.relay.stream;
            if let Some(passed) = c.passed.take() {
                return Poll::Ready(Some(passed));
            }
            if !c.pending.is_empty() {
                return Poll::Ready(Some(Bytes::from(std::mem::take(&mut c.pending))));
            }
            if self.finished {
                return Poll::Ready(None);
            }
            // The server wakes every connection when the grace period ends.
            if self.relay.shutdown.is_cutting() {
                self.cut_by_shutdown();
                continue;
            }
            if c.done {
                ready!(self.poll_upstream_end(cx));
                self.end(None);
                continue;
            }
            let result = match Pin::new(&mut c.upstream).poll_frame(cx) {
                Poll::Pending => {
                    if let Some(beat) = &mut self.beat {
                        if beat.timer.as_mut().poll(cx).is_ready() {
                            c.pending.extend_from_slice(beat.event);
                            let next = tokio::time::Instant::now() + beat.every;
                            beat.timer.as_mut().reset(next);
                            continue;
                        }
                    }
                    ready!(self.idle.as_mut().poll(cx));
                    Err(Broken::Idle(self.relay.idle_timeout))
                }
                // A relay that closes after its last event without `[DONE]`:
                // what is pending goes first, then the end.
                Poll::Ready(None) if c.translator.closed(&mut c.pending) => Ok(true),
                Poll::Ready(None) => Err(Broken::Incomplete),
                Poll::Ready(Some(Err(e))) => Err(Broken::Transport(e)),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(chunk) => {
                        let provider = &self.relay.model.backends[self.relay.index].provider;
                        let fed = c.feed(&chunk, provider).map(|_| false);
                        let now = tokio::time::Instant::now();
                        self.idle.as_mut().reset(now + self.relay.wait());
                        if let Some(beat) = &mut self.beat {
                            beat.timer.as_mut().reset(now + beat.every);
                        }
                        fed
                    }
                    Err(_trailers) => Ok(false),
                },
            };
            match result {
                Ok(true) => self.end(None),
                Ok(false) => {}
                Err(reason) => self.end(Some(reason)),
            }
        }
    }

    /// After the last event: ready once the upstream ended its response, or
    /// [`END_GRACE`] passed. Anything it sends or fails with now is not the
    /// client's concern.
    fn poll_upstream_end(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match Pin::new(&mut self.relay.stream.upstream).poll_frame(cx) {
                // Bounded by the grace too, for an upstream that keeps sending.
                Poll::Ready(Some(Ok(_))) if self.idle.as_mut().poll(cx).is_pending() => {}
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => return self.idle.as_mut().poll(cx),
            }
        }
    }

    /// Ends the stream with an error event because the gateway is stopping:
    /// nothing to hold against the backend.
    fn cut_by_shutdown(&mut self) {
        self.finished = true;
        let message = "the gateway is shutting down and its grace period for open streams is over";
        self.relay.record.update(|f| {
            f.usage = self.relay.stream.usage.or(f.usage);
            f.error = Some(format!("stream cut by shutdown: {message}"));
            f.fault = Some(Fault::Internal);
            f.cut = Some(Cut::Shutdown);
        });
        let c = &mut self.relay.stream;
        c.translator.broken(message, &mut c.pending);
    }

    /// Ends the stream: cleanly, or with an error event (queued in `pending`
    /// after the events translated before the failure) and no `[DONE]`.
    fn end(&mut self, failure: Option<Broken>) {
        self.finished = true;
        let provider = &self.relay.model.backends[self.relay.index].provider;
        let failure = failure.map(|f| provider.scrub(&f.to_string()));
        let usage = self.relay.stream.usage;
        self.relay.record.update(|f| {
            f.usage = usage.or(f.usage);
            if let Some(reason) = &failure {
                f.error = Some(format!("stream broken after commit: {reason}"));
                f.fault = Some(Fault::Upstream);
                f.cut = Some(Cut::Upstream);
                if let Some(last) = f.attempts.last_mut() {
                    last.outcome = "stream_broken";
                }
            }
        });
        let Some(reason) = failure else { return };
        let r = &mut self.relay;
        let target = Target {
            model: &r.model.name,
            backend: &r.model.backends[r.index],
        };
        let detail = format!("stream broken after commit: {reason}");
        r.stats
            .on_failure(&r.config.health, target, Failure::StreamBroken, &detail);
        let c = &mut r.stream;
        c.translator.broken(&reason, &mut c.pending);
    }
}
