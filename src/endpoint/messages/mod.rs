//! `POST /v1/messages` and `POST /v1/messages/count_tokens`: Anthropic's
//! Messages API, for Claude Code and the Anthropic SDKs, in front of any
//! backend. Anthropic backends get the client's bytes (only `model` and
//! `backend` change) and answer as they wrote it; the others get the request
//! as chat completions (`to_chat`, `turns`), and their answers and streams
//! come back as Anthropic's (`answer`, `events`). Errors are in Anthropic's
//! shape. docs/providers.md has the field-by-field mapping.

mod answer;
mod count;
mod events;
#[cfg(test)]
mod events_tests;
pub mod models;
mod parse;
mod refusal;
mod to_chat;
#[cfg(test)]
mod to_chat_tests;
mod turns;

use axum::http::request::Parts;
use axum::response::Response;
use bytes::Bytes;

use super::anthropic_error;
use crate::config::User;
use crate::dispatch::Reply;
use crate::error::EdgeError;
use crate::pipeline::Endpoint;
use crate::protocol::{Answer, Api, Hub, Request, RequestError, StreamTranslator, Upstream};
use crate::routing::Route;
use to_chat::Target;

pub struct Messages;

impl Endpoint for Messages {
    const NAME: &'static str = "messages";

    fn parse(body: Bytes, head: &Parts) -> Result<Request, EdgeError> {
        parse::parse(Api::Messages, Some(&CHAT), body, head)
    }

    fn reply(reply: Reply) -> Response {
        match reply {
            Reply::Whole(body) => super::chat::json(body),
            Reply::Stream(body) => super::chat::sse(body),
        }
    }

    fn error(e: &EdgeError) -> Response {
        anthropic_error(e)
    }
}

pub struct CountTokens;

impl Endpoint for CountTokens {
    const NAME: &'static str = "count_tokens";

    /// Token counting has no chat completions form: backends that do not
    /// speak Anthropic's API are skipped (`Support::None`), and the
    /// endpoint estimates when none is left (`local`).
    fn parse(body: Bytes, head: &Parts) -> Result<Request, EdgeError> {
        parse::parse(Api::CountTokens, None, body, head)
    }

    fn local(req: &Request, route: &Route, pinned: Option<usize>, user: &User) -> Option<Reply> {
        if count::upstream_counts(route, pinned, user) {
            return None;
        }
        Some(Reply::Whole(Bytes::from(count::estimate(req).to_string())))
    }

    fn reply(reply: Reply) -> Response {
        Messages::reply(reply)
    }

    fn error(e: &EdgeError) -> Response {
        anthropic_error(e)
    }
}

/// Messages to and from chat completions.
#[derive(Debug)]
pub(crate) struct ChatHub;

pub(crate) static CHAT: ChatHub = ChatHub;

impl Hub for ChatHub {
    fn request(
        &self,
        req: &Request,
        protocol: &str,
        to: &Upstream,
    ) -> Result<Request, RequestError> {
        to_chat::chat(
            req,
            Target {
                protocol,
                model: to.model,
            },
        )
    }

    fn answer(&self, req: &Request, chat: Answer) -> Result<Answer, String> {
        answer::translate(&req.model, chat)
    }

    fn stream(&self, req: &Request, chat: Box<dyn StreamTranslator>) -> Box<dyn StreamTranslator> {
        Box::new(events::Encoder::new(chat, &req.model))
    }

    fn refusal(&self, e: RequestError) -> RequestError {
        refusal::in_messages_terms(e)
    }
}
