//! The router as hyper's service: it marks the connection busy from a
//! request's head until its response body is done, so the watchdog in
//! `conn` leaves connections with a request in flight alone. The endpoint
//! routes it serves itself (`hot`), tracked here as `track::middleware`
//! tracks the router's.

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
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;

use super::conn::Conn;
use super::hot::{self, Handling};
use super::track::{Ending, Unanswered};
use crate::state::AppState;

/// The router, as hyper's service, marking the connection busy from a
/// request's head until its response is out.
pub(super) struct Service {
    app: Router,
    /// Set when the endpoint routes are served here, not by `app`.
    hot: Option<AppState>,
    conn: Arc<Conn>,
}

impl Service {
    pub(super) fn new(app: Router, hot: Option<AppState>, conn: Arc<Conn>) -> Self {
        Service { app, hot, conn }
    }
}

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Responding;

    fn call(&self, req: Request<Incoming>) -> Responding {
        self.conn.begin();
        let conn = Some(self.conn.clone());
        let handler = self
            .hot
            .as_ref()
            .zip(hot::route(req.method(), req.uri().path()));
        if let Some((state, handler)) = handler {
            let req = hot::boxed(req);
            let (unanswered, record) = Unanswered::open(state.clone(), &req);
            return Responding {
                inner: Inner::Hot {
                    handling: handler(state.clone(), record, req),
                },
                conn,
                unanswered: Some(unanswered),
            };
        }
        let mut app = self.app.clone();
        Responding {
            inner: Inner::Routed {
                future: tower_service::Service::call(&mut app, req),
            },
            conn,
            unanswered: None,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response on its way; dropped before it, the request is logged
    /// as left by its client (`unanswered`, after the handler is dropped).
    pub(super) struct Responding {
        #[pin]
        inner: Inner,
        conn: Option<Arc<Conn>>,
        unanswered: Option<Unanswered>,
    }
}

pin_project_lite::pin_project! {
    #[project = InnerProj]
    enum Inner {
        Hot { handling: Handling },
        Routed { #[pin] future: RouteFuture<Infallible> },
    }
}

impl Future for Responding {
    type Output = Result<Response<Tracked>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut resp = match this.inner.project() {
            InnerProj::Hot { handling } => ready!(handling.as_mut().poll(cx)),
            InnerProj::Routed { future } => ready!(future.poll(cx))?,
        };
        let ending = match this.unanswered.take() {
            Some(unanswered) => {
                let ending = unanswered.answered(&mut resp);
                hot::set_content_length(&mut resp);
                ending
            }
            None => None,
        };
        let conn = this.conn.take();
        Poll::Ready(Ok(resp.map(|body| Tracked { body, conn, ending })))
    }
}

/// A response body that tells the connection when it is done, and on the
/// endpoint routes ends the request as `crate::body::on_end` does (which
/// boxes the body: an allocation per request): when its last frame leaves,
/// or when it is dropped first.
pub(super) struct Tracked {
    body: Body,
    conn: Option<Arc<Conn>>,
    ending: Option<Ending>,
}

impl Tracked {
    fn end(&mut self, completed: bool) {
        if let Some(ending) = self.ending.take() {
            ending.end(completed);
        }
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let poll = Pin::new(&mut self.body).poll_frame(cx);
        if self.ending.is_some() {
            let last = match &poll {
                Poll::Ready(None) | Poll::Ready(Some(Err(_))) => true,
                Poll::Ready(Some(Ok(_))) => self.body.is_end_stream(),
                Poll::Pending => false,
            };
            if last {
                self.end(true);
            }
        }
        poll
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
        // A body never polled to its end: the client went away first (or
        // an empty response was never polled, which `is_end_stream` tells).
        let completed = self.body.is_end_stream();
        self.end(completed);
    }
}
