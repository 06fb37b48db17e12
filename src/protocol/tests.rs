//! Tests of what every protocol supplies alike.

use super::testing::backend;
use super::UpstreamRequest;

fn probe(provider_toml: &str) -> UpstreamRequest {
    let b = backend(provider_toml, "model = \"x\"");
    b.protocol.models_probe(&b.upstream())
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
    let r = probe(
        "backend_type = \"anthropic\"\nbase_url = \"https://api.anthropic.com\"\napi_key = \"k2\"",
    );
    assert_eq!(
        (r.url.as_str(), header(&r, "x-api-key")),
        ("https://api.anthropic.com/v1/models", Some("k2"))
    );
    assert!(header(&r, "anthropic-version").is_some());
    let r = probe("backend_type = \"gemini\"\nbase_url = \"https://g.example\"\napi_key = \"k3\"");
    assert_eq!(
        (r.url.as_str(), header(&r, "x-goog-api-key")),
        ("https://g.example/v1beta/models", Some("k3"))
    );
    assert!(!r.url.contains("k3"), "the key never goes in the URL");
    let r = probe(
        "backend_type = \"azure\"\nbase_url = \"https://res.openai.azure.com\"\napi_key = \"k4\"",
    );
    assert!(
        r.url
            .starts_with("https://res.openai.azure.com/openai/models?api-version="),
        "{}",
        r.url
    );
    assert_eq!(header(&r, "api-key"), Some("k4"));
}

#[test]
fn every_protocol_is_found_by_its_names() {
    for name in ["openai", "anthropic", "claude", "gemini", "azure"] {
        assert!(super::spec(name).is_some(), "{name}");
    }
    assert!(super::spec("cohere").is_none());
}
