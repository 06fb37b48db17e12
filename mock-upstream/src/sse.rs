//! Sends a scripted SSE stream, applying the stream faults on the way.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Response, StatusCode};
use bytes::Bytes;
use futures_util::stream;

use crate::{Fault, Shared};

/// One SSE event; `content` events are the ones stream faults count.
pub(crate) struct Event {
    pub data: Bytes,
    pub content: bool,
}

impl Event {
    pub fn data(json: &serde_json::Value, content: bool) -> Self {
        Event {
            data: Bytes::from(format!("data: {json}\n\n")),
            content,
        }
    }

    /// An event with a type line, as Anthropic sends them.
    pub fn named(name: &str, json: &serde_json::Value, content: bool) -> Self {
        Event {
            data: Bytes::from(format!("event: {name}\ndata: {json}\n\n")),
            content,
        }
    }

    pub fn raw(text: &'static str) -> Self {
        Event {
            data: Bytes::from_static(text.as_bytes()),
            content: false,
        }
    }
}

/// Counts a stream as open until it ends; a drop before the end is a cancel.
struct Guard {
    shared: Arc<Shared>,
    finished: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.streams_open.fetch_sub(1, Ordering::SeqCst);
        if !self.finished {
            self.shared.streams_cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

struct State {
    events: std::vec::IntoIter<Event>,
    sent_content: usize,
    fault: Fault,
    guard: Guard,
}

pub(crate) fn respond(shared: Arc<Shared>, events: Vec<Event>, fault: Fault) -> Response<Body> {
    let events: Vec<Event> = if fault.omit_done {
        events
            .into_iter()
            .filter(|e| &e.data[..] != b"data: [DONE]\n\n")
            .collect()
    } else {
        events
    };
    shared.streams_open.fetch_add(1, Ordering::SeqCst);
    let state = State {
        events: events.into_iter(),
        sent_content: 0,
        fault,
        guard: Guard {
            shared,
            finished: false,
        },
    };
    let body = stream::unfold(state, |mut st| async move {
        let Some(event) = st.events.next() else {
            st.guard.finished = true;
            if st.fault.hold_open {
                std::future::pending::<()>().await;
            }
            drop(st);
            return None;
        };
        let data = match st.before(&event).await {
            Ok(prefix) => Ok(prefix.map_or(event.data.clone(), |p| join(p, &event.data))),
            Err(e) => Err(e),
        };
        if event.content {
            st.sent_content += 1;
        }
        Some((data, st))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .unwrap_or_default()
}

impl State {
    /// Applies the faults due before `event`; may return a malformed line to send first.
    async fn before(&mut self, event: &Event) -> Result<Option<Bytes>, std::io::Error> {
        if !event.content {
            return Ok(None);
        }
        let k = self.sent_content;
        let wait = if k == 0 {
            self.fault.first_token_delay
        } else {
            self.fault.chunk_delay
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        if self.fault.stall_after == Some(k) {
            std::future::pending::<()>().await;
        }
        if self.fault.close_after == Some(k) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "mock reset",
            ));
        }
        if self.fault.malformed_after == Some(k) {
            return Ok(Some(Bytes::from_static(
                b"data: {\"choices\": [{\"delta\": \n\n",
            )));
        }
        Ok(None)
    }
}

fn join(a: Bytes, b: &Bytes) -> Bytes {
    let mut v = Vec::with_capacity(a.len() + b.len());
    v.extend_from_slice(&a);
    v.extend_from_slice(b);
    Bytes::from(v)
}
