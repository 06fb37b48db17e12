//! Requests in the APIs other than chat completions: the top level read
//! once, every field kept raw, and the client's bytes kept ([`Original`])
//! with where `model` and `backend` lie, so that an upstream speaking the
//! API gets the body with only those two changed.

use bytes::Bytes;

use super::api::{refusal, Api, Problem};
use super::fields::{first_repeat, RawFields};
use super::hub::{Hub, Original};
use super::members::{cut, members};
use super::request::{not_an_object, refuse, Request, RequestError};

impl Request {
    /// Reads `body` as a request of `api`; `hub` is its way to chat
    /// completions, if it has one. A top-level key given twice is refused:
    /// upstreams disagree on which one counts. The query and headers of
    /// [`Original`] are the endpoint's to fill.
    pub fn parse(
        api: Api,
        hub: Option<&'static dyn Hub>,
        body: Bytes,
    ) -> Result<Request, RequestError> {
        let list = members(&body).map_err(not_an_object)?;
        if let Some(i) = first_repeat(list.len(), |i| &list[i].key) {
            let key = list[i].key.to_string();
            let message = refusal(api, &key, Problem::Twice);
            return Err(RequestError::field(key, message));
        }
        let fields = RawFields::collect(list.iter().map(|m| (m.key.as_ref(), m.value.get())));
        let mut req = Request::top_level(api, fields)?;
        req.required()?;
        // No key is there twice: the first of each name is the one.
        let at = |key: &str| list.iter().position(|m| m.key == key);
        let model = at("model").map_or(0..0, |i| list[i].span.clone());
        req.original = Some(Original {
            model,
            backend: at("backend").map(|i| cut(&body, &list, i)),
            query: None,
            headers: Vec::new(),
            body: body.clone(),
        });
        req.hub = hub;
        Ok(req)
    }

    /// The fields `self.api` cannot do without.
    fn required(&self) -> Result<(), RequestError> {
        let present = |key: &'static str| match self.field(key) {
            Some(_) => Ok(()),
            None => Err(refuse(self.api, key, Problem::Missing)),
        };
        match self.api {
            Api::ChatCompletions | Api::CountTokens => self.require_messages(),
            Api::Messages => {
                self.require_messages()?;
                match self.field("max_tokens") {
                    Some(_) if self.get::<u64>("max_tokens").is_some() => Ok(()),
                    Some(_) => {
                        let what = Problem::Not("a non-negative integer");
                        Err(refuse(self.api, "max_tokens", what))
                    }
                    None => Err(refuse(self.api, "max_tokens", Problem::Missing)),
                }
            }
            Api::Responses => Ok(()),
            Api::Embeddings => present("input"),
            Api::Completions => present("prompt"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(api: Api, body: &str) -> Result<Request, RequestError> {
        Request::parse(api, None, Bytes::from(body.to_string()))
    }

    #[test]
    fn other_apis_keep_the_body_as_sent() {
        let body = r#"{"model": "m", "input": [{"role":"user","content":"hi"}], "stream": true, "backend": "b", "store": false}"#;
        let r = parse(Api::Responses, body).unwrap();
        assert_eq!((r.stream, r.backend.as_deref()), (true, Some("b")));
        assert_eq!(r.fields.keys().collect::<Vec<_>>(), vec!["input", "store"]);
        assert_eq!(
            r.original.unwrap().body_for("up"),
            r#"{"model": "up", "input": [{"role":"user","content":"hi"}], "stream": true, "store": false}"#
        );
        let e = parse(
            Api::Embeddings,
            r#"{"model":"m","input":"a","stream":true}"#,
        )
        .unwrap();
        assert!(
            !e.stream && e.field("stream").is_some(),
            "embeddings do not stream"
        );
    }

    #[test]
    fn other_apis_refuse_missing_and_repeated_fields() {
        let param = |api, b: &str| parse(api, b).unwrap_err().param.unwrap_or_default();
        assert_eq!(param(Api::Embeddings, r#"{"model":"m"}"#), "input");
        assert_eq!(param(Api::Completions, r#"{"model":"m"}"#), "prompt");
        assert_eq!(param(Api::Responses, r#"{"input":"x"}"#), "model");
        let twice = parse(
            Api::Responses,
            r#"{"model":"m","backend":"a","backend":"b"}"#,
        );
        let e = twice.unwrap_err();
        assert_eq!(e.param.as_deref(), Some("backend"));
        assert!(e.message.contains("`backend` appears twice"), "{e}");
        // Any key, not only those the gateway reads.
        let e = parse(
            Api::Embeddings,
            r#"{"model":"m","input":"a","user":"x","user":"y"}"#,
        );
        assert_eq!(e.unwrap_err().param.as_deref(), Some("user"));
    }

    #[test]
    fn anthropic_apis_are_refused_in_anthropic_words() {
        let e = parse(Api::Messages, r#"{"model":"m","messages":[]}"#).unwrap_err();
        assert_eq!(
            (e.param.as_deref(), e.message.as_str()),
            (Some("max_tokens"), "max_tokens: Field required")
        );
        let e = parse(Api::CountTokens, r#"{"model":"m","messages":{}}"#).unwrap_err();
        assert_eq!(e.message, "messages: must be an array");
        let e = parse(Api::Embeddings, "[1]").unwrap_err();
        assert_eq!(
            (e.param, e.message.as_str()),
            (None, "the request body must be a JSON object")
        );
    }
}
