//! Wire protocols. The client always speaks OpenAI's chat completions API;
//! each provider turns a [`ChatRequest`] into its upstream request and its
//! upstream answers (whole or streamed) back into OpenAI's format.
//!
//! OpenAI and Azure bodies pass through nearly untouched (the hot path:
//! no parse beyond the top level). Anthropic and Gemini need the request
//! fully decoded (`input`, `messages`) and their answers rebuilt
//! (`output`). docs/providers.md has the field-by-field mapping.

mod anthropic;
mod azure;
mod chat;
mod errors;
mod gemini;
mod input;
mod messages;
mod openai;
mod output;
mod probe;

pub use chat::{ChatRequest, RequestError};
pub use errors::{client_error_body, is_openai_error};
pub use probe::{probe_request, ProbeRequest};

use bytes::Bytes;
use serde::Deserialize;

use crate::config::{Backend, BackendType};
use crate::proxy::sse::SseEvent;

/// Token counts as reported by the upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}

/// Everything needed to send one attempt upstream.
pub struct UpstreamRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

/// What one upstream stream event meant.
#[derive(Debug, Default, Clone, Copy)]
pub struct EventInfo {
    /// Carries content the client sees (text, tool calls, a finish reason):
    /// the first such event commits the request to this backend.
    pub content: bool,
    /// The upstream said the stream is complete.
    pub done: bool,
    pub usage: Option<Usage>,
}

/// A stream that broke in a way the upstream told us about, or that we could not read.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("upstream sent an error event: {0}")]
    Upstream(String),
    #[error("malformed stream data from upstream: {0}")]
    Malformed(String),
}

/// Turns one upstream stream into OpenAI `chat.completion.chunk` events.
pub trait StreamTranslator: Send {
    /// Appends the OpenAI SSE bytes for `event` (possibly none) to `out`.
    fn event(&mut self, event: &SseEvent, out: &mut Vec<u8>) -> Result<EventInfo, StreamError>;

    /// The upstream closed without saying it was done. Returns true (after
    /// appending the end, e.g. `[DONE]`, to `out`) when what came is complete
    /// anyway; false makes it a broken stream.
    fn closed(&mut self, _out: &mut Vec<u8>) -> bool {
        false
    }
}

/// Builds the upstream request for `backend`, or says which field of the
/// request its protocol cannot express.
pub fn build_request(
    backend: &Backend,
    req: &ChatRequest,
) -> Result<UpstreamRequest, RequestError> {
    match backend.provider.backend_type {
        BackendType::OpenAi => Ok(openai::build_request(backend, req)),
        BackendType::Azure => Ok(azure::build_request(backend, req)),
        BackendType::Anthropic => anthropic::build_request(backend, req),
        BackendType::Gemini => gemini::build_request(backend, req),
    }
}

/// Turns a successful non-streaming upstream body into an OpenAI response body.
pub fn translate_response(
    backend: &Backend,
    body: Bytes,
) -> Result<(Bytes, Option<Usage>), String> {
    match backend.provider.backend_type {
        BackendType::OpenAi | BackendType::Azure => openai::translate_response(body),
        BackendType::Anthropic => anthropic::translate_response(body),
        BackendType::Gemini => gemini::translate_response(body, &backend.upstream_model),
    }
}

/// A translator for one streamed attempt.
pub fn stream_translator(backend: &Backend, req: &ChatRequest) -> Box<dyn StreamTranslator> {
    match backend.provider.backend_type {
        BackendType::OpenAi | BackendType::Azure => {
            Box::new(openai::Stream::new(req.client_wants_usage))
        }
        BackendType::Gemini => Box::new(gemini::Stream::new(
            req.client_wants_usage,
            req.get::<u64>("n").unwrap_or(1),
            &backend.upstream_model,
        )),
        BackendType::Anthropic => Box::new(anthropic::Stream::new(
            req.client_wants_usage,
            &backend.upstream_model,
        )),
    }
}

/// A short, secret-free reason from an upstream error body, for logs and 502 messages.
pub fn error_summary(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Outer {
        error: Inner,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Inner {
        Object { message: String },
        Text(String),
    }
    let message = match serde_json::from_slice::<Outer>(body) {
        Ok(Outer {
            error: Inner::Object { message } | Inner::Text(message),
        }) => message,
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let mut short: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if short.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|&i| short.is_char_boundary(i))
            .unwrap_or(0);
        short.truncate(cut);
        short.push('…');
    }
    short
}

#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;

    use serde_json::Value;

    use super::{EventInfo, StreamError, StreamTranslator};
    use crate::config::Model;
    use crate::proxy::sse::SseEvent;

    /// Feeds `(event, data)` pairs through `t`; returns every chunk it wrote
    /// (JSON without the clock-dependent `created`, or the string `[DONE]`)
    /// and the info of every event.
    pub fn sse_transcript(
        t: &mut dyn StreamTranslator,
        events: &[(&str, &str)],
    ) -> Result<(Vec<Value>, Vec<EventInfo>), StreamError> {
        let mut out = Vec::new();
        let mut infos = Vec::new();
        for (name, data) in events {
            let event = SseEvent {
                event: Some(name.to_string()),
                data: data.to_string(),
            };
            infos.push(t.event(&event, &mut out)?);
        }
        let text = String::from_utf8(out).unwrap();
        let lines = text
            .split_terminator("\n\n")
            .map(|l| {
                let data = l.strip_prefix("data: ").unwrap();
                if data == "[DONE]" {
                    return Value::from("[DONE]");
                }
                let mut v: Value = serde_json::from_str(data).unwrap();
                assert!(v["created"].as_u64().is_some(), "{v}");
                v.as_object_mut().unwrap().remove("created");
                v
            })
            .collect();
        Ok((lines, infos))
    }

    /// A one-backend model `m` on provider `p`, from TOML fragments.
    pub fn model(provider_toml: &str, backend_toml: &str) -> Arc<Model> {
        let text = format!(
            "[providers.p]\n{provider_toml}\n[[models.m.backends]]\nprovider = \"p\"\n{backend_toml}\n"
        );
        match crate::config::parse(&text, &|_| None) {
            Ok(c) => c.models["m"].clone(),
            Err(e) => panic!("test config: {e}"),
        }
    }
}
