//! OpenAI's Responses API (`POST /v1/responses`) behind the other protocols.
//!
//! A Responses upstream (`responses = true` on an `openai` or `azure`
//! provider) gets the request as sent and its answers are relayed
//! ([`relay`]). Every other backend gets it through the Responses [`Hub`]:
//! translated to chat completions, which the Anthropic and Gemini
//! protocols translate further; the answer comes back as a `response`
//! object ([`answer`]) or the Responses event sequence ([`stream`]). The
//! field-by-field mapping is in docs/providers.md.

mod answer;
mod chunk;
mod items;
mod output;
pub(super) mod relay;
mod request;
mod stream;
mod tools;

use super::{Answer, Hub, Request, RequestError, StreamTranslator, Upstream};

/// The Responses API to and from chat completions.
#[derive(Debug)]
pub struct ResponsesHub;

/// The hub of every Responses request.
pub static RESPONSES: ResponsesHub = ResponsesHub;

impl Hub for ResponsesHub {
    fn request(
        &self,
        req: &Request,
        protocol: &str,
        _: &Upstream,
    ) -> Result<Request, RequestError> {
        request::to_chat(req, protocol)
    }

    fn answer(&self, req: &Request, chat: Answer) -> Result<Answer, String> {
        answer::from_chat(req, chat)
    }

    fn stream(&self, req: &Request, chat: Box<dyn StreamTranslator>) -> Box<dyn StreamTranslator> {
        Box::new(stream::FromChat::new(req, chat))
    }

    fn refusal(&self, e: RequestError) -> RequestError {
        request::in_responses_terms(e)
    }
}

#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
