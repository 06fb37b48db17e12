//! Google's Gemini API (`models/{model}:generateContent`, and
//! `:streamGenerateContent?alt=sse`) behind OpenAI's chat completions. The
//! field-by-field mapping is in docs/providers.md. Embeddings go to
//! `:batchEmbedContents` ([`embed`]).

mod contents;
#[cfg(test)]
mod contents_tests;
mod embed;
mod request;
#[cfg(test)]
mod request_tests;
mod response;
#[cfg(test)]
mod response_tests;
mod schema;
#[cfg(test)]
mod schema_tests;
mod stream;
mod tools;

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use super::options::{strip_version, url_safe};
use super::output::Counts;
use super::{
    Answer, Api, Options, Protocol, Request, RequestError, Spec, StreamTranslator, Support,
    Upstream, UpstreamError, UpstreamRequest,
};

pub const SPEC: Spec = Spec {
    name: "gemini",
    aliases: &[],
    provider_keys: &[],
    backend_keys: &[],
    new: |_| Arc::new(Gemini),
    // `/v1beta/models/...` carries its version: a copied URL ending in it loses it.
    base_url: |url| strip_version(url, "/v1beta"),
    address,
};

/// The model lands in the URL path: `name`, `models/name` or
/// `tunedModels/name`, nothing that would address another resource.
fn address(model: &str, o: &mut Options) -> String {
    let name = model
        .strip_prefix("models/")
        .or_else(|| model.strip_prefix("tunedModels/"))
        .unwrap_or(model);
    if !model.is_empty() && !url_safe(name) {
        let message = format!("invalid Gemini model {model:?}; write e.g. \"gemini-2.5-flash\" or \"tunedModels/my-model\"");
        o.error("model", message);
    }
    model.to_string()
}

/// What a Gemini model takes, read from its name (Google documents features
/// by model generation). Names the gateway cannot place count as the
/// oldest, whose requests every generation accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Generation {
    /// Gemini 1.x and 2.0, tuned models, other model families: JSON Schema
    /// only as the OpenAPI subset `Schema`.
    Early,
    /// Gemini 2.5: full JSON Schema; thinking by token budget.
    Gemini25,
    /// Gemini 3 and later: thinking by level; thought signatures required
    /// on function calls.
    Gemini3,
}

pub(super) fn generation(model: &str) -> Generation {
    let name = model.strip_prefix("models/").unwrap_or(model);
    let Some(version) = name.strip_prefix("gemini-") else {
        return Generation::Early;
    };
    let major = version.split(['.', '-']).next().unwrap_or("");
    match major.parse::<u32>() {
        Ok(0 | 1) | Err(_) => Generation::Early,
        Ok(2) if version.starts_with("2.5") => Generation::Gemini25,
        Ok(2) => Generation::Early,
        Ok(_) => Generation::Gemini3,
    }
}

/// `models/x` and `tunedModels/x` are full resource names already.
fn resource(t: &Upstream) -> String {
    if t.address.contains('/') {
        t.address.to_string()
    } else {
        format!("models/{}", t.address)
    }
}

/// A header, never the `key=` query parameter: URLs end up in logs.
fn headers(t: &Upstream) -> Vec<(&'static str, String)> {
    t.api_key
        .map(|k| ("x-goog-api-key", k.to_string()))
        .into_iter()
        .collect()
}

/// Google's Gemini API.
#[derive(Debug)]
pub struct Gemini;

impl Protocol for Gemini {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn build(&self, t: &Upstream, req: &Request) -> Result<UpstreamRequest, RequestError> {
        match req.api {
            Api::Embeddings => embed::build(t, req),
            _ => request::build(t, req),
        }
    }

    fn answer(&self, t: &Upstream, req: &Request, body: Bytes) -> Result<Answer, String> {
        match req.api {
            Api::Embeddings => embed::answer(t, req, body),
            _ => response::translate_response(body, t.model),
        }
    }

    fn stream(&self, t: &Upstream, req: &Request) -> Box<dyn StreamTranslator> {
        let n = req.get::<u64>("n").unwrap_or(1);
        Box::new(stream::Stream::new(req.client_wants_usage, n, t.model))
    }

    /// `{"error":{"code":400,"message":"...","status":"INVALID_ARGUMENT"}}`:
    /// the gRPC status becomes the `code`, lower-cased as OpenAI's codes are.
    fn error(&self, body: &[u8]) -> Option<UpstreamError> {
        #[derive(Deserialize)]
        struct Outer {
            error: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            message: String,
            status: Option<String>,
        }
        let e = serde_json::from_slice::<Outer>(body).ok()?.error;
        Some(UpstreamError {
            message: e.message,
            kind: None,
            code: e.status.map(|s| s.to_ascii_lowercase()),
            param: None,
        })
    }

    fn api(&self) -> Option<Api> {
        None
    }

    fn models_probe(&self, t: &Upstream) -> UpstreamRequest {
        UpstreamRequest {
            url: format!("{}/v1beta/models", t.base_url),
            headers: headers(t),
            body: Bytes::new(),
        }
    }

    /// Embeddings too, translated to `batchEmbedContents` ([`embed`]).
    fn support(&self, api: Api) -> Support {
        match api {
            Api::ChatCompletions | Api::Embeddings => Support::Native,
            Api::Messages | Api::Responses => Support::ViaHub,
            Api::CountTokens | Api::Completions => Support::None,
        }
    }
}

/// A `GenerateContentResponse`: the whole answer, or one stream event.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    usage_metadata: Option<UsageMetadata>,
    model_version: Option<String>,
    response_id: Option<String>,
    prompt_feedback: Option<Value>,
    /// Streams report failures as an event with only this.
    error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    content: Option<Content>,
    finish_reason: Option<String>,
    index: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    text: Option<String>,
    /// A thought summary: `reasoning_content`, not the message's text.
    #[serde(default)]
    thought: bool,
    function_call: Option<FunctionCall>,
    /// Must come back on the next turn in the same part (`carry`).
    thought_signature: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct FunctionCall {
    #[serde(default)]
    name: String,
    #[serde(default)]
    args: Value,
}

impl FunctionCall {
    /// OpenAI carries arguments as a JSON string; no args means none.
    fn arguments(&self) -> String {
        match &self.args {
            Value::Null => "{}".to_string(),
            v => v.to_string(),
        }
    }
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
    cached_content_token_count: Option<u64>,
    thoughts_token_count: Option<u64>,
}

impl UsageMetadata {
    /// Gemini's prompt count already includes cached tokens; its candidate
    /// count leaves out thinking, which OpenAI counts as completion.
    fn counts(&self) -> Counts {
        let thoughts = self.thoughts_token_count;
        Counts {
            prompt: self.prompt_token_count.unwrap_or(0),
            completion: self
                .candidates_token_count
                .unwrap_or(0)
                .saturating_add(thoughts.unwrap_or(0)),
            cached: self.cached_content_token_count,
            cache_write: 0,
            reasoning: thoughts,
        }
    }
}

/// Gemini's `finishReason` as OpenAI's `finish_reason`. A normal stop that
/// produced function calls is a `tool_calls` finish in OpenAI's terms.
fn finish_reason(reason: &str, called_tools: bool) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        _ if called_tools => "tool_calls",
        _ => "stop",
    }
}
