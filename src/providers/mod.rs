//! Wire protocols. The client always speaks OpenAI's chat completions API;
//! each provider turns a [`ChatRequest`] into its upstream request and its
//! upstream answers (whole or streamed) back into OpenAI's format.

mod chat;
mod openai;
mod probe;

pub use chat::{ChatRequest, RequestError};
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
}

/// Builds the upstream request for `backend`.
pub fn build_request(
    backend: &Backend,
    req: &ChatRequest,
) -> Result<UpstreamRequest, RequestError> {
    match backend.provider.backend_type {
        BackendType::OpenAi => Ok(openai::build_request(backend, req)),
    }
}

/// Turns a successful non-streaming upstream body into an OpenAI response body.
pub fn translate_response(
    backend: &Backend,
    body: Bytes,
) -> Result<(Bytes, Option<Usage>), String> {
    match backend.provider.backend_type {
        BackendType::OpenAi => openai::translate_response(body),
    }
}

/// A translator for one streamed attempt.
pub fn stream_translator(backend: &Backend, req: &ChatRequest) -> Box<dyn StreamTranslator> {
    match backend.provider.backend_type {
        BackendType::OpenAi => Box::new(openai::Stream::new(req.client_wants_usage)),
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
