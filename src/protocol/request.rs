//! The gateway's request: what the client sent, parsed once.
//!
//! Only the top level is parsed; `messages` and every other field stay raw
//! JSON text, in the client's order, so an upstream that speaks the
//! client's API gets them byte for byte (only `model` is rewritten and
//! `backend` removed). A protocol that speaks another API translates from
//! these fields. A request in an API other than chat completions also keeps
//! the client's bytes ([`Original`], see [`Request::parse`]) and names the
//! [`Hub`] that turns it into chat completions for the protocols that do
//! not speak it.

use std::borrow::Cow;

use bytes::Bytes;

use super::api::{refusal, Api, Problem};
use super::fields::{Raw, RawFields};
use super::hub::{Hub, Original};

/// The request as the client sent it, minus `model`, `backend` and `stream`.
#[derive(Debug)]
pub struct Request {
    pub api: Api,
    pub model: String,
    pub stream: bool,
    /// `Some(id)` pins the request to that backend.
    pub backend: Option<String>,
    /// The client itself asked for `stream_options.include_usage`.
    pub client_wants_usage: bool,
    /// All other top-level fields, in the client's order, untouched.
    pub fields: RawFields,
    /// The client's body and headers, for an upstream that speaks its API;
    /// `None` for chat completions, whose top level is re-serialised.
    pub original: Option<Original>,
    /// How the request reaches protocols that do not speak its API; `None`
    /// for chat completions, which every protocol takes, and for APIs with
    /// no chat completions form.
    pub hub: Option<&'static dyn Hub>,
}

/// A request the gateway refuses before choosing a backend.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    pub message: String,
    /// The field it is about: a name the gateway knows, or one the client sent.
    pub param: Option<Cow<'static, str>>,
}

impl RequestError {
    /// A refusal of the field `param`.
    pub fn field(param: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        RequestError {
            message: message.into(),
            param: Some(param.into()),
        }
    }

    /// A protocol's refusal of a chat completions request a hub wrote, in
    /// the terms of the client's API: for each `(chat, param, named)`, a
    /// refusal of `chat` gets `param`, and `` `chat` `` in the message
    /// reads `` `named` ``.
    pub fn renamed(mut self, fields: &[(&str, &'static str, &str)]) -> Self {
        for &(chat, param, named) in fields {
            if self.param.as_deref() == Some(chat) {
                self.param = Some(param.into());
            }
            self.message = self
                .message
                .replace(&format!("`{chat}`"), &format!("`{named}`"));
        }
        self
    }
}

/// A body that is no JSON object.
pub(super) fn not_an_object(e: serde_json::Error) -> RequestError {
    RequestError {
        // serde's words for a wrong type quote the value, which may be a
        // megabyte long: those are said without it.
        message: match e.classify() {
            serde_json::error::Category::Data => {
                "the request body must be a JSON object".to_string()
            }
            _ => format!("the request body is not a valid JSON object: {e}"),
        },
        param: None,
    }
}

/// The refusal of `key` in `api`'s words.
pub(super) fn refuse(api: Api, key: &'static str, problem: Problem) -> RequestError {
    RequestError::field(key, refusal(api, key, problem))
}

impl Request {
    /// A chat completions request: the top level, and `messages` an array.
    pub fn chat(body: &[u8]) -> Result<Self, RequestError> {
        Request::chat_body(Bytes::copy_from_slice(body))
    }

    /// [`Request::chat`] of a body the request may keep (no copy when it
    /// is the only owner).
    pub fn chat_body(body: Bytes) -> Result<Self, RequestError> {
        let fields = RawFields::parse(body).map_err(not_an_object)?;
        let req = Request::top_level(Api::ChatCompletions, fields)?;
        req.require_messages()?;
        Ok(req)
    }

    /// Takes `model`, `backend` and (where the API streams) `stream` out of
    /// `fields`.
    pub(super) fn top_level(api: Api, mut fields: RawFields) -> Result<Self, RequestError> {
        let model = match fields
            .remove("model")
            .map(|v| serde_json::from_str::<String>(v.get()))
        {
            Some(Ok(m)) if !m.is_empty() => m,
            Some(_) => return Err(refuse(api, "model", Problem::Not("a non-empty string"))),
            None => return Err(refuse(api, "model", Problem::Missing)),
        };
        let stream = match api
            .streams()
            .then(|| fields.remove("stream"))
            .flatten()
            .map(|v| serde_json::from_str::<Option<bool>>(v.get()))
        {
            None => false,
            Some(Ok(s)) => s.unwrap_or(false),
            Some(Err(_)) => return Err(refuse(api, "stream", Problem::Not("a boolean"))),
        };
        let backend = match fields
            .remove("backend")
            .map(|v| serde_json::from_str::<Option<String>>(v.get()))
        {
            None => None,
            Some(Ok(b)) => b,
            Some(Err(_)) => {
                let what = Problem::Not("a string naming a backend, or null");
                return Err(refuse(api, "backend", what));
            }
        };
        let client_wants_usage = fields
            .get("stream_options")
            .and_then(|v| serde_json::from_str::<StreamOptions>(v.get()).ok())
            .is_some_and(|o| o.include_usage == Some(true));
        Ok(Request {
            api,
            model,
            stream,
            backend,
            client_wants_usage,
            fields,
            original: None,
            hub: None,
        })
    }

    /// `messages`, an array.
    pub(super) fn require_messages(&self) -> Result<(), RequestError> {
        match self
            .field("messages")
            .map(|v| v.get().trim_start().as_bytes().first().copied())
        {
            Some(Some(b'[')) => Ok(()),
            Some(_) => Err(refuse(self.api, "messages", Problem::Not("an array"))),
            None => Err(refuse(self.api, "messages", Problem::Missing)),
        }
    }

    /// A raw field as the client sent it.
    pub fn field(&self, name: &str) -> Option<Raw<'_>> {
        self.fields.get(name)
    }

    /// A field decoded as `T`; `None` when absent, null or of another type.
    pub fn get<T: serde::de::DeserializeOwned>(&self, name: &str) -> Option<T> {
        self.field(name)
            .and_then(|v| serde_json::from_str(v.get()).ok())
    }

    /// The output the request bounds: tokens per choice (`None` when it
    /// sets no bound; none at all for embeddings and token counting) and
    /// its number of choices (`n`, at least 1).
    pub fn output_bound(&self) -> (Option<u64>, u64) {
        let each = match self.api {
            Api::Embeddings | Api::CountTokens => Some(0),
            Api::Responses => self.get::<u64>("max_output_tokens"),
            Api::ChatCompletions | Api::Completions | Api::Messages => self
                .get::<u64>("max_completion_tokens")
                .or_else(|| self.get::<u64>("max_tokens")),
        };
        (each, self.get::<u64>("n").unwrap_or(1).max(1))
    }
}

#[derive(serde::Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_top_level_and_keeps_the_rest_raw() {
        let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"backend":"a","stream":true,"x_custom":{"k":[1, 2]}}"#;
        let r = Request::chat(body).unwrap();
        assert_eq!(
            (r.model.as_str(), r.stream, r.backend.as_deref()),
            ("gpt-4o", true, Some("a"))
        );
        assert_eq!(
            r.fields.keys().collect::<Vec<_>>(),
            vec!["messages", "x_custom"]
        );
        assert_eq!(r.field("x_custom").unwrap().get(), r#"{"k":[1, 2]}"#);
        assert!(!r.client_wants_usage);
        assert!(r.original.is_none(), "chat completions keep no copy");
    }

    #[test]
    fn rejects_bad_shapes_naming_the_param() {
        let param = |b: &str| {
            Request::chat(b.as_bytes())
                .unwrap_err()
                .param
                .map(|p| p.into_owned())
        };
        assert_eq!(param(r#"{"messages":[]}"#), Some("model".to_string()));
        assert_eq!(param(r#"{"model":"m"}"#), Some("messages".to_string()));
        assert_eq!(
            param(r#"{"model":"m","messages":"hi"}"#),
            Some("messages".to_string())
        );
        assert_eq!(
            param(r#"{"model":"m","messages":[],"backend":3}"#),
            Some("backend".to_string())
        );
        assert_eq!(
            param(r#"{"model":"m","messages":[],"backend":["a"]}"#),
            Some("backend".to_string())
        );
        assert_eq!(
            param(r#"{"model":"m","messages":[],"stream":"yes"}"#),
            Some("stream".to_string())
        );
        assert_eq!(param("not json"), None);
        assert_eq!(param("[1]"), None);
        let r =
            Request::chat(br#"{"model":"m","messages":[],"backend":null,"stream":null}"#).unwrap();
        assert_eq!((r.backend, r.stream), (None, false));
    }

    #[test]
    fn the_output_bound_follows_the_api() {
        let chat = Request::chat(br#"{"model":"m","messages":[],"max_tokens":9,"n":2}"#).unwrap();
        assert_eq!(chat.output_bound(), (Some(9), 2));
        let parse = |api, body: &str| Request::parse(api, None, body.to_string().into()).unwrap();
        let r = parse(Api::Responses, r#"{"model":"m","max_output_tokens":7}"#);
        assert_eq!(r.output_bound(), (Some(7), 1));
        let e = parse(
            Api::Embeddings,
            r#"{"model":"m","input":"x","max_tokens":7}"#,
        );
        assert_eq!(e.output_bound(), (Some(0), 1));
        let m = parse(
            Api::Messages,
            r#"{"model":"m","messages":[],"max_tokens":5}"#,
        );
        assert_eq!(m.output_bound(), (Some(5), 1));
    }
}
