//! Active health checks in each backend's own protocol, with its own key
//! and headers. A protocol adds one match arm to [`models_request`]; chat
//! probes go through [`super::build_request`] like any request.

use axum::http::Method;
use bytes::Bytes;

use super::{ChatRequest, RequestError, UpstreamRequest};
use crate::config::{Backend, BackendType, ProbeKind};

/// One probe: a method plus the same parts as any upstream request.
pub struct ProbeRequest {
    pub method: Method,
    pub upstream: UpstreamRequest,
}

/// The probe of `kind` for `backend`; `None` for [`ProbeKind::None`].
pub fn probe_request(
    backend: &Backend,
    kind: ProbeKind,
) -> Result<Option<ProbeRequest>, RequestError> {
    match kind {
        ProbeKind::None => Ok(None),
        ProbeKind::Models => Ok(Some(ProbeRequest {
            method: Method::GET,
            upstream: models_request(backend),
        })),
        ProbeKind::Chat => {
            let req = ChatRequest::parse(CHAT_PROBE)?;
            Ok(Some(ProbeRequest {
                method: Method::POST,
                upstream: super::build_request(backend, &req)?,
            }))
        }
    }
}

/// The smallest completion that still exercises the model.
const CHAT_PROBE: &[u8] =
    br#"{"model":"probe","messages":[{"role":"user","content":"ping"}],"max_tokens":1}"#;

/// The free "list models" call of each protocol, with its own credentials.
fn models_request(backend: &Backend) -> UpstreamRequest {
    let provider = &backend.provider;
    let key = provider.api_key.as_ref().map(|k| k.expose().to_string());
    let (url, mut headers) = match provider.backend_type {
        BackendType::OpenAi => (
            format!("{}/models", provider.base_url),
            key.map(|k| ("authorization", format!("Bearer {k}")))
                .into_iter()
                .collect(),
        ),
        BackendType::Azure => (
            format!(
                "{}/openai/models?api-version={}",
                provider.base_url, provider.options.api_version
            ),
            key.map(|k| ("api-key", k)).into_iter().collect(),
        ),
        BackendType::Anthropic => (
            format!("{}/v1/models", provider.base_url),
            key.map(|k| ("x-api-key", k))
                .into_iter()
                .collect::<Vec<_>>(),
        ),
        BackendType::Gemini => (
            format!("{}/v1beta/models", provider.base_url),
            key.map(|k| ("x-goog-api-key", k)).into_iter().collect(),
        ),
    };
    if provider.backend_type == BackendType::Anthropic {
        headers.push((
            "anthropic-version",
            provider.options.anthropic_version.clone(),
        ));
    }
    UpstreamRequest {
        url,
        headers,
        body: Bytes::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::model;

    fn probe(provider_toml: &str) -> UpstreamRequest {
        let m = model(provider_toml, "model = \"x\"");
        let p = probe_request(&m.backends[0], ProbeKind::Models)
            .unwrap()
            .unwrap();
        assert_eq!(p.method, Method::GET);
        p.upstream
    }

    fn header<'a>(r: &'a UpstreamRequest, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn models_probes_speak_each_protocol() {
        let r = probe("base_url = \"https://api.openai.com\"\napi_key = \"k1\"");
        assert_eq!(
            (r.url.as_str(), header(&r, "authorization")),
            ("https://api.openai.com/v1/models", Some("Bearer k1"))
        );
        let r = probe("backend_type = \"anthropic\"\nbase_url = \"https://api.anthropic.com\"\napi_key = \"k2\"");
        assert_eq!(
            (r.url.as_str(), header(&r, "x-api-key")),
            ("https://api.anthropic.com/v1/models", Some("k2"))
        );
        assert!(header(&r, "anthropic-version").is_some());
        let r =
            probe("backend_type = \"gemini\"\nbase_url = \"https://g.example\"\napi_key = \"k3\"");
        assert_eq!(
            (r.url.as_str(), header(&r, "x-goog-api-key")),
            ("https://g.example/v1beta/models", Some("k3"))
        );
        assert!(!r.url.contains("k3"), "the key never goes in the URL");
        let r = probe("backend_type = \"azure\"\nbase_url = \"https://res.openai.azure.com\"\napi_key = \"k4\"");
        assert!(
            r.url
                .starts_with("https://res.openai.azure.com/openai/models?api-version="),
            "{}",
            r.url
        );
        assert_eq!(header(&r, "api-key"), Some("k4"));
    }
}
