//! `POST /v1/completions`: OpenAI's legacy text completions, which older
//! tools still call. Passed through to OpenAI-compatible and Azure
//! upstreams; other protocols have no such API.

use axum::http::request::Parts;
use axum::response::Response;
use bytes::Bytes;

use super::chat::{openai_reply, parse_as};
use super::openai_error;
use crate::dispatch::Reply;
use crate::error::EdgeError;
use crate::pipeline::Endpoint;
use crate::protocol::{Api, Request};

pub struct Completions;

impl Endpoint for Completions {
    const NAME: &'static str = "completions";

    fn parse(body: Bytes, _: &Parts) -> Result<Request, EdgeError> {
        parse_as(Api::Completions, None, body)
    }

    fn reply(reply: Reply) -> Response {
        openai_reply(reply)
    }

    fn error(e: &EdgeError) -> Response {
        openai_error(e)
    }
}
