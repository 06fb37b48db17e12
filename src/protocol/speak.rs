//! One attempt in a protocol's terms, whatever API the client spoke: what
//! the protocol handles itself goes to it as is, a Responses request for
//! a protocol that does not speak that API is translated to chat
//! completions and its answer back, and an API the upstream lacks is
//! refused naming the endpoint. The attempt loop calls these, never the
//! protocol's own methods.

use bytes::Bytes;

use super::{
    responses, Answer, Protocol, Request, RequestError, StreamTranslator, Support, Upstream,
    UpstreamRequest,
};

/// The upstream request, or why this protocol cannot take it.
pub fn build(
    p: &dyn Protocol,
    t: &Upstream,
    req: &Request,
) -> Result<UpstreamRequest, RequestError> {
    match p.support(req.api) {
        Support::Native => p.build(t, req),
        Support::ViaChat => p
            .build(t, &responses::to_chat(req, p.name())?)
            .map_err(responses::in_responses_terms),
        Support::None => Err(RequestError {
            message: format!(
                "the {} endpoint is not supported on {} backends",
                req.api.path(),
                p.name()
            ),
            param: None,
        }),
    }
}

/// A whole answer, in the client's API.
pub fn answer(
    p: &dyn Protocol,
    t: &Upstream,
    req: &Request,
    body: Bytes,
) -> Result<Answer, String> {
    match p.support(req.api) {
        Support::ViaChat => {
            let chat = p.answer(t, &responses::chat_shell(req), body)?;
            responses::from_chat(req, chat)
        }
        _ => p.answer(t, req, body),
    }
}

/// The translator of one streamed attempt, writing the client's API.
pub fn stream(p: &dyn Protocol, t: &Upstream, req: &Request) -> Box<dyn StreamTranslator> {
    match p.support(req.api) {
        Support::ViaChat => {
            let chat = p.stream(t, &responses::chat_shell(req));
            Box::new(responses::FromChat::new(req, chat))
        }
        _ => p.stream(t, req),
    }
}
