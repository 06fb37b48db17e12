//! Anthropic's Messages API (`POST /v1/messages`): behind OpenAI's chat
//! completions (the field-by-field mapping is in docs/providers.md), and
//! as it is for Anthropic clients (`native`).

mod native;
mod request;
#[cfg(test)]
mod request_tests;
mod response;
#[cfg(test)]
mod response_tests;
mod stream;
mod thinking;
#[cfg(test)]
mod thinking_tests;
mod turns;

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;

use super::options::strip_version;
use super::output::Counts;
use super::{
    Answer, Api, Options, Protocol, Request, RequestError, Spec, StreamTranslator, Support,
    Upstream, UpstreamError, UpstreamRequest,
};
use thinking::Mode;

/// Anthropic's own APIs, which go and come back as the client wrote them;
/// a request in any other reaches this protocol as chat completions.
fn native(api: Api) -> bool {
    matches!(api, Api::Messages | Api::CountTokens)
}

pub const SPEC: Spec = Spec {
    name: "anthropic",
    aliases: &["claude"],
    provider_keys: &[
        "anthropic_version",
        "default_max_tokens",
        "anthropic_thinking",
    ],
    backend_keys: &[],
    new,
    // `/v1/messages` carries its version: a copied URL ending in it loses it.
    base_url: |url| strip_version(url, "/v1"),
    address: |model, _| model.to_string(),
};

fn new(o: &mut Options) -> Arc<dyn Protocol> {
    let mut a = Anthropic {
        version: "2023-06-01".to_string(),
        default_max_tokens: 4096,
        thinking: Mode::Budget,
    };
    if let Some(v) = o.string("anthropic_version") {
        if v.is_empty() || axum::http::HeaderValue::from_str(v).is_err() {
            let message = "must be a non-empty header value, e.g. \"2023-06-01\"";
            o.error("anthropic_version", message);
        } else {
            a.version = v.to_string();
        }
    }
    match o.uint("default_max_tokens") {
        Some(0) => o.error("default_max_tokens", "must be at least 1"),
        Some(n) => a.default_max_tokens = n,
        None => {}
    }
    match o.string("anthropic_thinking") {
        None | Some("budget") => {}
        Some("adaptive") => a.thinking = Mode::Adaptive,
        Some(_) => o.error("anthropic_thinking", "must be \"budget\" or \"adaptive\""),
    }
    Arc::new(a)
}

/// Anthropic's Messages API, with the provider's version header, the
/// `max_tokens` to send when the client sets none (Anthropic requires one)
/// and how its models take thinking.
#[derive(Debug)]
pub struct Anthropic {
    version: String,
    default_max_tokens: u64,
    thinking: Mode,
}

impl Anthropic {
    fn headers(&self, t: &Upstream) -> Vec<(&'static str, String)> {
        let mut headers = Vec::with_capacity(2);
        if let Some(key) = t.api_key {
            headers.push(("x-api-key", key.to_string()));
        }
        headers.push(("anthropic-version", self.version.clone()));
        headers
    }
}

impl Protocol for Anthropic {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn build(&self, t: &Upstream, req: &Request) -> Result<UpstreamRequest, RequestError> {
        match &req.original {
            Some(original) if native(req.api) => native::build(self, t, req, original),
            _ => request::build(self, t, req),
        }
    }

    fn answer(&self, _: &Upstream, req: &Request, body: Bytes) -> Result<Answer, String> {
        if native(req.api) {
            return native::answer(req, body);
        }
        response::translate_response(body)
    }

    fn stream(&self, t: &Upstream, req: &Request) -> Box<dyn StreamTranslator> {
        if native(req.api) {
            return Box::new(native::Relay::new(&req.model));
        }
        Box::new(stream::Stream::new(req.client_wants_usage, t.model))
    }

    /// `{"type":"error","error":{"type":"invalid_request_error","message":"..."}}`.
    fn error(&self, body: &[u8]) -> Option<UpstreamError> {
        #[derive(Deserialize)]
        struct Outer {
            error: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            #[serde(rename = "type")]
            kind: Option<String>,
            message: String,
        }
        let e = serde_json::from_slice::<Outer>(body).ok()?.error;
        // The type is also the most specific code Anthropic gives
        // (`overloaded_error`, `request_too_large`): SDKs switch on `code`.
        Some(UpstreamError {
            message: e.message,
            code: e.kind.clone(),
            kind: e.kind,
            param: None,
        })
    }

    fn api(&self) -> Option<Api> {
        Some(Api::Messages)
    }

    fn support(&self, api: Api) -> Support {
        match api {
            Api::ChatCompletions | Api::Messages | Api::CountTokens => Support::Native,
            Api::Responses => Support::ViaHub,
            // Anthropic has neither: an embeddings model cannot use it
            // (config validation), a text completion is refused.
            Api::Embeddings | Api::Completions => Support::None,
        }
    }

    fn models_probe(&self, t: &Upstream) -> UpstreamRequest {
        UpstreamRequest {
            url: format!("{}/v1/models", t.base_url),
            headers: self.headers(t),
            body: Bytes::new(),
        }
    }
}

/// Anthropic's `usage` object. Every field is optional: `message_delta`
/// events carry only some of them.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct AnthropicUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Later events restate counts; what they carry replaces what we had.
    fn merge(&mut self, newer: &AnthropicUsage) {
        let pick = |new: Option<u64>, old: Option<u64>| new.or(old);
        self.input_tokens = pick(newer.input_tokens, self.input_tokens);
        self.output_tokens = pick(newer.output_tokens, self.output_tokens);
        self.cache_creation_input_tokens = pick(
            newer.cache_creation_input_tokens,
            self.cache_creation_input_tokens,
        );
        self.cache_read_input_tokens =
            pick(newer.cache_read_input_tokens, self.cache_read_input_tokens);
    }

    /// Anthropic counts cached input apart from `input_tokens`; OpenAI's
    /// `prompt_tokens` includes it, with the cache hits broken out.
    fn counts(&self) -> Counts {
        let input = self.input_tokens.unwrap_or(0);
        let created = self.cache_creation_input_tokens.unwrap_or(0);
        let read = self.cache_read_input_tokens.unwrap_or(0);
        Counts {
            prompt: input.saturating_add(created).saturating_add(read),
            completion: self.output_tokens.unwrap_or(0),
            cached: Some(read),
            cache_write: created,
            reasoning: None,
        }
    }
}

/// Anthropic's `stop_reason` as OpenAI's `finish_reason`.
fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn and anything newer.
        _ => "stop",
    }
}
