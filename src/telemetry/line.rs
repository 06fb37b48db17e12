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
        w.raw(name!("request_id"), self.id);
        w.raw(name!("method"), self.method);
        w.raw(name!("path"), self.path);
        w.opt_str(name!("endpoint"), f.endpoint);
        w.num(name!("status"), self.status);
        w.opt_str(name!("user"), f.user.as_deref());
        w.opt_str(name!("model"), f.model.as_deref());
        w.opt_str(name!("backend"), f.backend_id());
        w.flag(name!("pinned"), f.pinned);
        w.flag(name!("stream"), f.stream);
        w.attempts(name!("attempts"), f);
        w.float(name!("latency_ms"), self.latency_ms);
        if let Some(ttft) = self.ttft_ms() {
            w.float(name!("ttft_ms"), ttft);
        }
        if let Some(u) = f.usage {
            w.num(name!("prompt_tokens"), u.prompt_tokens);
            w.num(name!("completion_tokens"), u.completion_tokens);
        }
        w.flag(name!("client_disconnected"), !self.completed);
        w.opt_str(name!("error"), f.error.as_deref());
        w.opt_str(name!("fault"), f.fault.map(Fault::name));
        match w {
            Out::Text(out) => out.push('\n'),
            Out::Json(out) => out.push_str(",\"target\":\"switchyard::request\"}\n"),
        }
    }
}

/// What comes before a field's value in each format: ` name=` in text,
/// `,"name":` in JSON (made at compile time, one push instead of four).
struct Name {
    text: &'static str,
    json: &'static str,
}

macro_rules! name {
    ($name:literal) => {
        Name {
            text: concat!(" ", $name, "="),
            json: concat!(",\"", $name, "\":"),
        }
    };
}
use name;

/// Writes fields the way each `tracing-subscriber` format does: text quotes
/// string values but not `%`-displayed ones; JSON quotes both.
enum Out<'a> {
    Text(&'a mut String),
    Json(&'a mut String),
}

impl Out<'_> {
    /// A `%`-displayed value.
    fn raw(&mut self, name: Name, value: &str) {
        match self {
            Out::Text(out) => push_all(out, &[name.text, value]),
            Out::Json(out) => json_field(out, name, value),
        }
    }

    fn opt_str(&mut self, name: Name, value: Option<&str>) {
        match (self, value) {
            (_, None) => {}
            (Out::Text(out), Some(v)) => {
                out.push_str(name.text);
                push_debug_str(out, v);
            }
            (Out::Json(out), Some(v)) => json_field(out, name, v),
        }
    }

    /// A number: never quoted.
    fn num(&mut self, name: Name, value: impl itoa::Integer) {
        self.bare(name, itoa::Buffer::new().format(value));
    }

    fn flag(&mut self, name: Name, value: bool) {
        self.bare(name, if value { "true" } else { "false" });
    }

    /// A value written as it is, unquoted in both formats.
    fn bare(&mut self, name: Name, value: &str) {
        match self {
            Out::Text(out) => push_all(out, &[name.text, value]),
            Out::Json(out) => push_all(out, &[name.json, value]),
        }
    }

    /// Unquoted in both formats, as `{:?}` writes it (see [`push_float`]).
    fn float(&mut self, name: Name, value: f64) {
        let out = match self {
            Out::Text(out) => {
                out.push_str(name.text);
                out
            }
            Out::Json(out) => {
                out.push_str(name.json);
                out
            }
        };
        push_float(out, value);
    }

    /// The attempts (see [`push_attempts`]), `%`-displayed: text writes
    /// them in place, JSON quotes them.
    fn attempts(&mut self, name: Name, f: &Fields) {
        match self {
            Out::Text(out) => {
                out.push_str(name.text);
                push_attempts(out, f);
            }
            Out::Json(out) => {
                let mut s = String::with_capacity(64);
                push_attempts(&mut s, f);
                json_field(out, name, &s);
            }
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
    if crate::protocol::members::plain(v.as_bytes()) {
        out.push('"');
        out.push_str(v);
        out.push('"');
    } else {
        let _ = write!(out, "{v:?}");
    }
}

fn json_field(out: &mut String, name: Name, value: &str) {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    push_all(out, &[name.json, &quoted]);
}

/// `value` as `{:?}` writes it (and ryu, what serde_json uses, in the range
/// latencies take), or `null` when not finite. A value of whole hundredths
/// (what [`round2`] makes) below 10^12 is written from its hundredths:
/// there, those digits are the shortest text that reads back as the value,
/// the one both write; that is a fifth of ryu's cost.
fn push_float(out: &mut String, value: f64) {
    if value.is_sign_positive() && value < 1e12 {
        let hundredths = (value * 100.0).round();
        if hundredths / 100.0 == value {
            // Exact: a whole number below 10^14.
            let h = hundredths as u64;
            out.push_str(itoa::Buffer::new().format(h / 100));
            out.push('.');
            let (tenths, last) = ((h / 10 % 10) as u8, (h % 10) as u8);
            out.push(char::from(b'0' + tenths));
            if last != 0 {
                out.push(char::from(b'0' + last));
            }
            return;
        }
    }
    if value.is_finite() {
        out.push_str(ryu::Buffer::new().format_finite(value));
    } else {
        out.push_str("null");
    }
}

pub fn round2(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

/// `problematic_backend:status_5xx:3ms,openai_official:ok:41ms`
fn push_attempts(s: &mut String, f: &Fields) {
    for (i, a) in f.attempts.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let mut ms = itoa::Buffer::new();
        let ms = ms.format(a.elapsed.as_millis());
        push_all(s, &[sep, &a.backend, ":", a.outcome, ":", ms, "ms"]);
    }
}

/// The attempts as one string, for the `tracing` path.
fn attempts_text(f: &Fields) -> String {
    let mut s = String::with_capacity(64);
    push_attempts(&mut s, f);
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
    fn floats_are_written_as_ryu_and_debug_write_them() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut random = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let hundredths = (0..200_000u64).chain((0..20_000).map(|_| random() % 100_000_000_000_000));
        let mut values: Vec<f64> = hundredths.map(|h| h as f64 / 100.0).collect();
        values.extend((0..20_000).map(|_| round2(f64::from_bits(random() >> 2) % 1e9)));
        values.extend((0..20_000).map(|_| f64::from_bits(random() >> 2) % 1e6));
        values.extend([
            -0.0,
            -1.5,
            1e12,
            1e12 - 0.01,
            1e15,
            0.001,
            f64::NAN,
            f64::INFINITY,
        ]);
        for v in values {
            let mut out = String::new();
            push_float(&mut out, v);
            let want = if v.is_finite() {
                ryu::Buffer::new().format_finite(v).to_string()
            } else {
                "null".to_string()
            };
            assert_eq!(out, want, "{v:e}");
            if v.is_finite() && v.abs() < 1e15 && (v == 0.0 || v.abs() >= 1e-4) {
                assert_eq!(out, format!("{v:?}"));
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
