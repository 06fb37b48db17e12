//! The router as hyper's service: it marks the connection busy from a
//! request's head until its response body is done, so the watchdog in
//! `conn` leaves connections with a request in flight alone.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;

use super::conn::Conn;

/// The router, as hyper's service, marking the connection busy from a
/// request's head until its response is out.
pub(super) struct Service {
    app: Router,
    conn: Arc<Conn>,
}

impl Service {
    pub(super) fn new(app: Router, conn: Arc<Conn>) -> Self {
        Service { app, conn }
    }
}

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Responding;

    fn call(&self, req: Request<Incoming>) -> Responding {
        self.conn.begin();
        let mut app = self.app.clone();
        Responding {
            inner: tower_service::Service::call(&mut app, req),
            conn: Some(self.conn.clone()),
        }
    }
}

pin_project_lite::pin_project! {
    pub(super) struct Responding {
        #[pin]
        inner: RouteFuture<Infallible>,
        conn: Option<Arc<Conn>>,
    }
}

impl Future for Responding {
    type Output = Result<Response<Tracked>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let resp = ready!(this.inner.poll(cx))?;
        let conn = this.conn.take();
        Poll::Ready(Ok(resp.map(|body| Tracked { body, conn })))
    }
}

/// A response body that tells the connection when it is done (not
/// `crate::body::on_end`, which boxes the body: an allocation per request).
pub(super) struct Tracked {
    body: Body,
    conn: Option<Arc<Conn>>,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(conn) = &self.conn {
            conn.response_done();
        }
    }
}
