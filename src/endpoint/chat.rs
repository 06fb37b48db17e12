//! `POST /v1/chat/completions`: OpenAI's chat completions API, the
//! gateway's first endpoint. Its requests are the gateway's own form, so
//! parsing is the top level only, and answers already come in its shape.

use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use bytes::Bytes;

use super::openai_error;
use crate::dispatch::Reply;
use crate::error::EdgeError;
use crate::pipeline::Endpoint;
use crate::protocol::{Api, Hub, Request};

pub struct ChatCompletions;

impl Endpoint for ChatCompletions {
    const NAME: &'static str = "chat_completions";

    fn parse(body: Bytes, _: &Parts) -> Result<Request, EdgeError> {
        Ok(Request::chat_body(body)?)
    }

    fn reply(reply: Reply) -> Response {
        openai_reply(reply)
    }

    fn error(e: &EdgeError) -> Response {
        openai_error(e)
    }
}

/// A whole JSON answer or an event stream, as OpenAI's APIs send them.
pub(super) fn openai_reply(reply: Reply) -> Response {
    match reply {
        Reply::Whole(body) => json(body),
        Reply::Stream(body) => sse(body),
    }
}

/// A JSON body. Built directly: `(headers, Bytes).into_response()` sets a
/// content type and then replaces it.
pub(super) fn json(body: Bytes) -> Response {
    let mut resp = Response::new(axum::body::Body::from(body));
    *resp.headers_mut() = answer_headers();
    let ct = HeaderValue::from_static("application/json");
    resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    resp
}

/// An answer's header map, sized for what the gateway adds (request id,
/// route, six rate-limit headers): the default map grows past six.
fn answer_headers() -> HeaderMap {
    HeaderMap::with_capacity(12)
}

/// The body in one of OpenAI's other APIs, `hub` its way to chat
/// completions where it has one.
pub(super) fn parse_as(
    api: Api,
    hub: Option<&'static dyn Hub>,
    body: Bytes,
) -> Result<Request, EdgeError> {
    Ok(Request::parse(api, hub, body)?)
}

/// A Server-Sent Events response.
pub(super) fn sse(body: axum::body::Body) -> Response {
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    *headers = answer_headers();
    let ct = HeaderValue::from_static("text/event-stream");
    headers.insert(header::CONTENT_TYPE, ct);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
