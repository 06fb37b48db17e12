//! The admission's end: a response body that settles the request's token
//! and budget reservations with the usage the upstream reported, when its
//! last frame leaves (before the client sees the end) or when it is
//! dropped early.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::budget::Reservation;
use crate::limits::Admission;
use crate::telemetry::RequestRecord;

/// What an admitted request holds until its response ends.
#[derive(Default)]
pub struct Held {
    pub limits: Option<Admission>,
    pub budget: Option<Reservation>,
}

/// `resp` with `held` kept by its body.
pub fn hold(resp: Response, held: Held, record: Arc<RequestRecord>) -> Response {
    if held.limits.is_none() && held.budget.is_none() {
        return resp;
    }
    let succeeded = resp.status().is_success();
    resp.map(|inner| {
        Body::new(Settling {
            inner,
            held,
            record,
            succeeded,
        })
    })
}

struct Settling {
    inner: Body,
    held: Held,
    record: Arc<RequestRecord>,
    succeeded: bool,
}

impl Settling {
    fn settle(&mut self) {
        let (limits, budget) = (self.held.limits.take(), self.held.budget.take());
        if limits.is_none() && budget.is_none() {
            return;
        }
        let (used, cost) = self
            .record
            .read(|f| (f.usage.map(|u| u.total()), f.cost_usd()));
        if let Some(admission) = limits {
            admission.finish(used, self.succeeded);
        }
        if let Some(reservation) = budget {
            reservation.finish(cost, self.succeeded);
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
