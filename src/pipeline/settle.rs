//! The admission's end: a response body that settles the request's token
//! reservation with the usage the upstream reported, when its last frame
//! leaves (before the client sees the end) or when it is dropped early.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::limits::Admission;
use crate::telemetry::RequestRecord;

/// `resp` with `admission` held by its body.
pub fn hold(resp: Response, admission: Admission, record: Arc<RequestRecord>) -> Response {
    let succeeded = resp.status().is_success();
    resp.map(|inner| {
        Body::new(Settling {
            inner,
            admission: Some(admission),
            record,
            succeeded,
        })
    })
}

struct Settling {
    inner: Body,
    admission: Option<Admission>,
    record: Arc<RequestRecord>,
    succeeded: bool,
}

impl Settling {
    fn settle(&mut self) {
        if let Some(admission) = self.admission.take() {
            let used = self
                .record
                .read(|f| f.usage.map(|u| u.total()));
            admission.finish(used, self.succeeded);
        }
    }
}

impl http_body::Body for Settling {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let poll = Pin::new(&mut self.inner).poll_frame(cx);
        let last = match &poll {
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => true,
            Poll::Ready(Some(Ok(_))) => self.inner.is_end_stream(),
            Poll::Pending => false,
        };
        if last {
            self.settle();
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Settling {
    fn drop(&mut self) {
        self.settle();
    }
}
