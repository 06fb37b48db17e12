//! `POST /v1/responses`: OpenAI's Responses API, the one Codex and the
//! newer SDK helpers speak. Passed through to Responses upstreams,
//! translated through chat completions for the others (the Responses hub,
//! `protocol::RESPONSES`).

use axum::http::request::Parts;
use axum::response::Response;
use bytes::Bytes;

use super::chat::{openai_reply, parse_as};
use super::openai_error;
use crate::dispatch::Reply;
use crate::error::EdgeError;
use crate::pipeline::Endpoint;
use crate::protocol::{Api, Request, RESPONSES};

pub struct Responses;

impl Endpoint for Responses {
    const NAME: &'static str = "responses";

    fn parse(body: Bytes, _: &Parts) -> Result<Request, EdgeError> {
        parse_as(Api::Responses, Some(&RESPONSES), body)
    }

    fn reply(reply: Reply) -> Response {
        openai_reply(reply)
    }

    fn error(e: &EdgeError) -> Response {
        openai_error(e)
    }
}
