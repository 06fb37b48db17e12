//! A response body that runs one piece of work when it ends: when its last
//! frame leaves (before the client sees the end of the response, since
//! hyper may never poll a body past its last frame), or when it is dropped
//! first because the client went away.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};

/// `inner`, running `on_end(completed)` once; `completed` is false when the
/// body was dropped before its end.
pub fn on_end<F>(inner: Body, on_end: F) -> Body
where
    F: FnOnce(bool) + Send + Unpin + 'static,
{
    Body::new(OnEnd {
        inner,
        on_end: Some(on_end),
    })
}

struct OnEnd<F: FnOnce(bool)> {
    inner: Body,
    on_end: Option<F>,
}

impl<F: FnOnce(bool)> OnEnd<F> {
    fn end(&mut self, completed: bool) {
        if let Some(f) = self.on_end.take() {
            f(completed);
        }
    }
}

impl<F: FnOnce(bool) + Send + Unpin> http_body::Body for OnEnd<F> {
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
            self.end(true);
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

impl<F: FnOnce(bool)> Drop for OnEnd<F> {
    fn drop(&mut self) {
        // A body never polled to its end: the client went away first (or an
        // empty response was never polled, which `is_end_stream` tells).
        let completed = self.inner.is_end_stream();
        self.end(completed);
    }
}
