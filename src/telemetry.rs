//! Logging setup and the request record: exactly one structured log line per
//! request, written when the response (stream included) has ended.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing_subscriber::EnvFilter;

use crate::providers::Usage;

pub mod metrics;
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
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// One upstream attempt, as the log shows it.
#[derive(Debug, Clone)]
pub struct AttemptLog {
    pub backend: String,
    /// A bounded outcome: ok, timeout, connect, status_5xx, status_429, auth, client_4xx, stream_broken.
    pub outcome: &'static str,
    pub elapsed: Duration,
}

/// What the handlers learn about a request, filled in as it goes.
#[derive(Debug, Default)]
pub struct Fields {
    pub user: Option<String>,
    /// The model the client asked for (`model_known` says whether the config has it).
    pub model: Option<String>,
    pub model_known: bool,
    pub backend: Option<String>,
    pub pinned: bool,
    pub stream: bool,
    pub attempts: Vec<AttemptLog>,
    pub ttft: Option<Duration>,
    /// When the response (or the committed stream) was ready to send, from the request's start.
    pub ready: Option<Duration>,
    pub usage: Option<Usage>,
    /// Why the request failed, or how a committed stream broke (no secrets).
    pub error: Option<String>,
}

/// Work to do when the request ends (given its status and fields), before
/// the client sees the end of the response. Dropped unrun if the request is
/// abandoned before any response.
pub type Finisher = Box<dyn FnOnce(u16, &Fields) + Send>;

/// Shared by the handler, the response body and the logging middleware.
pub struct RequestRecord {
    pub id: String,
    pub start: Instant,
    method: String,
    path: String,
    fields: Mutex<Fields>,
    logged: AtomicBool,
    on_finish: Mutex<Option<Finisher>>,
}

impl RequestRecord {
    pub fn new(id: String, method: &str, path: &str) -> Self {
        RequestRecord {
            id,
            start: Instant::now(),
            method: method.to_string(),
            path: path.to_string(),
            fields: Mutex::new(Fields::default()),
            logged: AtomicBool::new(false),
            on_finish: Mutex::new(None),
        }
    }

    /// Runs `f` when the request finishes (see [`Finisher`]); replaces any earlier one.
    pub fn on_finish(&self, f: Finisher) {
        *self.on_finish.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
    }

    pub fn update(&self, f: impl FnOnce(&mut Fields)) {
        f(&mut self.fields.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Writes the request's log line; later calls do nothing. `completed` is
    /// false when the client went away before the response body ended.
    pub fn finish(&self, status: u16, completed: bool, metrics: &Metrics) {
        if self.logged.swap(true, Ordering::AcqRel) {
            return;
        }
        let f = self.fields.lock().unwrap_or_else(|e| e.into_inner());
        let finisher = self
            .on_finish
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(finish) = finisher {
            finish(status, &f);
        }
        let latency = self.start.elapsed();
        metrics.observe(&f, status, latency);
        let latency_ms = latency.as_secs_f64() * 1000.0;
        tracing::info!(
            target: "switchyard::request",
            request_id = %self.id,
            method = %self.method,
            path = %self.path,
            status,
            user = f.user.as_deref(),
            model = f.model.as_deref(),
            backend = f.backend.as_deref(),
            pinned = f.pinned,
            stream = f.stream,
            attempts = %attempts_text(&f.attempts),
            latency_ms = round2(latency_ms),
            ttft_ms = f.ttft.map(|t| round2(t.as_secs_f64() * 1000.0)),
            prompt_tokens = f.usage.map(|u| u.prompt_tokens),
            completion_tokens = f.usage.map(|u| u.completion_tokens),
            client_disconnected = !completed,
            error = f.error.as_deref(),
            "request"
        );
    }
}

fn round2(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

/// `problematic_backend:status_5xx:3ms,openai_official:ok:41ms`
fn attempts_text(attempts: &[AttemptLog]) -> String {
    let mut s = String::new();
    for (i, a) in attempts.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(
            s,
            "{sep}{}:{}:{}ms",
            a.backend,
            a.outcome,
            a.elapsed.as_millis()
        );
    }
    s
}
