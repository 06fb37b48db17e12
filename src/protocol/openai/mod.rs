//! OpenAI-compatible upstreams: the body passes through with `model`
//! rewritten; responses pass through as they came, usage peeked on the way.
//! Chat completions, text completions and embeddings always; the Responses
//! API when the provider says the upstream speaks it (`responses = true`),
//! else it goes through chat completions.

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;

mod scan;
mod stream;

pub use stream::Stream;

use super::responses::relay;
use super::Raw;
use super::{
    Answer, Api, Options, Protocol, Request, RequestError, Spec, StreamTranslator, Support,
    Upstream, UpstreamError, UpstreamRequest, Usage,
};

pub const SPEC: Spec = Spec {
    name: "openai",
    aliases: &[],
    provider_keys: &["responses"],
    backend_keys: &[],
    new: |o| Arc::new(OpenAi::new(o)),
    base_url,
    address: |model, _| model.to_string(),
};

/// OpenAI paths start after `/v1`.
fn base_url(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    if trimmed.ends_with("/v1") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v1")
    }
}

/// OpenAI's chat completions API, and every compatible relay.
#[derive(Debug)]
pub struct OpenAi {
    /// The upstream speaks the Responses API.
    responses: bool,
}

impl OpenAi {
    /// Reads `responses`, which the `azure` protocol shares.
    pub fn new(o: &mut Options) -> Self {
        OpenAi {
            responses: o.bool("responses").unwrap_or(false),
        }
    }

    /// How an OpenAI-shaped upstream takes `api`: its own APIs as
    /// written, the Responses API too where the provider says so.
    pub fn support(&self, api: Api) -> Support {
        match api {
            Api::ChatCompletions | Api::Embeddings | Api::Completions => Support::Native,
            Api::Responses if self.responses => Support::Native,
            Api::Responses | Api::Messages => Support::ViaHub,
            Api::CountTokens => Support::None,
        }
    }
}

impl Protocol for OpenAi {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn build(&self, t: &Upstream, req: &Request) -> Result<UpstreamRequest, RequestError> {
        // `concat`, not `format!`: the formatter's machinery cost more than
        // the rest of building the request.
        let mut headers = Vec::with_capacity(1);
        if let Some(key) = t.api_key {
            headers.push(("authorization", ["Bearer ", key].concat()));
        }
        let path = match req.api {
            Api::Responses => "responses",
            Api::Embeddings => "embeddings",
            Api::Completions => "completions",
            // The others come as chat completions (`support`).
            _ => "chat/completions",
        };
        Ok(UpstreamRequest {
            url: [t.base_url, "/", path].concat(),
            headers,
            body: body_for(req, t.model),
        })
    }

    fn answer(&self, _: &Upstream, req: &Request, body: Bytes) -> Result<Answer, String> {
        answer(req, body)
    }

    fn stream(&self, _: &Upstream, req: &Request) -> Box<dyn StreamTranslator> {
        stream(req)
    }

    fn error(&self, body: &[u8]) -> Option<UpstreamError> {
        super::errors::openai_error(body)
    }

    fn api(&self) -> Option<Api> {
        Some(Api::ChatCompletions)
    }

    fn models_probe(&self, t: &Upstream) -> UpstreamRequest {
        let headers = t
            .api_key
            .map(|k| ("authorization", format!("Bearer {k}")))
            .into_iter()
            .collect();
        UpstreamRequest {
            url: format!("{}/models", t.base_url),
            headers,
            body: Bytes::new(),
        }
    }

    fn support(&self, api: Api) -> Support {
        OpenAi::support(self, api)
    }
}

/// The body for an OpenAI-shaped upstream: the Responses API and
/// embeddings as sent; chat and text completions re-serialised, with usage
/// asked for.
pub fn body_for(req: &Request, upstream_model: &str) -> Bytes {
    match (req.api, &req.original) {
        (Api::Responses | Api::Embeddings, Some(original)) => original.body_for(upstream_model),
        _ => Bytes::from(body(req, upstream_model)),
    }
}

/// A whole answer from an OpenAI-shaped upstream, with its usage.
pub fn answer(req: &Request, body: Bytes) -> Result<Answer, String> {
    match req.api {
        Api::Responses => relay::answer(body),
        _ => translate_response(body),
    }
}

/// The stream translator for an OpenAI-shaped upstream.
pub fn stream(req: &Request) -> Box<dyn StreamTranslator> {
    match req.api {
        Api::Responses => Box::new(relay::Relay::new()),
        _ => Box::new(Stream::new(req.client_wants_usage)),
    }
}

/// Re-serialises the client's fields around the upstream model name. For
/// streams it always asks for usage, so token counts are known.
pub fn body(req: &Request, upstream_model: &str) -> Vec<u8> {
    let size: usize = req
        .fields
        .iter()
        .map(|(k, v)| k.len() + v.get().len() + 4)
        .sum();
    let mut out = Vec::with_capacity(size + upstream_model.len() + 64);
    out.extend_from_slice(b"{\"model\":");
    write_json_str(&mut out, upstream_model);
    for (key, value) in &req.fields {
        if req.stream && key == "stream_options" {
            continue;
        }
        out.push(b',');
        write_json_str(&mut out, key);
        out.push(b':');
        out.extend_from_slice(value.get().as_bytes());
    }
    if req.stream {
        out.extend_from_slice(b",\"stream\":true,\"stream_options\":");
        out.extend_from_slice(stream_options(req.field("stream_options")).as_bytes());
    }
    out.push(b'}');
    out
}

fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // Names and models need no escaping, as a rule: serde would write them as they are.
    if super::members::plain(s.as_bytes()) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    // Writing to a Vec cannot fail, and a &str always serialises.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The client's stream options with `include_usage` forced on.
fn stream_options(client: Option<Raw<'_>>) -> String {
    let mut opts: serde_json::Map<String, serde_json::Value> = client
        .and_then(|v| serde_json::from_str(v.get()).ok())
        .unwrap_or_default();
    opts.insert("include_usage".into(), true.into());
    serde_json::Value::Object(opts).to_string()
}

pub fn translate_response(body: Bytes) -> Result<Answer, String> {
    if let Some(usage) = scan::answer_usage(&body) {
        return Ok(Answer {
            state: None,
            body,
            usage,
        });
    }
    #[derive(Deserialize)]
    struct Peek {
        usage: Option<Usage>,
    }
    let peek: Peek =
        serde_json::from_slice(&body).map_err(|e| format!("upstream sent invalid JSON: {e}"))?;
    Ok(Answer {
        state: None,
        body,
        usage: peek.usage,
    })
}

#[cfg(test)]
mod tests;
