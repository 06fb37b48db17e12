//! Request tracking: a request id on every response and exactly one log line
//! per request, written when the response body has ended or been dropped
//! (`crate::body::on_end` on the router's routes, the service's own body
//! on the endpoint routes it serves itself, `hot`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::Fault;
use crate::state::AppState;
use crate::telemetry::{Cut, Metrics, RequestRecord};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Keeps a client's `x-request-id` when it is short and plain, else makes one.
fn request_id(headers: &HeaderMap) -> String {
    let given = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok());
    match given {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
        {
            id.to_string()
        }
        _ => new_request_id(fastrand::u64(..), fastrand::u64(..)),
    }
}

/// `req_` and 32 hex digits, without the formatter (~2% of a request's CPU)
/// and written into a fixed buffer rather than pushed char by char.
fn new_request_id(high: u64, low: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = [0u8; 36];
    id[..4].copy_from_slice(b"req_");
    for (n, out) in [high, low].into_iter().zip(id[4..].chunks_exact_mut(16)) {
        for (i, digit) in out.iter_mut().enumerate() {
            *digit = HEX[((n >> ((15 - i) * 4)) & 0xf) as usize];
        }
    }
    // Every byte is ASCII, so the check passes (a word at a time, a tenth
    // of what the lossy conversion's char walk cost).
    std::str::from_utf8(&id)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// The one log line and metrics update of a request that never reached
/// the router: hyper could not parse it, or its head never came whole.
/// Its method and path are not known. Returns its id.
pub(super) fn unrouted(status: u16, error: String, metrics: &Metrics) -> String {
    let id = new_request_id(fastrand::u64(..), fastrand::u64(..));
    let record = RequestRecord::new(id, "-", "-");
    record.update(|f| {
        f.error = Some(error);
        f.fault = Some(Fault::Client);
    });
    record.finish(status, true, metrics);
    record.id.clone()
}

pub async fn middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let guard = Unanswered::start(state, &mut req);
    let mut resp = next.run(req).await;
    let ending = guard.answered(&mut resp);
    resp.map(|inner| match ending {
        Some(ending) => crate::body::on_end(inner, move |completed| ending.end(completed)),
        None => inner,
    })
}

/// Status logged for a client that closed the connection before any response
/// (nginx's convention).
const CLIENT_CLOSED: u16 = 499;

/// The request's one log line and metrics update, and its ledger row if
/// it reached an upstream.
fn finish(state: &AppState, record: &RequestRecord, status: u16, completed: bool) {
    if record.finish(status, completed, state.metrics()) {
        state.ledger().record(record, status);
    }
}

/// A request being answered: its record, in the request's extensions for
/// the handlers. Hyper drops the service's future when the client leaves
/// before the response starts; dropped unanswered, this still gives that
/// request its log line and metrics.
pub(super) struct Unanswered(Option<Ending>);

impl Unanswered {
    /// The request's id and record, kept in its extensions for the
    /// router's handlers.
    pub(super) fn start<B>(state: AppState, req: &mut axum::http::Request<B>) -> Self {
        let (unanswered, record) = Self::open(state, req);
        req.extensions_mut().insert(record);
        unanswered
    }

    /// As [`start`](Self::start), the record handed to the caller instead.
    pub(super) fn open<B>(
        state: AppState,
        req: &axum::http::Request<B>,
    ) -> (Self, Arc<RequestRecord>) {
        let id = request_id(req.headers());
        let record = Arc::new(RequestRecord::new(
            id,
            req.method().as_str(),
            req.uri().path(),
        ));
        let ending = Ending {
            record: record.clone(),
            state,
            status: CLIENT_CLOSED,
        };
        (Unanswered(Some(ending)), record)
    }

    /// The response started: it gets the request id; what ends the request
    /// when its body ends.
    /// (Always `Some`: only `answered`, which takes `self`, empties it.)
    pub(super) fn answered<B>(mut self, resp: &mut axum::http::Response<B>) -> Option<Ending> {
        let mut ending = self.0.take()?;
        if let Ok(v) = HeaderValue::from_str(&ending.record.id) {
            resp.headers_mut().insert(REQUEST_ID, v);
        }
        ending.status = resp.status().as_u16();
        Some(ending)
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(ending) = self.0.take() {
            // Not the client's leaving, when the shutdown cut it.
            let cut = cut_by_shutdown(&ending.record, &ending.state);
            finish(&ending.state, &ending.record, CLIENT_CLOSED, cut);
        }
    }
}

/// What ends a request once its response started: the log line, metrics
/// and ledger row, when the body ends or is dropped.
pub(super) struct Ending {
    record: Arc<RequestRecord>,
    state: AppState,
    status: u16,
}

impl Ending {
    /// `completed`: the body went out whole.
    pub(super) fn end(self, completed: bool) {
        // A body dropped once the grace period is over was cut, not left.
        let completed = completed || cut_by_shutdown(&self.record, &self.state);
        finish(&self.state, &self.record, self.status, completed);
    }
}

/// A request dropped unfinished once the grace period is over was cut by
/// the shutdown, not left by its client: noted, and `true`.
fn cut_by_shutdown(record: &RequestRecord, state: &AppState) -> bool {
    if !state.shutdown().is_cutting() {
        return false;
    }
    record.update(|f| {
        if f.cut.is_none() {
            f.error = Some("cut by shutdown: the grace period for open requests is over".into());
            f.fault = Some(Fault::Internal);
            f.cut = Some(Cut::Shutdown);
        }
    });
    true
}

#[cfg(test)]
mod tests {
    use super::new_request_id;

    #[test]
    fn a_new_request_id_is_req_and_32_hex_digits() {
        for (high, low) in [(0, 0), (1, u64::MAX), (0x0123_4567_89ab_cdef, 0xfedc_ba98)] {
            assert_eq!(
                new_request_id(high, low),
                format!("req_{high:016x}{low:016x}")
            );
        }
    }
}
