//! `POST /v1/embeddings` and `POST /v1/completions` end to end: passed
//! through to OpenAI and Azure mocks, embeddings translated for Gemini,
//! refused where the upstream has no such API, usage counted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_providers;
mod common_responses;

use base64::Engine;
use common_responses::*;
use mock_upstream::{embedding, Fault, MockServer, DEFAULT_DIMENSIONS};
use serde_json::{json, Value};

/// Embeddings model `e` with one backend `p` of `kind`.
fn embeddings_model(kind: &str, mock: &MockServer) -> String {
    let (upstream, extra) = match kind {
        "gemini" => ("gemini-embedding-001", ""),
        "azure" => ("text-embedding-3-small", "deployment = \"emb-1\""),
        _ => ("text-embedding-3-small", ""),
    };
    format!(
        "{}[models.e]\nkind = \"embeddings\"\n[[models.e.backends]]\nprovider = \"p\"\nmodel = \"{upstream}\"\n{extra}\n{}",
        provider("p", kind, mock, ""),
        user()
    )
}

fn vector(v: &Value) -> Vec<f32> {
    match v {
        Value::String(b64) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            raw.chunks(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect()
        }
        v => v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect(),
    }
}

#[tokio::test]
async fn embeddings_from_openai_azure_and_gemini() {
    for kind in ["openai", "azure", "gemini"] {
        let mock = mock(kind, Fault::default()).await;
        let url = gateway(&embeddings_model(kind, &mock)).await;
        for (format, dims) in [("float", None), ("base64", Some(4))] {
            let mut body =
                json!({"model": "e", "input": ["first text", "second"], "encoding_format": format});
            if let Some(d) = dims {
                body["dimensions"] = d.into();
            }
            let resp = post_to(&url, "/v1/embeddings", &body).await;
            assert_eq!(resp.status(), 200, "{kind} {format}");
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v["object"], "list");
            let data = v["data"].as_array().unwrap();
            assert_eq!(data.len(), 2, "{kind}: {v}");
            for (i, text) in ["first text", "second"].iter().enumerate() {
                assert_eq!(data[i]["index"], i);
                let want = embedding(text, dims.unwrap_or(DEFAULT_DIMENSIONS));
                assert_eq!(
                    vector(&data[i]["embedding"]),
                    want,
                    "{kind} {format} {text}"
                );
            }
            assert!(
                v["usage"]["prompt_tokens"].as_u64().unwrap() > 0,
                "{kind}: {v}"
            );
        }
        let sent = &mock.requests()[1];
        match kind {
            "gemini" => {
                assert_eq!(
                    sent.path,
                    "/v1beta/models/gemini-embedding-001:batchEmbedContents"
                );
                assert_eq!(sent.body["requests"][0]["outputDimensionality"], 4);
            }
            "azure" => assert!(
                sent.path
                    .starts_with("/openai/deployments/emb-1/embeddings?api-version="),
                "{}",
                sent.path
            ),
            _ => {
                assert_eq!(sent.path, "/v1/embeddings");
                // As the client wrote it (reqwest sorts the keys), the model renamed.
                let raw = std::str::from_utf8(&sent.raw).unwrap();
                assert_eq!(
                    raw,
                    r#"{"dimensions":4,"encoding_format":"base64","input":["first text","second"],"model":"text-embedding-3-small"}"#
                );
            }
        }
    }
}

#[tokio::test]
async fn token_inputs_pass_to_openai_and_are_refused_by_gemini() {
    let openai = mock("openai", Fault::default()).await;
    let url = gateway(&embeddings_model("openai", &openai)).await;
    let resp = post_to(
        &url,
        "/v1/embeddings",
        &json!({"model": "e", "input": [[1, 2], [3]]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(openai.requests()[0].body["input"], json!([[1, 2], [3]]));
    let gemini = mock("gemini", Fault::default()).await;
    let url = gateway(&embeddings_model("gemini", &gemini)).await;
    let resp = post_to(
        &url,
        "/v1/embeddings",
        &json!({"model": "e", "input": [1, 2]}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["error"]["param"].as_str(), v["error"]["code"].as_str()),
        (Some("input"), Some("unsupported_parameter"))
    );
    assert!(gemini.requests().is_empty());
}

#[tokio::test]
async fn models_serve_one_kind_and_show_it() {
    let mock = mock("openai", Fault::default()).await;
    let config = format!(
        "{}{}",
        embeddings_model("openai", &mock),
        backend("p", "gpt-4o", "")
    );
    let url = gateway(&config).await;
    let chat = post(
        &url,
        &json!({"model": "e", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(chat.status(), 400);
    let v: Value = chat.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_kind_mismatch");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/v1/embeddings"));
    let embed = post_to(
        &url,
        "/v1/embeddings",
        &json!({"model": "m", "input": "hi"}),
    )
    .await;
    assert_eq!(embed.status(), 400);
    assert!(mock.requests().is_empty());
    let models: Value = reqwest::Client::new()
        .get(format!("{url}/v1/models"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<(&str, &str)> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("e", "embeddings"), ("m", "chat")]);
}

#[tokio::test]
async fn embedding_tokens_count_against_the_limits() {
    let mock = mock("openai", Fault::default()).await;
    let config = embeddings_model("openai", &mock).replace(
        "[users.u]\n",
        "[users.u]\nrate_limit = { tokens_per_minute = 35 }\n",
    );
    let url = gateway(&config).await;
    // 40 one-letter words: about 26 tokens by the body's size, which the
    // limit admits, but 40 as the mock reports them, which it does not.
    let body = json!({"model": "e", "input": "a ".repeat(40)});
    assert_eq!(post_to(&url, "/v1/embeddings", &body).await.status(), 200);
    assert_eq!(mock.requests().len(), 1);
    let again = post_to(&url, "/v1/embeddings", &json!({"model": "e", "input": "x"})).await;
    assert_eq!(
        again.status(),
        429,
        "the reported usage was counted, not the estimate"
    );
}

fn completions_model(kind: &str, mock: &MockServer) -> String {
    let extra = if kind == "azure" {
        "deployment = \"inst\""
    } else {
        ""
    };
    format!(
        "{}{}{}",
        provider("p", kind, mock, ""),
        backend("p", "gpt-3.5-turbo-instruct", extra),
        user()
    )
}

#[tokio::test]
async fn text_completions_pass_through_whole_and_streamed() {
    for kind in ["openai", "azure"] {
        let mock = mock(kind, Fault::default()).await;
        let url = gateway(&completions_model(kind, &mock)).await;
        let resp = post_to(
            &url,
            "/v1/completions",
            &json!({"model": "m", "prompt": "Say this", "max_tokens": 16}),
        )
        .await;
        assert_eq!(resp.status(), 200, "{kind}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["object"], "text_completion");
        assert_eq!(
            v["choices"][0]["text"],
            format!("Hello from {kind}. You said: Say this ")
        );
        let resp = post_to(
            &url,
            "/v1/completions",
            &json!({"model": "m", "prompt": "Say this", "stream": true}),
        )
        .await;
        assert_eq!(resp.status(), 200);
        let text = resp.text().await.unwrap();
        let chunks: Vec<&str> = text
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .collect();
        assert_eq!(chunks.last(), Some(&"[DONE]"), "{kind}");
        let joined: String = chunks
            .iter()
            .filter_map(|c| serde_json::from_str::<Value>(c).ok())
            .inspect(|c| assert!(c.get("usage").is_none(), "usage only when asked: {c}"))
            .filter_map(|c| c["choices"][0]["text"].as_str().map(str::to_string))
            .collect();
        assert_eq!(joined, format!("Hello from {kind}. You said: Say this "));
        let sent = &mock.requests()[1];
        assert_eq!(
            sent.body["stream_options"]["include_usage"], true,
            "usage is always asked for"
        );
        let path = if kind == "azure" {
            "/openai/deployments/inst/completions?"
        } else {
            "/v1/completions"
        };
        assert!(sent.path.starts_with(path), "{}", sent.path);
    }
}

#[tokio::test]
async fn text_completions_are_refused_naming_the_endpoint_on_native_protocols() {
    for kind in ["anthropic", "gemini"] {
        let mock = mock(kind, Fault::default()).await;
        let url = gateway(&completions_model(kind, &mock)).await;
        let resp = post_to(
            &url,
            "/v1/completions",
            &json!({"model": "m", "prompt": "x"}),
        )
        .await;
        assert_eq!(resp.status(), 400, "{kind}");
        let v: Value = resp.json().await.unwrap();
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!(
                "the /v1/completions endpoint is not supported on {kind} backends"
            )),
            "{message}"
        );
        assert!(mock.requests().is_empty());
    }
}
