//! A Messages request's body as the gateway's request: the top level read
//! once, every field kept raw, and the client's bytes kept with where
//! `model` and `backend` lie, so an Anthropic upstream gets the body with
//! only those two changed.

use axum::http::request::Parts;
use axum::http::HeaderMap;
use bytes::Bytes;

use crate::error::EdgeError;
use crate::protocol::members::{cut, members, Member};
use crate::protocol::{Api, Hub, Original, RawFields, Request};

/// The client headers an Anthropic upstream gets: the API version and the
/// beta features the body may use. Never the client's credentials.
const FORWARDED: &[&str] = &["anthropic-version", "anthropic-beta"];

fn invalid(param: &'static str, message: impl Into<String>) -> EdgeError {
    EdgeError::bad_request(message, Some(param), None)
}

/// Reads `body` as a request of `api` (`max_tokens` is required on
/// `/v1/messages`, as Anthropic requires it).
pub fn parse(
    api: Api,
    hub: Option<&'static dyn Hub>,
    body: Bytes,
    head: &Parts,
) -> Result<Request, EdgeError> {
    let list = members(&body).map_err(|e| {
        let message = format!("the request body is not a valid JSON object: {e}");
        EdgeError::bad_request(message, None, None)
    })?;
    let top = Top(&list);
    let model_at = top
        .find("model")?
        .ok_or_else(|| invalid("model", "model: Field required"))?;
    let model = match top.value::<String>(model_at) {
        Some(m) if !m.is_empty() => m,
        _ => return Err(invalid("model", "model: must be a non-empty string")),
    };
    top.required(api)?;
    let stream = match top.find("stream")? {
        None => None,
        Some(i) => top
            .value::<Option<bool>>(i)
            .ok_or_else(|| invalid("stream", "stream: must be a boolean"))?,
    };
    let backend_at = top.find("backend")?;
    let backend = match backend_at {
        None => None,
        Some(i) => top.value::<Option<String>>(i).ok_or_else(|| {
            invalid(
                "backend",
                "`backend` must be a string naming a backend, or null",
            )
        })?,
    };
    let original = Original {
        model: list[model_at].span.clone(),
        backend: backend_at.map(|i| cut(&body, &list, i)),
        query: head.uri.query().map(str::to_string),
        headers: forwarded(&head.headers),
        body: body.clone(),
    };
    Ok(Request {
        api,
        model,
        stream: stream == Some(true) && api == Api::Messages,
        backend,
        client_wants_usage: false,
        fields: fields(&list),
        original: Some(original),
        hub,
    })
}

/// The top-level members, looked up by key.
struct Top<'a, 'b>(&'a [Member<'b>]);

impl Top<'_, '_> {
    /// Where `key` is; a key given twice is refused, since which one an
    /// upstream would read is not known.
    fn find(&self, key: &'static str) -> Result<Option<usize>, EdgeError> {
        let mut at = self.0.iter().enumerate().filter(|(_, m)| m.key == key);
        match (at.next(), at.next()) {
            (Some(_), Some(_)) => Err(invalid(key, format!("{key}: given more than once"))),
            (first, _) => Ok(first.map(|(i, _)| i)),
        }
    }

    /// `messages`, and `max_tokens` where the API requires it.
    fn required(&self, api: Api) -> Result<(), EdgeError> {
        match self.find("messages")? {
            Some(i) if self.0[i].value.get().starts_with('[') => {}
            Some(_) => return Err(invalid("messages", "messages: must be an array")),
            None => return Err(invalid("messages", "messages: Field required")),
        }
        if api != Api::Messages {
            return Ok(());
        }
        match self.find("max_tokens")? {
            Some(i) if self.value::<u64>(i).is_some() => Ok(()),
            Some(_) => {
                let message = "max_tokens: must be a non-negative integer";
                Err(invalid("max_tokens", message))
            }
            None => Err(invalid("max_tokens", "max_tokens: Field required")),
        }
    }

    fn value<T: serde::de::DeserializeOwned>(&self, i: usize) -> Option<T> {
        serde_json::from_str(self.0[i].value.get()).ok()
    }
}

/// Every member but `model`, `backend` and `stream`, raw, in order.
fn fields(list: &[Member]) -> RawFields {
    let kept = list
        .iter()
        .filter(|m| !matches!(m.key.as_ref(), "model" | "backend" | "stream"));
    RawFields::collect(kept.map(|m| (m.key.as_ref(), m.value.get())))
}

fn forwarded(headers: &HeaderMap) -> Vec<(&'static str, String)> {
    FORWARDED
        .iter()
        .filter_map(|&name| {
            let value = headers.get(name)?.to_str().ok()?;
            Some((name, value.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::messages::CHAT;

    fn parse_str(body: &str) -> Result<Request, EdgeError> {
        let head = axum::http::Request::post("/v1/messages?beta=true")
            .header("anthropic-beta", "b1,b2")
            .header("x-api-key", "secret")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        parse(
            Api::Messages,
            Some(&CHAT),
            Bytes::from(body.to_string()),
            &head,
        )
    }

    /// The field the refusal names ("" for none).
    fn param(body: &str) -> String {
        match parse_str(body).unwrap_err() {
            EdgeError::BadRequest { param, .. } => param.unwrap_or_default().into_owned(),
            e => panic!("{e}"),
        }
    }

    #[test]
    fn keeps_the_bytes_and_where_model_and_backend_are() {
        let body = "{\"model\": \"m\",\n \"backend\":\"b\", \"max_tokens\":5,\"messages\":[ ],\"stream\":true,\"x\":{\"y\":1.0}}";
        let r = parse_str(body).unwrap();
        assert_eq!(
            (r.model.as_str(), r.backend.as_deref(), r.stream),
            ("m", Some("b"), true)
        );
        assert_eq!(
            r.fields.keys().collect::<Vec<_>>(),
            vec!["max_tokens", "messages", "x"]
        );
        let o = r.original.unwrap();
        assert_eq!(
            o.body_for("up"),
            "{\"model\": \"up\", \"max_tokens\":5,\"messages\":[ ],\"stream\":true,\"x\":{\"y\":1.0}}"
        );
        assert_eq!(o.headers, vec![("anthropic-beta", "b1,b2".to_string())]);
        assert_eq!(o.query.as_deref(), Some("beta=true"));
        assert_eq!(o.query.as_deref(), Some("beta=true"));
    }

    #[test]
    fn refuses_bad_shapes_naming_the_field() {
        assert_eq!(param(r#"{"messages":[],"max_tokens":1}"#), "model");
        assert_eq!(param(r#"{"model":"m","max_tokens":1}"#), "messages");
        assert_eq!(param(r#"{"model":"m","messages":[]}"#), "max_tokens");
        assert_eq!(
            param(r#"{"model":"m","messages":[],"max_tokens":1,"stream":"y"}"#),
            "stream"
        );
        assert_eq!(
            param(r#"{"model":"m","model":"n","messages":[],"max_tokens":1}"#),
            "model"
        );
        assert_eq!(
            param(r#"{"model":"m","messages":[],"max_tokens":1,"backend":2}"#),
            "backend"
        );
        assert_eq!(param("[]"), "");
    }
}
