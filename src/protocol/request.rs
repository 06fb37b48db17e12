//! The gateway's request: what the client sent, parsed once.
//!
//! Only the top level is parsed; `messages` and every other field stay raw
//! JSON text, in the client's order, so an upstream that speaks the
//! client's API gets them byte for byte (only `model` is rewritten and
//! `backend` removed). A protocol that speaks another API translates from
//! these fields. A request in an API other than chat completions also keeps
//! the client's bytes ([`Original`]) and names the [`Hub`] that turns it
//! into chat completions for the protocols that do not speak it.

use std::borrow::Cow;

use indexmap::IndexMap;
use serde_json::value::RawValue;

use super::hub::{Hub, Original};

/// The API a request was written in: the endpoint the client called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI's `POST /v1/chat/completions`.
    ChatCompletions,
    /// Anthropic's `POST /v1/messages`.
    Messages,
    /// Anthropic's `POST /v1/messages/count_tokens`.
    CountTokens,
}

/// The request as the client sent it, minus `model`, `backend` and `stream`.
/// A request's top-level fields, raw. Hashed with foldhash: the keys are
/// the client's, but the map only lives for the request and is looked up
/// a handful of times, and SipHash was most of what parsing it cost.
pub type RawFields = IndexMap<String, Box<RawValue>, foldhash::fast::RandomState>;

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
    /// for chat completions, which every protocol takes.
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

fn invalid(param: &'static str, message: impl Into<String>) -> RequestError {
    RequestError {
        message: message.into(),
        param: Some(param.into()),
    }
}

impl Request {
    /// A chat completions request: the top level, and `messages` an array.
    pub fn chat(body: &[u8]) -> Result<Self, RequestError> {
        let mut fields: RawFields = serde_json::from_slice(body).map_err(|e| RequestError {
            // serde's words for a wrong type quote the value, which may
            // be a megabyte long: those are said without it.
            message: match e.classify() {
                serde_json::error::Category::Data => {
                    "the request body must be a JSON object".to_string()
                }
                _ => format!("the request body is not a valid JSON object: {e}"),
            },
            param: None,
        })?;
        let model = match fields
            .shift_remove("model")
            .map(|v| serde_json::from_str::<String>(v.get()))
        {
            Some(Ok(m)) if !m.is_empty() => m,
            Some(_) => return Err(invalid("model", "`model` must be a non-empty string")),
            None => return Err(invalid("model", "you must provide a model parameter")),
        };
        match fields
            .get("messages")
            .map(|v| v.get().trim_start().as_bytes().first().copied())
        {
            Some(Some(b'[')) => {}
            Some(_) => return Err(invalid("messages", "`messages` must be an array")),
            None => return Err(invalid("messages", "you must provide a messages parameter")),
        }
        let stream = match fields
            .shift_remove("stream")
            .map(|v| serde_json::from_str::<Option<bool>>(v.get()))
        {
            None => false,
            Some(Ok(s)) => s.unwrap_or(false),
            Some(Err(_)) => return Err(invalid("stream", "`stream` must be a boolean")),
        };
        let backend = match fields
            .shift_remove("backend")
            .map(|v| serde_json::from_str::<Option<String>>(v.get()))
        {
            None => None,
            Some(Ok(b)) => b,
            Some(Err(_)) => {
                return Err(invalid(
                    "backend",
                    "`backend` must be a string naming a backend, or null",
                ))
            }
        };
        let client_wants_usage = fields
            .get("stream_options")
            .and_then(|v| serde_json::from_str::<StreamOptions>(v.get()).ok())
            .is_some_and(|o| o.include_usage == Some(true));
        Ok(Request {
            api: Api::ChatCompletions,
            model,
            stream,
            backend,
            client_wants_usage,
            fields,
            original: None,
            hub: None,
        })
    }

    /// A raw field as the client sent it.
    pub fn field(&self, name: &str) -> Option<&RawValue> {
        self.fields.get(name).map(|v| &**v)
    }

    /// A field decoded as `T`; `None` when absent, null or of another type.
    pub fn get<T: serde::de::DeserializeOwned>(&self, name: &str) -> Option<T> {
        self.field(name)
            .and_then(|v| serde_json::from_str(v.get()).ok())
    }

    /// The output the request bounds: tokens per choice
    /// (`max_completion_tokens`, else `max_tokens`; `None` when it sets
    /// neither) and its number of choices (`n`, at least 1).
    pub fn output_bound(&self) -> (Option<u64>, u64) {
        let each = self
            .get::<u64>("max_completion_tokens")
            .or_else(|| self.get::<u64>("max_tokens"));
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
}
