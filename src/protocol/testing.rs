//! Test helpers: a backend built from TOML fragments through its protocol's
//! [`Spec`], without the config layer; and a stream transcript.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::sse::SseEvent;
use super::{
    Answer, EventInfo, Options, Prepared, Protocol, Request, RequestError, StreamError,
    StreamTranslator, Upstream, UpstreamRequest,
};

/// One backend: its protocol with the provider's options, and its target.
pub struct TestBackend {
    pub protocol: Arc<dyn Protocol>,
    base_url: String,
    api_key: Option<String>,
    model: String,
    address: String,
}

/// A backend from a provider table (`backend_type`, `base_url`, `api_key`
/// and protocol keys) and a backend table (`model` and protocol keys).
pub fn backend(provider_toml: &str, backend_toml: &str) -> TestBackend {
    let provider: toml::Table = provider_toml.parse().unwrap();
    let entry: toml::Table = backend_toml.parse().unwrap();
    let kind = provider
        .get("backend_type")
        .and_then(|v| v.as_str())
        .unwrap_or("openai");
    let spec = super::spec(kind).unwrap();
    let mut options = Options::new(&provider);
    let protocol = (spec.new)(&mut options);
    assert_eq!(options.into_errors(), vec![], "provider options");
    let model = entry["model"].as_str().unwrap().to_string();
    let mut options = Options::new(&entry);
    let address = (spec.address)(&model, &mut options);
    assert_eq!(options.into_errors(), vec![], "backend options");
    TestBackend {
        protocol,
        base_url: (spec.base_url)(provider["base_url"].as_str().unwrap_or("http://x")),
        api_key: provider
            .get("api_key")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        model,
        address,
    }
}

impl TestBackend {
    pub fn upstream(&self) -> Upstream<'_> {
        Upstream {
            base_url: &self.base_url,
            api_key: self.api_key.as_deref(),
            model: &self.model,
            address: &self.address,
        }
    }

    /// What one attempt sends, as the attempt loop prepares it.
    pub fn build(&self, req: &Request) -> Result<UpstreamRequest, RequestError> {
        let t = self.upstream();
        Prepared::new(&*self.protocol, &t, req)?.build(&*self.protocol, &t)
    }

    /// A whole answer, in the client's API, as the attempt loop reads it.
    pub fn answer(&self, req: &Request, body: Bytes) -> Result<Answer, String> {
        let t = self.upstream();
        let prepared = Prepared::new(&*self.protocol, &t, req).map_err(|e| e.message)?;
        prepared.answer(&*self.protocol, &t, body)
    }

    /// The translator of one streamed attempt, as the attempt loop makes it.
    pub fn stream(&self, req: &Request) -> Box<dyn StreamTranslator> {
        let t = self.upstream();
        let prepared = Prepared::new(&*self.protocol, &t, req).unwrap();
        prepared.stream(&*self.protocol, &t)
    }
}

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

/// The OpenAI protocol's stream translator, with the usage chunk shown.
pub fn openai_stream() -> Box<dyn StreamTranslator> {
    Box::new(super::openai::Stream::new(true))
}
