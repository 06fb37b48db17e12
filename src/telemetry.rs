//! Logging setup and the request record: exactly one structured log line per
//! request, written when the response (stream included) has ended.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tracing_subscriber::EnvFilter;

use crate::config::Backend;
use crate::error::{echo, Fault};
use crate::protocol::Usage;

mod line;
pub mod metrics;
mod observe;
mod seen;
mod stamp;
pub mod writer;

pub use metrics::Metrics;

/// Sets up `tracing`: `RUST_LOG` filters (default `info`),
/// `SWITCHYARD_LOG_FORMAT=json` switches to one JSON object per line. Lines
/// go to standard output, batched per worker (see [`writer`]).
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("SWITCHYARD_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(|| writer::LogWriter);
    let installed = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    if installed.is_ok() && !ansi {
        line::write_directly(if json {
            line::Format::Json
        } else {
            line::Format::Text
        });
    }
}

/// One upstream attempt, as the log shows it.
#[derive(Debug, Clone)]
pub struct AttemptLog {
    pub backend: String,
    /// A bounded outcome: ok, timeout, connect, status_5xx, status_429, auth,
    /// client_4xx, stream_broken, too_large, cancelled (the client left).
    pub outcome: &'static str,
    pub elapsed: Duration,
}

/// A committed stream the gateway ended with an error event: the status
/// was 200, but the answer is not whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The upstream broke it (closed, stalled, sent garbage).
    Upstream,
    /// `settings.shutdown_grace` ran out.
    Shutdown,
}

/// What the handlers learn about a request, filled in as it goes.
#[derive(Debug, Default)]
pub struct Fields {
    /// The front door's name, for requests that went through the pipeline.
    pub endpoint: Option<&'static str>,
    pub user: Option<String>,
    /// The model the client asked for (`model_known` says whether the config has it).
    pub model: Option<String>,
    pub model_known: bool,
    /// The backend of the last attempt: after a failover, the one that served.
    pub backend: Option<Arc<Backend>>,
    pub pinned: bool,
    pub stream: bool,
    pub attempts: Vec<AttemptLog>,
    pub ttft: Option<Duration>,
    /// When the response (or the committed stream) was ready to send, from the request's start.
    pub ready: Option<Duration>,
    pub usage: Option<Usage>,
    /// Why the request failed, or how a committed stream broke (no secrets).
    pub error: Option<String>,
    /// Whose fault the failure was, when the pipeline classified it.
    pub fault: Option<Fault>,
    /// Set when a committed stream was ended with an error event.
    pub cut: Option<Cut>,
}

impl Fields {
    /// The id of the backend of the last attempt.
    pub fn backend_id(&self) -> Option<&str> {
        self.backend.as_deref().map(|b| b.id.as_str())
    }

    /// What the answer cost at the serving backend's price: `None` without
    /// a price or, for a per-token price, without a usage report.
    pub fn cost_usd(&self) -> Option<f64> {
        let price = self.backend.as_ref()?.price.as_ref()?;
        match (price.per_request, &self.usage) {
            (Some(each), _) => self
                .attempts
                .last()
                .is_some_and(|a| a.outcome == "ok")
                .then_some(each),
            (None, Some(u)) => Some(price.cost(u)),
            (None, None) => None,
        }
    }
}

/// Shared by the handler, the response body and the logging middleware.
pub struct RequestRecord {
    pub id: String,
    pub start: Instant,
    method: String,
    path: String,
    fields: Mutex<Fields>,
    logged: AtomicBool,
}

impl RequestRecord {
    pub fn new(id: String, method: &str, path: &str) -> Self {
        RequestRecord {
            id,
            start: Instant::now(),
            // A client can send a megabyte of path: the log line keeps the start.
            method: echo(method).into_owned(),
            path: echo(path).into_owned(),
            fields: Mutex::new(Fields::default()),
            logged: AtomicBool::new(false),
        }
    }

    pub fn update(&self, f: impl FnOnce(&mut Fields)) {
        f(&mut self.fields.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Reads the fields so far.
    pub fn read<T>(&self, f: impl FnOnce(&Fields) -> T) -> T {
        f(&self.fields.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Writes the request's log line; later calls do nothing (and return
    /// false). `completed` is false when the client went away before the
    /// response body ended.
    pub fn finish(&self, status: u16, completed: bool, metrics: &Metrics) -> bool {
        if self.logged.swap(true, Ordering::AcqRel) {
            return false;
        }
        let f = self.fields.lock().unwrap_or_else(|e| e.into_inner());
        let latency = self.start.elapsed();
        metrics.observe(&f, status, latency, completed);
        line::Line {
            id: &self.id,
            method: &self.method,
            path: &self.path,
            status,
            fields: &f,
            latency_ms: line::round2(latency.as_secs_f64() * 1000.0),
            completed,
        }
        .emit();
        true
    }
}
