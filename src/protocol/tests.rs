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

/// The usage of a whole answer from each protocol, in OpenAI's terms.
fn usage_of(provider_toml: &str, body: serde_json::Value) -> super::Usage {
    let b = backend(provider_toml, "model = \"x\"");
    let req = super::Request::chat(br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
        .unwrap();
    let body = bytes::Bytes::from(body.to_string());
    b.protocol
        .answer(&b.upstream(), &req, body)
        .unwrap()
        .usage
        .unwrap()
}

#[test]
fn cached_cache_write_and_reasoning_tokens_are_broken_out_of_the_totals() {
    let openai = usage_of(
        "base_url = \"http://x\"",
        serde_json::json!({"usage": {"prompt_tokens": 100, "completion_tokens": 50,
            "prompt_tokens_details": {"cached_tokens": 80},
            "completion_tokens_details": {"reasoning_tokens": 20}}}),
    );
    let anthropic = usage_of(
        "backend_type = \"anthropic\"\nbase_url = \"http://x\"",
        serde_json::json!({"content": [], "stop_reason": "end_turn", "usage": {
            "input_tokens": 10, "output_tokens": 50,
            "cache_creation_input_tokens": 10, "cache_read_input_tokens": 80}}),
    );
    let gemini = usage_of(
        "backend_type = \"gemini\"\nbase_url = \"http://x\"",
        serde_json::json!({"candidates": [], "usageMetadata": {"promptTokenCount": 100,
            "candidatesTokenCount": 30, "cachedContentTokenCount": 80, "thoughtsTokenCount": 20}}),
    );
    let tuple = |u: super::Usage| {
        let (p, c) = (u.prompt_tokens, u.completion_tokens);
        (
            p,
            u.cached_tokens,
            u.cache_write_tokens,
            c,
            u.reasoning_tokens,
        )
    };
    assert_eq!(tuple(openai), (100, 80, 0, 50, 20));
    assert_eq!(tuple(anthropic), (100, 80, 10, 50, 0));
    assert_eq!(tuple(gemini), (100, 80, 0, 50, 20));
}
