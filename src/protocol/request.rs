//! The gateway's request: what the client sent, parsed once.
//!
//! Only the top level is parsed; `messages` and every other field stay raw
//! JSON text, in the client's order, so an upstream that speaks the
//! client's API gets them byte for byte (only `model` is rewritten and
//! `backend` removed). A protocol that speaks another API translates from
//! these fields. Requests of the other APIs also keep the body as sent
//! ([`Verbatim`]), so a same-API upstream gets it byte for byte.

use indexmap::IndexMap;
use serde_json::value::RawValue;

use super::verbatim::{self, Verbatim};

/// The API a request was written in: the endpoint the client called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI's `POST /v1/chat/completions`.
    ChatCompletions,
    /// OpenAI's `POST /v1/responses`.
    Responses,
    /// OpenAI's `POST /v1/embeddings`.
    Embeddings,
    /// OpenAI's legacy text completions, `POST /v1/completions`.
    Completions,
}

impl Api {
    /// The path clients call, for messages naming the endpoint.
    pub fn path(self) -> &'static str {
        match self {
            Api::ChatCompletions => "/v1/chat/completions",
            Api::Responses => "/v1/responses",
            Api::Embeddings => "/v1/embeddings",
            Api::Completions => "/v1/completions",
        }
    }

    /// Embeddings models serve only this API; every other one generates text.
    pub fn embeds(self) -> bool {
        self == Api::Embeddings
    }
}

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
    pub fields: IndexMap<String, Box<RawValue>>,
    /// The body as sent, for APIs other than chat completions (whose
    /// pass-through re-serialises `fields`).
    pub verbatim: Option<Verbatim>,
}

/// A request the gateway refuses before choosing a backend.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    pub message: String,
    pub param: Option<&'static str>,
}

fn not_an_object(e: serde_json::Error) -> RequestError {
    RequestError {
        message: format!("the request body is not a valid JSON object: {e}"),
        param: None,
    }
}

fn invalid(param: &'static str, message: impl Into<String>) -> RequestError {
    RequestError {
        message: message.into(),
        param: Some(param),
    }
}

impl Request {
    /// A chat completions request: the top level, and `messages` an array.
    pub fn chat(body: &[u8]) -> Result<Self, RequestError> {
        let fields: IndexMap<String, Box<RawValue>> =
            serde_json::from_slice(body).map_err(not_an_object)?;
        let req = Request::top_level(Api::ChatCompletions, fields)?;
        match req
            .field("messages")
            .map(|v| v.get().trim_start().as_bytes().first().copied())
        {
            Some(Some(b'[')) => Ok(req),
            Some(_) => Err(invalid("messages", "`messages` must be an array")),
            None => Err(invalid("messages", "you must provide a messages parameter")),
        }
    }

    /// A request of `api` other than chat completions: the top level
    /// parsed, the body kept as sent. A field named twice is refused:
    /// upstreams disagree on which one counts.
    pub fn parse(api: Api, body: &[u8]) -> Result<Self, RequestError> {
        let members = verbatim::members(body).map_err(not_an_object)?;
        let mut fields = IndexMap::with_capacity(members.len());
        for m in &members {
            if fields
                .insert(m.name.to_string(), m.value.to_owned())
                .is_some()
            {
                let message = format!("the field `{}` appears twice", m.name);
                return Err(RequestError {
                    message,
                    param: None,
                });
            }
        }
        let required = match api {
            Api::Embeddings => Some("input"),
            Api::Completions => Some("prompt"),
            Api::ChatCompletions | Api::Responses => None,
        };
        let mut req = Request::top_level(api, fields)?;
        if let Some(name) = required.filter(|n| req.field(n).is_none()) {
            return Err(invalid(
                name,
                format!("you must provide a {name} parameter"),
            ));
        }
        let at = |name: &str| members.iter().position(|m| m.name == name);
        if let Some(model) = at("model") {
            req.verbatim = Some(Verbatim::new(body, &members, model, at("backend")));
        }
        Ok(req)
    }

    /// Takes `model`, `backend` and (where the API streams: not
    /// embeddings) `stream` out of `fields`.
    fn top_level(
        api: Api,
        mut fields: IndexMap<String, Box<RawValue>>,
    ) -> Result<Self, RequestError> {
        let model = match fields
            .shift_remove("model")
            .map(|v| serde_json::from_str::<String>(v.get()))
        {
            Some(Ok(m)) if !m.is_empty() => m,
            Some(_) => return Err(invalid("model", "`model` must be a non-empty string")),
            None => return Err(invalid("model", "you must provide a model parameter")),
        };
        // Embeddings do not stream: there `stream` is just another field.
        let streams = api != Api::Embeddings;
        let stream = match streams
            .then(|| fields.shift_remove("stream"))
            .flatten()
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
            api,
            model,
            stream,
            backend,
            client_wants_usage,
            fields,
            verbatim: None,
        })
    }

    /// The body as the client sent it, with `model` replaced and `backend`
    /// removed; `None` for chat completions, which keep no copy.
    pub fn as_sent(&self, model: &str) -> Option<Vec<u8>> {
        self.verbatim.as_ref().map(|v| v.with_model(model))
    }

    /// The most output tokens the request asks for, per choice: none for
    /// embeddings; `None` when it sets no bound.
    pub fn output_bound(&self) -> Option<u64> {
        match self.api {
            Api::Embeddings => Some(0),
            Api::Responses => self.get("max_output_tokens"),
            Api::ChatCompletions | Api::Completions => self
                .get("max_completion_tokens")
                .or_else(|| self.get("max_tokens")),
        }
    }

    /// How many choices the request asks for (`n`), at least one.
    pub fn choices(&self) -> u64 {
        self.get::<u64>("n").unwrap_or(1).max(1)
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
        let param = |b: &str| Request::chat(b.as_bytes()).unwrap_err().param;
        assert_eq!(param(r#"{"messages":[]}"#), Some("model"));
        assert_eq!(param(r#"{"model":"m"}"#), Some("messages"));
        assert_eq!(param(r#"{"model":"m","messages":"hi"}"#), Some("messages"));
        assert_eq!(
            param(r#"{"model":"m","messages":[],"backend":3}"#),
            Some("backend")
        );
        assert_eq!(
            param(r#"{"model":"m","messages":[],"backend":["a"]}"#),
            Some("backend")
        );
        assert_eq!(
            param(r#"{"model":"m","messages":[],"stream":"yes"}"#),
            Some("stream")
        );
        assert_eq!(param("not json"), None);
        assert_eq!(param("[1]"), None);
        let r =
            Request::chat(br#"{"model":"m","messages":[],"backend":null,"stream":null}"#).unwrap();
        assert_eq!((r.backend, r.stream), (None, false));
    }

    #[test]
    fn other_apis_keep_the_body_as_sent() {
        let body = br#"{"model": "m", "input": [{"role":"user","content":"hi"}], "stream": true, "backend": "b", "store": false}"#;
        let r = Request::parse(Api::Responses, body).unwrap();
        assert_eq!((r.stream, r.backend.as_deref()), (true, Some("b")));
        assert_eq!(r.fields.keys().collect::<Vec<_>>(), vec!["input", "store"]);
        assert_eq!(
            String::from_utf8(r.as_sent("up").unwrap()).unwrap(),
            r#"{"model": "up", "input": [{"role":"user","content":"hi"}], "stream": true, "store": false}"#
        );
        let e = Request::parse(
            Api::Embeddings,
            br#"{"model":"m","input":"a","stream":true}"#,
        )
        .unwrap();
        assert!(
            !e.stream && e.field("stream").is_some(),
            "embeddings do not stream"
        );
        assert!(Request::chat(br#"{"model":"m","messages":[]}"#)
            .unwrap()
            .as_sent("x")
            .is_none());
    }

    #[test]
    fn other_apis_refuse_missing_and_repeated_fields() {
        let param = |api, b: &str| Request::parse(api, b.as_bytes()).unwrap_err().param;
        assert_eq!(param(Api::Embeddings, r#"{"model":"m"}"#), Some("input"));
        assert_eq!(param(Api::Completions, r#"{"model":"m"}"#), Some("prompt"));
        assert_eq!(param(Api::Responses, r#"{"input":"x"}"#), Some("model"));
        let twice = Request::parse(
            Api::Responses,
            br#"{"model":"m","backend":"a","backend":"b"}"#,
        );
        assert!(twice
            .unwrap_err()
            .message
            .contains("`backend` appears twice"));
    }
}
