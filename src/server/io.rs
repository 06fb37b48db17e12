//! A client connection's socket, as hyper reads and writes it. It tells the
//! connection when a request head starts and when a response is out, and
//! replaces hyper's own answer to a request it cannot parse (400, 414, 431,
//! with an empty body) by the same status with an OpenAI-shaped error body,
//! a request id and its log line.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::http::StatusCode;
use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::conn::Conn;
use super::track;
use crate::protocol::openai_error_body;
use crate::telemetry::Metrics;

pub(super) struct Io {
    stream: TcpStream,
    conn: Arc<Conn>,
    metrics: Arc<Metrics>,
    /// Once hyper has refused a request: the answer still to send; what
    /// hyper writes itself is dropped.
    refusal: Option<Bytes>,
    /// `server.send_timeout`, and the timer armed while the client takes
    /// no bytes (only then: a write that goes through costs no timer).
    send_timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Io {
    pub(super) fn new(
        stream: TcpStream,
        conn: Arc<Conn>,
        metrics: Arc<Metrics>,
        send_timeout: Duration,
    ) -> Self {
        Io {
            stream,
            conn,
            metrics,
            refusal: None,
            send_timeout,
            stalled: None,
        }
    }

    /// `write`'s outcome, or an error once the client has accepted nothing
    /// for `send_timeout`: hyper then ends the connection, and a stream's
    /// body (its upstream connection with it) is dropped.
    fn bounded<T>(
        &mut self,
        cx: &mut Context<'_>,
        write: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if write.is_ready() {
            self.stalled = None;
            return write;
        }
        let limit = self.send_timeout;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no response bytes within server.send_timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Whether `head` is hyper's own refusal, and if so takes it over.
    fn refuses(&mut self, head: &[u8]) -> bool {
        if self.refusal.is_some() {
            return true;
        }
        if !self.conn.is_idle() {
            return false;
        }
        let Some((status, message, code)) = hyper_refusal(head) else {
            return false;
        };
        let id = track::unrouted(status.as_u16(), message.to_string(), &self.metrics);
        self.refusal = Some(answer(status, message, code, &id));
        true
    }

    /// Writes out the refusal, if there is one.
    fn poll_refusal(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(rest) = self.refusal.as_mut().filter(|r| !r.is_empty()) {
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            rest.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

/// The status, message and code of hyper's answer to an unparsable
/// request: a bare head with one of its statuses and no body, written
/// while no request is being served (the gateway's own responses are
/// written while one is).
fn hyper_refusal(head: &[u8]) -> Option<(StatusCode, &'static str, &'static str)> {
    let code = head.strip_prefix(b"HTTP/1.1 ")?.get(..3)?;
    let found = match code {
        b"400" => (
            StatusCode::BAD_REQUEST,
            "the request is not valid HTTP/1.1 (its request line, a header or its Content-Length)",
            "invalid_http_request",
        ),
        b"414" => (
            StatusCode::URI_TOO_LONG,
            "the request URI is longer than the gateway accepts",
            "uri_too_long",
        ),
        b"431" => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "the request headers are larger than the gateway accepts",
            "headers_too_large",
        ),
        _ => return None,
    };
    let bare = head.ends_with(b"\r\n\r\n")
        && memchr::memmem::find(head, b"\r\ncontent-length: 0\r\n").is_some();
    bare.then_some(found)
}

fn answer(status: StatusCode, message: &str, code: &str, id: &str) -> Bytes {
    let body = openai_error_body(message, "invalid_request_error", None, Some(code));
    Bytes::from(format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nx-request-id: {id}\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    ))
}

impl AsyncRead for Io {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.stream).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.conn.on_read();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.refuses(buf) {
            return Poll::Ready(Ok(buf.len()));
        }
        let write = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.bounded(cx, write)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total = bufs.iter().map(|b| b.len()).sum();
        // hyper's refusal is a head alone, in one buffer.
        let head = bufs.iter().find(|b| !b.is_empty());
        if head.is_some_and(|h| h.len() == total && self.refuses(h)) {
            return Poll::Ready(Ok(total));
        }
        let write = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.bounded(cx, write)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_refusal(cx))?;
        let flush = Pin::new(&mut self.stream).poll_flush(cx);
        ready!(self.bounded(cx, flush))?;
        self.conn.on_flushed();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_refusal(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_s_bare_refusals_are_taken_over() {
        let bare = |status: &str| {
            format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n")
        };
        for (status, code) in [
            ("400 Bad Request", 400),
            ("414 URI Too Long", 414),
            ("431 Request Header Fields Too Large", 431),
        ] {
            let found = hyper_refusal(bare(status).as_bytes()).map(|f| f.0.as_u16());
            assert_eq!(found, Some(code));
        }
        assert!(hyper_refusal(bare("404 Not Found").as_bytes()).is_none());
        let with_body = "HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert!(hyper_refusal(with_body.as_bytes()).is_none());
        assert!(hyper_refusal(b"data: HTTP/1.1 400\r\ncontent-length: 0\r\n\r\n").is_none());
    }

    #[test]
    fn the_answer_is_an_openai_error_that_closes_the_connection() {
        let (status, message, code) =
            hyper_refusal(b"HTTP/1.1 431 X\r\ncontent-length: 0\r\n\r\n").unwrap();
        let bytes = answer(status, message, code, "req_1");
        let text = std::str::from_utf8(&bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{head}"
        );
        assert!(head.contains("connection: close") && head.contains("x-request-id: req_1"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "headers_too_large");
    }
}
