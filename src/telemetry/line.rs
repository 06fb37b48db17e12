//! The request log line. It goes through `tracing` like every other line,
//! except on the gateway's own log setup (plain text or JSON, no colours):
//! there the line is formatted here, straight into the log writer, because
//! `tracing`'s field visitors were ~5% of the CPU of a request. The two paths
//! write the same line; a test holds them to it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;
use std::time::SystemTime;

use super::{stamp, writer, Fields};
use crate::error::Fault;

/// The log format `init_logging` set up, when this module may write the line itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

static DIRECT: OnceLock<Format> = OnceLock::new();

/// Called once the global subscriber writes `format` through [`writer::LogWriter`].
pub fn write_directly(format: Format) {
    let _ = DIRECT.set(format);
}

/// Everything the request line says.
pub struct Line<'a> {
    pub id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub fields: &'a Fields,
    pub latency_ms: f64,
    pub completed: bool,
}

impl Line<'_> {
    /// Writes the line, if the log filter lets it through.
    pub fn emit(&self) {
        if !tracing::enabled!(target: "switchyard::request", tracing::Level::INFO) {
            return;
        }
        match DIRECT.get() {
            Some(&format) => {
                let mut out = String::with_capacity(512);
                self.format(format, SystemTime::now(), &mut out);
                let _ = writer::LogWriter.write_all(out.as_bytes());
            }
            None => self.emit_tracing(),
        }
    }

    fn ttft_ms(&self) -> Option<f64> {
        self.fields.ttft.map(|t| round2(t.as_secs_f64() * 1000.0))
    }

    fn emit_tracing(&self) {
        let f = self.fields;
        tracing::info!(
            target: "switchyard::request",
            request_id = %self.id,
            method = %self.method,
            path = %self.path,
            endpoint = f.endpoint,
            status = self.status,
            user = f.user.as_deref(),
            model = f.model.as_deref(),
            backend = f.backend_id(),
            pinned = f.pinned,
            stream = f.stream,
            attempts = %attempts_text(f),
            latency_ms = self.latency_ms,
            ttft_ms = self.ttft_ms(),
            prompt_tokens = f.usage.map(|u| u.prompt_tokens),
            completion_tokens = f.usage.map(|u| u.completion_tokens),
            client_disconnected = !self.completed,
            error = f.error.as_deref(),
            fault = f.fault.map(Fault::name),
            "request"
        );
    }

    /// The line as `tracing-subscriber`'s formatters would write it.
    fn format(&self, format: Format, now: SystemTime, out: &mut String) {
        let f = self.fields;
        let mut w = match format {
            Format::Text => {
                stamp::push(out, now);
                out.push_str("  INFO switchyard::request: request");
                Out::Text(out)
            }
            Format::Json => {
                out.push_str("{\"timestamp\":\"");
                stamp::push(out, now);
                out.push_str("\",\"level\":\"INFO\",\"message\":\"request\"");
                Out::Json(out)
            }
        };
        w.raw("request_id", self.id);
        w.raw("method", self.method);
        w.raw("path", self.path);
        w.opt_str("endpoint", f.endpoint);
        w.num("status", self.status);
        w.opt_str("user", f.user.as_deref());
        w.opt_str("model", f.model.as_deref());
        w.opt_str("backend", f.backend_id());
        w.flag("pinned", f.pinned);
        w.flag("stream", f.stream);
        w.raw("attempts", &attempts_text(f));
        w.float("latency_ms", self.latency_ms);
        if let Some(ttft) = self.ttft_ms() {
            w.float("ttft_ms", ttft);
        }
        if let Some(u) = f.usage {
            w.num("prompt_tokens", u.prompt_tokens);
            w.num("completion_tokens", u.completion_tokens);
        }
        w.flag("client_disconnected", !self.completed);
        w.opt_str("error", f.error.as_deref());
        w.opt_str("fault", f.fault.map(Fault::name));
        match w {
            Out::Text(out) => out.push('\n'),
            Out::Json(out) => out.push_str(",\"target\":\"switchyard::request\"}\n"),
        }
    }
}

/// Writes fields the way each `tracing-subscriber` format does: text quotes
/// string values but not `%`-displayed ones; JSON quotes both.
enum Out<'a> {
    Text(&'a mut String),
    Json(&'a mut String),
}

impl Out<'_> {
    /// A `%`-displayed value.
    fn raw(&mut self, name: &str, value: &str) {
        match self {
            Out::Text(out) => push_all(out, &[" ", name, "=", value]),
            Out::Json(out) => json_field(out, name, value),
        }
    }

    fn opt_str(&mut self, name: &str, value: Option<&str>) {
        match (self, value) {
            (_, None) => {}
            (Out::Text(out), Some(v)) => {
                push_all(out, &[" ", name, "="]);
                push_debug_str(out, v);
            }
            (Out::Json(out), Some(v)) => json_field(out, name, v),
        }
    }

    /// A number: never quoted.
    fn num(&mut self, name: &str, value: impl itoa::Integer) {
        self.bare(name, itoa::Buffer::new().format(value));
    }

    fn flag(&mut self, name: &str, value: bool) {
        self.bare(name, if value { "true" } else { "false" });
    }

    /// A value written as it is, unquoted in both formats.
    fn bare(&mut self, name: &str, value: &str) {
        match self {
            Out::Text(out) => push_all(out, &[" ", name, "=", value]),
            Out::Json(out) => push_all(out, &[",\"", name, "\":", value]),
        }
    }

    /// With ryu (what serde_json uses), a fifth of `{:?}`'s cost; it
    /// writes finite values as `{:?}` does in the range latencies take.
    fn float(&mut self, name: &str, value: f64) {
        let mut buf = ryu::Buffer::new();
        let number = if value.is_finite() {
            buf.format_finite(value)
        } else {
            "null"
        };
        match self {
            Out::Text(out) => push_all(out, &[" ", name, "=", number]),
            Out::Json(out) => push_all(out, &[",\"", name, "\":", number]),
        }
    }
}

fn push_all(out: &mut String, parts: &[&str]) {
    for part in parts {
        out.push_str(part);
    }
}

/// `{:?}` of a string: printable ASCII without quotes or backslashes, the
/// usual case, needs no escaping, and skips the formatter's per-char walk.
fn push_debug_str(out: &mut String, v: &str) {
    if v.bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        push_all(out, &["\"", v, "\""]);
    } else {
        let _ = write!(out, "{v:?}");
    }
}

fn json_field(out: &mut String, name: &str, value: &str) {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    let _ = write!(out, ",\"{name}\":{quoted}");
}

pub fn round2(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

/// `problematic_backend:status_5xx:3ms,openai_official:ok:41ms`
fn attempts_text(f: &Fields) -> String {
    let mut s = String::with_capacity(64);
    for (i, a) in f.attempts.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let mut ms = itoa::Buffer::new();
        let ms = ms.format(a.elapsed.as_millis());
        push_all(&mut s, &[sep, &a.backend, ":", a.outcome, ":", ms, "ms"]);
    }
    s
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::protocol::Usage;
    use crate::telemetry::AttemptLog;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The line as `tracing-subscriber` writes it, configured as `init_logging` does.
    fn via_tracing(line: &Line, format: Format) -> String {
        let sink = Sink::default();
        let out = sink.clone();
        let builder = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || out.clone());
        let dispatch: tracing::Dispatch = match format {
            Format::Text => builder.into(),
            Format::Json => builder.json().flatten_event(true).into(),
        };
        tracing::dispatcher::with_default(&dispatch, || line.emit_tracing());
        let bytes = sink.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    /// The line with its timestamp (which differs between the two) blanked out.
    fn untimed(line: &str) -> String {
        // The first digit on either line starts the timestamp.
        let start = line.find(|c: char| c.is_ascii_digit()).unwrap();
        let end = start + line[start..].find('Z').unwrap() + 1;
        format!("{}TS{}", &line[..start], &line[end..])
    }

    fn backend(id: &str) -> std::sync::Arc<crate::config::Backend> {
        let text = format!("[providers.{id}]\nbase_url = \"http://x\"\n[models.m]\n[[models.m.backends]]\nprovider = \"{id}\"\nmodel = \"x\"\n[users.u]\ntoken = \"t\"\n");
        let config = crate::config::parse(&text, &|_| None).unwrap();
        config.models["m"].backends[0].clone()
    }

    fn fields_cases() -> Vec<Fields> {
        let full = Fields {
            user: Some("alice".into()),
            model: Some("gpt-4o".into()),
            model_known: true,
            backend: Some(backend("openai_official")),
            pinned: true,
            stream: true,
            attempts: vec![
                AttemptLog {
                    backend: "bad".into(),
                    outcome: "status_5xx",
                    elapsed: Duration::from_millis(3),
                },
                AttemptLog {
                    backend: "openai_official".into(),
                    outcome: "ok",
                    elapsed: Duration::from_millis(41),
                },
            ],
            ttft: Some(Duration::from_micros(12_345)),
            ready: None,
            usage: Some(Usage {
                prompt_tokens: 12,
                completion_tokens: 345,
                ..Usage::default()
            }),
            error: Some("upstream said \"no\"\nline two \\ ünïcode\t".into()),
            endpoint: Some("chat_completions"),
            fault: Some(Fault::Upstream),
            cut: None,
        };
        vec![full, Fields::default()]
    }

    #[test]
    fn the_direct_line_is_the_line_tracing_writes() {
        for fields in fields_cases() {
            for latency_ms in [0.06, 31.69, 1.0, 12345.0] {
                let line = Line {
                    id: "req_0123abcd",
                    method: "POST",
                    path: "/v1/chat/completions",
                    status: 502,
                    fields: &fields,
                    latency_ms,
                    completed: latency_ms > 1.0,
                };
                for format in [Format::Text, Format::Json] {
                    let mut direct = String::new();
                    line.format(format, SystemTime::now(), &mut direct);
                    assert_eq!(
                        untimed(&direct),
                        untimed(&via_tracing(&line, format)),
                        "{format:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn json_lines_parse_and_carry_every_field() {
        let fields = &fields_cases()[0];
        let line = Line {
            id: "req_1",
            method: "POST",
            path: "/v1/chat/completions",
            status: 200,
            fields,
            latency_ms: 2.5,
            completed: true,
        };
        let mut out = String::new();
        line.format(Format::Json, SystemTime::now(), &mut out);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["error"], fields.error.as_deref().unwrap());
        assert_eq!(v["attempts"], "bad:status_5xx:3ms,openai_official:ok:41ms");
        assert_eq!(v["ttft_ms"], 12.35);
        assert_eq!(v["completion_tokens"], 345);
        assert_eq!(v["client_disconnected"], false);
    }
}
