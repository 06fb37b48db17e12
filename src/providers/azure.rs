//! Azure OpenAI: OpenAI's body and answers, on a per-deployment URL with an
//! `api-key` header. Responses and streams are OpenAI's, so they reuse the
//! OpenAI translation unchanged.

use bytes::Bytes;

use super::{openai, ChatRequest, UpstreamRequest};
use crate::config::Backend;

pub fn build_request(backend: &Backend, req: &ChatRequest) -> UpstreamRequest {
    let provider = &backend.provider;
    // Config validation keeps the deployment and version URL-safe.
    let deployment = backend
        .deployment
        .as_deref()
        .unwrap_or(&backend.upstream_model);
    let url = format!(
        "{}/openai/deployments/{deployment}/chat/completions?api-version={}",
        provider.base_url, provider.options.api_version
    );
    let mut headers = Vec::with_capacity(1);
    if let Some(key) = &provider.api_key {
        headers.push(("api-key", key.expose().to_string()));
    }
    UpstreamRequest {
        url,
        headers,
        body: Bytes::from(openai::body(req, &backend.upstream_model)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::providers::testing::model;

    fn backend(extra: &str) -> std::sync::Arc<crate::config::Model> {
        model(&format!(
            "backend_type = \"azure\"\nbase_url = \"https://res.openai.azure.com/\"\napi_key = \"az-secret\"\n{extra}"
        ), "model = \"gpt-4o\"")
    }

    #[test]
    fn url_header_and_body() {
        let m = backend("");
        let b = &m.backends[0];
        let req = ChatRequest::parse(
            br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap();
        let up = build_request(b, &req);
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
        let m = model(
            "backend_type = \"azure\"\nbase_url = \"https://res.openai.azure.com\"\napi_version = \"2025-01-01-preview\"",
            "model = \"gpt-4o\"\ndeployment = \"prod-4o\"",
        );
        let req = ChatRequest::parse(br#"{"model":"gpt-4o","messages":[]}"#).unwrap();
        let up = build_request(&m.backends[0], &req);
        assert!(up.headers.is_empty(), "no api_key, no header");
        assert_eq!(
            up.url,
            "https://res.openai.azure.com/openai/deployments/prod-4o/chat/completions?api-version=2025-01-01-preview"
        );
    }
}
