//! One client connection: HTTP/1.1 by hyper, watched so that it cannot be
//! held without a request in flight. A request head must arrive within
//! `server.header_timeout` of its first byte (the first request's, of the
//! connection's opening); an idle keep-alive connection closes after
//! `server.keep_alive_timeout` (the body's own limit is the
//! pipeline's, `server.body_timeout`). When the gateway stops, a connection
//! with no request in flight closes at once, idle or with half a head; one
//! answering a request closes after that response.
//!
//! One timer per connection, moved only when it fires or a head arrives in
//! pieces: the request path costs a few atomic stores, no timer per request
//! (hyper's own `header_read_timeout` boxes and registers one per request).

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::Router;
use futures_util::task::AtomicWaker;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::io::Io;
use super::service::Service;
use super::track;
use crate::clock;
use crate::config::ConnectionLimits;
use crate::shutdown::Shutdown;
use crate::state::AppState;
use crate::telemetry::Metrics;

const IDLE: u8 = 0;
const BUSY: u8 = 1;
/// The response is done; hyper is writing out its last bytes.
const ENDING: u8 = 2;

/// What the connection's parts tell each other: hyper's service, its I/O
/// and the watchdog all run in the connection's task, in turn.
pub(super) struct Conn {
    state: AtomicU8,
    /// When (clock ms) the connection last had nothing to do.
    idle_since: AtomicU64,
    /// When the first byte of the next request head came; 0 before it.
    head_since: AtomicU64,
    /// Whether any byte came at all: a connection opened and left silent
    /// (a pre-connect) is closed without a log line.
    heard: AtomicBool,
    /// The connection's task, for the server to wake at shutdown.
    waker: AtomicWaker,
}

impl Conn {
    pub(super) fn new() -> Arc<Self> {
        let now = clock::now_ms();
        Arc::new(Conn {
            state: AtomicU8::new(IDLE),
            idle_since: AtomicU64::new(now),
            // A new connection owes its first head at once: one that sends
            // nothing is held no longer than one that sends half a head.
            head_since: AtomicU64::new(now),
            heard: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        })
    }

    /// Lets the watchdog look at the gateway's shutdown phase.
    pub(super) fn wake(&self) {
        self.waker.wake();
    }

    /// Whether no request is being served (hyper's own answers come then).
    pub(super) fn is_idle(&self) -> bool {
        self.state.load(Relaxed) == IDLE
    }

    /// Bytes came in: the first after a response start the head's clock.
    pub(super) fn on_read(&self) {
        if self.is_idle() && self.head_since.load(Relaxed) == 0 {
            self.head_since.store(clock::now_ms(), Relaxed);
        }
        if !self.heard.load(Relaxed) {
            self.heard.store(true, Relaxed);
        }
    }

    /// Hyper flushed what it wrote: a finished response is out.
    pub(super) fn on_flushed(&self) {
        if self.state.load(Relaxed) == ENDING {
            self.idle_since.store(clock::now_ms(), Relaxed);
            self.state.store(IDLE, Relaxed);
        }
    }

    /// A request's head is in: its handler runs.
    pub(super) fn begin(&self) {
        self.head_since.store(0, Relaxed);
        self.state.store(BUSY, Relaxed);
    }

    /// Its response body is done (or dropped): idle once it is flushed.
    pub(super) fn response_done(&self) {
        let _ = self.state.compare_exchange(BUSY, ENDING, Relaxed, Relaxed);
    }

    /// When this connection must close, and why; `None` while a request runs.
    fn due(&self, limits: &Limits) -> Option<(u64, Why)> {
        if !self.is_idle() {
            return None;
        }
        match self.head_since.load(Relaxed) {
            0 => Some((self.idle_since.load(Relaxed) + limits.keep_alive, Why::Idle)),
            head => Some((head + limits.header, Why::Head)),
        }
    }
}

/// Why the watchdog closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    Idle,
    Head,
    Shutdown,
}

enum Verdict {
    Close(Why),
    /// A request is in flight while the gateway stops: close after it.
    Drain,
}

/// The limits in clock milliseconds.
struct Limits {
    header: u64,
    keep_alive: u64,
}

/// What serving a connection needs from the server.
#[derive(Clone)]
pub(super) struct Serving {
    pub app: Router,
    /// Set when the service serves the endpoint routes itself (`hot`).
    pub hot: Option<AppState>,
    pub limits: ConnectionLimits,
    pub shutdown: Arc<Shutdown>,
    pub metrics: Arc<Metrics>,
}

/// Serves one connection until it closes or the watchdog closes it.
pub(super) async fn serve(stream: TcpStream, conn: Arc<Conn>, s: Serving) {
    let io = Io::new(stream, conn.clone(), s.metrics.clone(), s.limits.send);
    let io = TokioIo::new(io);
    let service = Service::new(s.app.clone(), s.hot.clone(), conn.clone());
    let mut http = hyper::server::conn::http1::Builder::new();
    // The watchdog does this, without a timer per request.
    http.header_read_timeout(None);
    let mut connection = pin!(http.serve_connection(io, service));
    let mut watchdog = pin!(Watchdog::new(conn.clone(), &s.limits, s.shutdown.clone()));
    loop {
        let verdict = std::future::poll_fn(|cx| watchdog.as_mut().poll_verdict(cx));
        tokio::select! {
            biased;
            ended = connection.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(target: "switchyard::server", error = %e, "connection ended");
                }
                return;
            }
            verdict = verdict => match verdict {
                Verdict::Drain => connection.as_mut().graceful_shutdown(),
                Verdict::Close(why) => {
                    if why == Why::Head && conn.heard.load(Relaxed) {
                        let error = format!(
                            "the request head did not arrive within {:?} (server.header_timeout)",
                            s.limits.header
                        );
                        track::unrouted(408, error, &s.metrics);
                    }
                    tracing::debug!(target: "switchyard::server", reason = ?why, "connection closed");
                    return;
                }
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// Closes a connection that has no request in flight for too long, and
    /// every such connection when the gateway stops.
    struct Watchdog {
        #[pin]
        sleep: Sleep,
        // Where `sleep` is set, in clock ms.
        armed: u64,
        // `Instant` and clock ms at one moment, to turn one into the other.
        base: (Instant, u64),
        conn: Arc<Conn>,
        limits: Limits,
        shutdown: Arc<Shutdown>,
        draining: bool,
    }
}

impl Watchdog {
    fn new(conn: Arc<Conn>, limits: &ConnectionLimits, shutdown: Arc<Shutdown>) -> Self {
        let limits = Limits {
            header: ms(limits.header),
            keep_alive: ms(limits.keep_alive),
        };
        let base = (Instant::now(), clock::now_ms());
        let armed = conn.due(&limits).map_or(base.1, |(when, _)| when);
        Watchdog {
            sleep: tokio::time::sleep_until(at(base, armed)),
            armed,
            base,
            conn,
            limits,
            shutdown,
            draining: false,
        }
    }

    fn poll_verdict(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Verdict> {
        let mut this = self.project();
        this.conn.waker.register(cx.waker());
        if this.shutdown.is_draining() {
            if this.conn.is_idle() {
                return Poll::Ready(Verdict::Close(Why::Shutdown));
            }
            if !std::mem::replace(this.draining, true) {
                return Poll::Ready(Verdict::Drain);
            }
            // Hyper closes it after the response in flight.
            return Poll::Pending;
        }
        loop {
            let due = this.conn.due(this.limits);
            if let Some((when, _)) = due.filter(|(when, _)| when < this.armed) {
                // A head began: its limit comes before the idle one.
                *this.armed = when;
                this.sleep.as_mut().reset(at(*this.base, when));
            }
            ready!(this.sleep.as_mut().poll(cx));
            let now = clock::now_ms();
            let next = match due {
                Some((when, why)) if when <= now => return Poll::Ready(Verdict::Close(why)),
                Some((when, _)) => when,
                // A request is in flight: nothing to watch; look again later.
                None => now + this.limits.keep_alive,
            };
            *this.armed = next;
            this.sleep.as_mut().reset(at(*this.base, next));
        }
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX / 4)) as u64
}

fn at(base: (Instant, u64), when: u64) -> Instant {
    base.0 + Duration::from_millis(when.saturating_sub(base.1))
}
