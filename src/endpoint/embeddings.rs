//! `POST /v1/embeddings`: OpenAI's embeddings API, for models with
//! `kind = "embeddings"`. Passed through to OpenAI and Azure upstreams,
//! translated for Gemini's `batchEmbedContents`.

use axum::http::request::Parts;
use axum::response::Response;
use bytes::Bytes;

use super::chat::{openai_reply, parse_as};
use super::openai_error;
use crate::dispatch::Reply;
use crate::error::EdgeError;
use crate::pipeline::Endpoint;
use crate::protocol::{Api, Request};

pub struct Embeddings;

impl Endpoint for Embeddings {
    const NAME: &'static str = "embeddings";

    fn parse(body: Bytes, _: &Parts) -> Result<Request, EdgeError> {
        parse_as(Api::Embeddings, None, body)
    }

    fn reply(reply: Reply) -> Response {
        openai_reply(reply)
    }

    fn error(e: &EdgeError) -> Response {
        openai_error(e)
    }
}
