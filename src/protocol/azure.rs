//! Azure OpenAI: OpenAI's body and answers, on a per-deployment URL with an
//! `api-key` header. Responses and streams are OpenAI's, so they reuse the
//! OpenAI translation unchanged. The Responses API, where the provider
//! sets `responses = true`, is Azure's v1 API (`/openai/v1/responses`),
//! which names the deployment in the body's `model`.

use std::sync::Arc;

use bytes::Bytes;

use super::options::url_safe;
use super::{
    openai, Answer, Api, Options, Protocol, Request, RequestError, Spec, StreamTranslator, Support,
    Upstream, UpstreamError, UpstreamRequest,
};

pub const SPEC: Spec = Spec {
    name: "azure",
    aliases: &[],
    provider_keys: &["api_version", "responses"],
    backend_keys: &["deployment"],
    new,
    // Azure paths start at the host root.
    base_url: |url| url.trim_end_matches('/').to_string(),
    address,
};

const SAFE: &str = "use only letters, digits, '-', '_' and '.'";

fn new(o: &mut Options) -> Arc<dyn Protocol> {
    let mut api_version = "2024-10-21".to_string();
    if let Some(v) = o.string("api_version") {
        if url_safe(v) {
            api_version = v.to_string();
        } else {
            let message = format!("invalid api version {v:?}; write e.g. \"2024-10-21\"");
            o.error("api_version", message);
        }
    }
    let openai = openai::OpenAi::new(o);
    Arc::new(Azure {
        api_version,
        openai,
    })
}

/// The deployment names the model in the URL: the `deployment` key, or the
/// model itself. Either must be URL-safe: a stray `/` or `?` would silently
/// address another resource.
fn address(model: &str, o: &mut Options) -> String {
    if let Some(d) = o.string("deployment") {
        if !url_safe(d) {
            o.error(
                "deployment",
                format!("invalid deployment name {d:?}; {SAFE}"),
            );
        }
        return d.to_string();
    }
    if !model.is_empty() && !url_safe(model) {
        let message = format!(
            "{model:?} is used as the Azure deployment in the URL; {SAFE}, or set `deployment`"
        );
        o.error("model", message);
    }
    model.to_string()
}

/// Azure OpenAI, with its `api-version`.
#[derive(Debug)]
pub struct Azure {
    api_version: String,
    /// OpenAI's answers, streams, errors and `responses` switch.
    openai: openai::OpenAi,
}

impl Azure {
    fn url(&self, t: &Upstream, path: &str) -> String {
        format!(
            "{}/openai/{path}?api-version={}",
            t.base_url, self.api_version
        )
    }

    fn headers(t: &Upstream) -> Vec<(&'static str, String)> {
        t.api_key
            .map(|k| ("api-key", k.to_string()))
            .into_iter()
            .collect()
    }
}

impl Protocol for Azure {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn build(&self, t: &Upstream, req: &Request) -> Result<UpstreamRequest, RequestError> {
        // Config validation keeps the deployment and version URL-safe.
        let d = t.address;
        let (url, model) = match req.api {
            Api::Completions => (
                self.url(t, &format!("deployments/{d}/completions")),
                t.model,
            ),
            Api::Embeddings => (self.url(t, &format!("deployments/{d}/embeddings")), t.model),
            Api::Responses => (format!("{}/openai/v1/responses", t.base_url), d),
            // The others come as chat completions (`support`).
            _ => (
                self.url(t, &format!("deployments/{d}/chat/completions")),
                t.model,
            ),
        };
        Ok(UpstreamRequest {
            url,
            headers: Self::headers(t),
            body: openai::body_for(req, model),
        })
    }

    fn answer(&self, _: &Upstream, req: &Request, body: Bytes) -> Result<Answer, String> {
        openai::answer(req, body)
    }

    fn stream(&self, _: &Upstream, req: &Request) -> Box<dyn StreamTranslator> {
        openai::stream(req)
    }

    fn error(&self, body: &[u8]) -> Option<UpstreamError> {
        super::errors::openai_error(body)
    }

    fn support(&self, api: Api) -> Support {
        self.openai.support(api)
    }

    fn api(&self) -> Option<Api> {
        Some(Api::ChatCompletions)
    }

    fn models_probe(&self, t: &Upstream) -> UpstreamRequest {
        UpstreamRequest {
            url: self.url(t, "models"),
            headers: Self::headers(t),
            body: Bytes::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::protocol::testing::backend;

    #[test]
    fn url_header_and_body() {
        let b = backend(
            "backend_type = \"azure\"\nbase_url = \"https://res.openai.azure.com/\"\napi_key = \"az-secret\"",
            "model = \"gpt-4o\"",
        );
        let req =
            Request::chat(br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#)
                .unwrap();
        let up = b.build(&req).unwrap();
        assert_eq!(
            up.url,
            "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(up.headers, vec![("api-key", "az-secret".to_string())]);
        assert!(!up.url.contains("az-secret"));
        let body: serde_json::Value = serde_json::from_slice(&up.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        );
    }

    #[test]
    fn deployment_and_api_version_override() {
        let b = backend(
            "backend_type = \"azure\"\nbase_url = \"https://res.openai.azure.com\"\napi_version = \"2025-01-01-preview\"",
            "model = \"gpt-4o\"\ndeployment = \"prod-4o\"",
        );
        let req = Request::chat(br#"{"model":"gpt-4o","messages":[]}"#).unwrap();
        let up = b.build(&req).unwrap();
        assert!(up.headers.is_empty(), "no api_key, no header");
        assert_eq!(
            up.url,
            "https://res.openai.azure.com/openai/deployments/prod-4o/chat/completions?api-version=2025-01-01-preview"
        );
    }
}
