//! Upstream wire protocols: the second plug-in point. A protocol turns the
//! gateway's [`Request`] into its upstream request and its answers (whole
//! or streamed) back into the API the client spoke, classifies its error
//! bodies, builds its probe, normalises its base URL and validates its own
//! config keys. It knows nothing of the config, the HTTP edge or the
//! attempt loop: what it needs about one backend comes as a [`Upstream`].
//!
//! Adding a protocol is one module implementing [`Protocol`] with a
//! [`Spec`], and one line in [`PROTOCOLS`] (docs/architecture.md).
//!
//! OpenAI and Azure bodies pass through nearly untouched (the hot path: no
//! parse beyond the top level). Anthropic and Gemini need the request fully
//! decoded (`input`, `messages`) and their answers rebuilt (`output`).
//! docs/providers.md has the field-by-field mapping.

mod anthropic;
mod api;
mod azure;
mod carry;
mod errors;
mod fields;
mod gemini;
mod hub;
mod input;
pub mod members;
mod messages;
mod openai;
mod options;
mod output;
mod parse;
mod request;
mod responses;
pub mod sse;
mod tools;

pub use api::Api;
pub use errors::{
    anthropic_error_body, anthropic_stream_error, error_summary, openai_error_body, UpstreamError,
};
pub use fields::{Raw, RawFields};
pub use hub::{Hub, Original, Prepared, Support};
pub use options::Options;
pub use request::{Request, RequestError};
pub use responses::RESPONSES;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;

use sse::SseEvent;

/// Every protocol the gateway speaks. The first is the default `backend_type`.
pub const PROTOCOLS: &[Spec] = &[openai::SPEC, anthropic::SPEC, gemini::SPEC, azure::SPEC];

/// The protocol registered under `name` (or one of its aliases).
pub fn spec(name: &str) -> Option<&'static Spec> {
    PROTOCOLS
        .iter()
        .find(|s| s.name == name || s.aliases.contains(&name))
}

/// What the config layer needs to know about a protocol before any request.
pub struct Spec {
    /// The canonical `backend_type`.
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// Provider keys only this protocol reads (others reject them).
    pub provider_keys: &'static [&'static str],
    /// Backend keys only this protocol reads.
    pub backend_keys: &'static [&'static str],
    /// Reads the provider keys (noting errors in `options`) into the protocol.
    pub new: fn(&mut Options) -> Arc<dyn Protocol>,
    /// Brings a copied base URL to the form the protocol's paths extend.
    pub base_url: fn(&str) -> String,
    /// Where URLs address the backend's model, from the model name and the
    /// backend keys; errors are noted under `model` or the key.
    pub address: fn(model: &str, &mut Options) -> String,
}

/// One backend as its protocol sees it.
#[derive(Debug, Clone, Copy)]
pub struct Upstream<'a> {
    /// Normalised by [`Spec::base_url`].
    pub base_url: &'a str,
    pub api_key: Option<&'a str>,
    /// The model as the upstream names it in bodies.
    pub model: &'a str,
    /// The model as URLs address it (Azure: the deployment).
    pub address: &'a str,
}

/// One upstream wire protocol, with its provider's options.
pub trait Protocol: Send + Sync + fmt::Debug {
    fn spec(&self) -> &'static Spec;

    fn name(&self) -> &'static str {
        self.spec().name
    }

    /// The upstream request for one attempt, or which field of the request
    /// this protocol cannot express.
    fn build(&self, t: &Upstream, req: &Request) -> Result<UpstreamRequest, RequestError>;

    /// A successful whole answer, in the client's API, with its usage.
    fn answer(&self, t: &Upstream, req: &Request, body: Bytes) -> Result<Answer, String>;

    /// A translator for one streamed attempt, writing the client's API.
    fn stream(&self, t: &Upstream, req: &Request) -> Box<dyn StreamTranslator>;

    /// An error body in this protocol's shape; `None` when it is not one
    /// (an HTML page from a relay, an empty body).
    fn error(&self, body: &[u8]) -> Option<UpstreamError>;

    /// The API whose error bodies this protocol writes, when it is one the
    /// gateway serves: those pass through to a client of that API as sent.
    fn api(&self) -> Option<Api>;

    /// How requests in `api` reach this protocol (see [`Prepared`]): by
    /// default chat completions and the protocol's own API as written, the
    /// APIs with a chat completions form through their [`Hub`], no others.
    fn support(&self, api: Api) -> Support {
        match api {
            Api::ChatCompletions => Support::Native,
            _ if self.api() == Some(api) => Support::Native,
            Api::Messages | Api::Responses => Support::ViaHub,
            Api::CountTokens | Api::Embeddings | Api::Completions => Support::None,
        }
    }

    /// The free "list models" call, with the protocol's credentials.
    fn models_probe(&self, t: &Upstream) -> UpstreamRequest;
}

/// Token counts as reported by the upstream, in OpenAI's terms: the
/// cached and cache-write counts are part of `prompt_tokens`, reasoning is
/// part of `completion_tokens`, so a price applies to each token once.
/// Deserializes OpenAI's `usage` object (with its `*_details`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "OpenAiUsage")]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Input read from the provider's prompt cache.
    pub cached_tokens: u64,
    /// Input written to the prompt cache (Anthropic's cache creation).
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
}

#[derive(Deserialize)]
struct OpenAiUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    prompt_tokens_details: Option<OpenAiDetails>,
    completion_tokens_details: Option<OpenAiDetails>,
}

#[derive(Deserialize)]
struct OpenAiDetails {
    cached_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
}

impl From<OpenAiUsage> for Usage {
    fn from(u: OpenAiUsage) -> Self {
        let detail = |d: &Option<OpenAiDetails>, f: fn(&OpenAiDetails) -> Option<u64>| {
            d.as_ref().and_then(f).unwrap_or(0)
        };
        Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            cached_tokens: detail(&u.prompt_tokens_details, |d| d.cached_tokens),
            cache_write_tokens: 0,
            reasoning_tokens: detail(&u.completion_tokens_details, |d| d.reasoning_tokens),
        }
    }
}

impl Usage {
    /// Every token counted, for token rate limits.
    pub fn total(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// A whole answer in the client's API.
#[derive(Debug)]
pub struct Answer {
    pub body: Bytes,
    pub usage: Option<Usage>,
    /// The id of state the upstream keeps for a later request to name (a
    /// stored Responses response), which only this backend can resume.
    pub state: Option<String>,
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

/// Turns one upstream stream into the client's API's events.
pub trait StreamTranslator: Send {
    /// Appends the client's SSE bytes for `event` (possibly none) to `out`.
    fn event(&mut self, event: &SseEvent, out: &mut Vec<u8>) -> Result<EventInfo, StreamError>;

    /// An event that came as `data: DATA` and a blank line, when what the
    /// client gets for it is those very bytes: read here, and the relay
    /// forwards the upstream's bytes as they came, not copied, not framed
    /// again. `None` when the event (or every event, the default) goes
    /// through [`event`](Self::event) instead.
    fn pass(&mut self, _data: &str) -> Option<Result<EventInfo, StreamError>> {
        None
    }

    /// Whether [`pass`](Self::pass) takes any event: when not, the relay
    /// does not look for such events at all.
    fn passes(&self) -> bool {
        false
    }

    /// The upstream closed without saying it was done. Returns true (after
    /// appending the end, e.g. `[DONE]`, to `out`) when what came is complete
    /// anyway; false makes it a broken stream.
    fn closed(&mut self, _out: &mut Vec<u8>) -> bool {
        false
    }

    /// Appends the event that ends a committed stream that broke, in the
    /// client's API: never the clean end.
    fn broken(&mut self, message: &str, out: &mut Vec<u8>) {
        errors::openai_stream_error(message, out);
    }

    /// An event the client's API sends during long upstream silences (so
    /// clients and proxies between know the stream is alive), and after
    /// how long; `None` for APIs that have none.
    fn keepalive(&self) -> Option<(std::time::Duration, &'static [u8])> {
        None
    }

    /// As [`Answer::state`], once the events so far have named it.
    fn state(&self) -> Option<String> {
        None
    }
}

#[cfg(test)]
pub mod testing;

#[cfg(test)]
mod tests;
