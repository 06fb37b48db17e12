//! Requests in an API other than chat completions. Chat completions is the
//! gateway's hub: every protocol takes it. A request in another API goes to
//! a protocol that speaks that API as the client wrote it ([`Original`]),
//! to every other protocol through its endpoint's [`Hub`] (translated to
//! chat completions, and the protocol's chat answer or stream translated
//! back), and not at all to an upstream that lacks the API entirely: each
//! protocol says which is which for each API ([`Support`]).

use std::fmt;
use std::ops::Range;

use bytes::Bytes;

use super::members::{json_string, splice};
use super::{Answer, Protocol, Request, RequestError, StreamTranslator, Upstream, UpstreamRequest};

/// The client's request as it came, for an upstream that speaks its API.
#[derive(Debug, Clone)]
pub struct Original {
    pub body: Bytes,
    /// Where the `model` value lies in `body`.
    pub model: Range<usize>,
    /// Where the `backend` member lies, with its separator.
    pub backend: Option<Range<usize>>,
    /// The query string of the client's URL (Claude Code sends `beta=true`).
    pub query: Option<String>,
    /// The client's headers of that API an upstream should get (versions,
    /// feature flags): never its credentials.
    pub headers: Vec<(&'static str, String)>,
}

impl Original {
    /// The body with `model` named `model` and without `backend`; every
    /// other byte as the client sent it.
    pub fn body_for(&self, model: &str) -> Bytes {
        let name = json_string(model);
        let mut edits: Vec<(Range<usize>, &[u8])> = vec![(self.model.clone(), &name)];
        if let Some(cut) = &self.backend {
            edits.push((cut.clone(), b""));
        }
        edits.sort_by_key(|(r, _)| r.start);
        Bytes::from(splice(&self.body, &edits))
    }

    /// The client's value of `name`, if it sent one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One endpoint's way to and from chat completions.
pub trait Hub: Send + Sync + fmt::Debug {
    /// `req` as a chat completions request for one upstream (what it can
    /// take depends on its protocol and model), or the field it cannot
    /// express there.
    fn request(
        &self,
        req: &Request,
        protocol: &str,
        to: &Upstream,
    ) -> Result<Request, RequestError>;

    /// A whole chat completions answer in the client's API.
    fn answer(&self, req: &Request, chat: Answer) -> Result<Answer, String>;

    /// `chat`, a translator writing chat completions chunks, wrapped to
    /// write the client's API.
    fn stream(&self, req: &Request, chat: Box<dyn StreamTranslator>) -> Box<dyn StreamTranslator>;

    /// A protocol's refusal of the translated request, in the client's
    /// terms (the chat field it names came from one of the client's).
    fn refusal(&self, e: RequestError) -> RequestError {
        e
    }
}

/// How a protocol takes requests written in one API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Its `build`, `answer` and `stream` handle the API: as the client
    /// wrote it, or translated by the protocol itself.
    Native,
    /// Through the request's [`Hub`]: to chat completions and back.
    ViaHub,
    /// The upstream has no such API: such requests are refused, naming
    /// the endpoint.
    None,
}

/// The request one attempt sends, in the form its protocol reads.
pub struct Prepared<'r> {
    client: &'r Request,
    /// The chat completions form, when the protocol does not speak the
    /// client's API.
    chat: Option<(Request, &'static dyn Hub)>,
}

impl<'r> Prepared<'r> {
    pub fn new(p: &dyn Protocol, t: &Upstream, req: &'r Request) -> Result<Self, RequestError> {
        let chat = match (p.support(req.api), req.hub) {
            (Support::Native, _) => None,
            (Support::ViaHub, Some(hub)) => Some((hub.request(req, p.name(), t)?, hub)),
            (Support::ViaHub | Support::None, _) => {
                let message = format!(
                    "the {} endpoint is not supported on {} backends",
                    req.api.path(),
                    p.name()
                );
                return Err(RequestError {
                    message,
                    param: None,
                });
            }
        };
        Ok(Prepared { client: req, chat })
    }

    fn sent(&self) -> &Request {
        self.chat.as_ref().map_or(self.client, |(chat, _)| chat)
    }

    pub fn build(&self, p: &dyn Protocol, t: &Upstream) -> Result<UpstreamRequest, RequestError> {
        match &self.chat {
            Some((chat, hub)) => p.build(t, chat).map_err(|e| hub.refusal(e)),
            None => p.build(t, self.client),
        }
    }

    pub fn answer(&self, p: &dyn Protocol, t: &Upstream, body: Bytes) -> Result<Answer, String> {
        let answer = p.answer(t, self.sent(), body)?;
        match &self.chat {
            Some((_, hub)) => hub.answer(self.client, answer),
            None => Ok(answer),
        }
    }

    pub fn stream(&self, p: &dyn Protocol, t: &Upstream) -> Box<dyn StreamTranslator> {
        let translator = p.stream(t, self.sent());
        match &self.chat {
            Some((_, hub)) => hub.stream(self.client, translator),
            None => translator,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_changes_only_in_model_and_backend() {
        let body = "{\"backend\" :\"b\", \"model\": \"pub\",\"x\":[1 ,2]}";
        let o = Original {
            body: Bytes::from(body),
            model: 26..31,
            backend: Some(1..17),
            query: None,
            headers: vec![("anthropic-version", "v".into())],
        };
        assert_eq!(&body[o.model.clone()], "\"pub\"");
        assert_eq!(o.body_for("up/1"), "{\"model\": \"up/1\",\"x\":[1 ,2]}");
        assert_eq!(o.header("anthropic-version"), Some("v"));
        assert_eq!(o.header("anthropic-beta"), None);
    }
}
