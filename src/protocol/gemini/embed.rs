//! OpenAI embeddings → Gemini `models/{model}:batchEmbedContents`, one
//! request per input text, and the embeddings back as OpenAI's list.

use base64::Engine;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::protocol::input::{Input, Policy};
use crate::protocol::{Answer, Request, RequestError, Upstream, UpstreamRequest, Usage};

fn policy(name: &str) -> Option<Policy> {
    match name {
        "input" | "dimensions" | "encoding_format" => Some(Policy::Mapped),
        // An abuse-tracking id: Gemini has none, and it changes no vector.
        "user" => Some(Policy::Dropped),
        _ => None,
    }
}

pub(super) fn build(t: &Upstream, req: &Request) -> Result<UpstreamRequest, RequestError> {
    let input = Input::new(req, "gemini", policy)?;
    let texts = texts(&input)?;
    encoding(&input)?;
    let resource = super::resource(t);
    let dimensions = input.uint("dimensions")?;
    let requests: Vec<Value> = texts
        .iter()
        .map(|text| {
            let mut r = json!({"model": resource, "content": {"parts": [{"text": text}]}});
            if let Some(d) = dimensions {
                r["outputDimensionality"] = d.into();
            }
            r
        })
        .collect();
    Ok(UpstreamRequest {
        url: format!("{}/v1beta/{resource}:batchEmbedContents", t.base_url),
        headers: super::headers(t),
        body: Bytes::from(json!({"requests": requests}).to_string()),
    })
}

/// `input` as texts: Gemini takes no token ids.
fn texts(input: &Input) -> Result<Vec<String>, RequestError> {
    let tokens = || {
        input.unsupported(
            "input",
            "as token ids is not supported (they are OpenAI's tokenizer's)",
        )
    };
    match input.get("input") {
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                _ => Err(tokens()),
            })
            .collect(),
        Some(Value::Array(_)) => Err(input.unsupported("input", "must not be empty")),
        _ => Err(tokens()),
    }
}

/// Whether the vectors go back as base64 (of little-endian f32s, as OpenAI
/// sends them) rather than arrays of numbers.
fn encoding(input: &Input) -> Result<bool, RequestError> {
    match input.string("encoding_format")? {
        None | Some("float") => Ok(false),
        Some("base64") => Ok(true),
        Some(_) => Err(input.unsupported("encoding_format", "must be float or base64")),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Batch {
    #[serde(default)]
    embeddings: Vec<Embedding>,
    usage_metadata: Option<Counted>,
}

#[derive(Deserialize)]
struct Embedding {
    #[serde(default)]
    values: Vec<f32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Counted {
    prompt_token_count: Option<u64>,
}

pub(super) fn answer(t: &Upstream, req: &Request, body: Bytes) -> Result<Answer, String> {
    let batch: Batch =
        serde_json::from_slice(&body).map_err(|e| format!("upstream sent invalid JSON: {e}"))?;
    let input = Input::new(req, "gemini", policy).map_err(|e| e.to_string())?;
    let base64 = encoding(&input).map_err(|e| e.to_string())?;
    let data: Vec<Value> = batch
        .embeddings
        .iter()
        .enumerate()
        .map(|(index, e)| {
            let embedding = match base64 {
                true => Value::from(encode(&e.values)),
                false => Value::from(e.values.clone()),
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    // Gemini may not count tokens for embeddings: then a quarter of the
    // characters stands in, for the usage and the limits.
    let estimate = || {
        let chars: usize = texts(&input)
            .unwrap_or_default()
            .iter()
            .map(|t| t.chars().count())
            .sum();
        chars.div_ceil(4) as u64
    };
    let tokens = batch
        .usage_metadata
        .and_then(|u| u.prompt_token_count)
        .unwrap_or_else(estimate);
    let body = json!({
        "object": "list", "data": data, "model": t.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    });
    Ok(Answer {
        state: None,
        body: Bytes::from(body.to_string()),
        usage: Some(Usage {
            prompt_tokens: tokens,
            ..Usage::default()
        }),
    })
}

fn encode(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::backend;
    use crate::protocol::Api;

    fn gemini() -> crate::protocol::testing::TestBackend {
        backend(
            "backend_type = \"gemini\"\nbase_url = \"https://g\"",
            "model = \"gemini-embedding-001\"",
        )
    }

    fn req(body: &str) -> Request {
        Request::parse(Api::Embeddings, None, bytes::Bytes::from(body.to_string())).unwrap()
    }

    #[test]
    fn one_request_per_text_with_dimensions() {
        let up = gemini()
            .build(&req(
                r#"{"model":"e","input":["a","b"],"dimensions":8,"user":"u"}"#,
            ))
            .unwrap();
        assert_eq!(
            up.url,
            "https://g/v1beta/models/gemini-embedding-001:batchEmbedContents"
        );
        let body: Value = serde_json::from_slice(&up.body).unwrap();
        assert_eq!(
            body["requests"][1],
            json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}, "outputDimensionality": 8})
        );
    }

    #[test]
    fn token_ids_and_unknown_fields_are_refused() {
        let b = gemini();
        assert_eq!(
            b.build(&req(r#"{"model":"e","input":[1,2]}"#))
                .err()
                .unwrap()
                .param
                .as_deref(),
            Some("input")
        );
        assert!(b.build(&req(r#"{"model":"e","input":"a","x":1}"#)).is_err());
        let bad = b.build(&req(r#"{"model":"e","input":"a","encoding_format":"hex"}"#));
        assert_eq!(bad.err().unwrap().param.as_deref(), Some("encoding_format"));
    }

    #[test]
    fn answers_as_floats_or_base64() {
        let b = gemini();
        let body =
            Bytes::from_static(br#"{"embeddings":[{"values":[1.0,-0.5]},{"values":[0.25,0]}]}"#);
        let r = req(r#"{"model":"e","input":["abcd","efgh"]}"#);
        let a = answer(&b.upstream(), &r, body.clone()).unwrap();
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["data"][0]["embedding"], json!([1.0, -0.5]));
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["usage"], json!({"prompt_tokens": 2, "total_tokens": 2}));
        let r = req(r#"{"model":"e","input":["abcd","efgh"],"encoding_format":"base64"}"#);
        let v: Value =
            serde_json::from_slice(&answer(&b.upstream(), &r, body).unwrap().body).unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(v["data"][0]["embedding"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            raw,
            [1.0f32.to_le_bytes(), (-0.5f32).to_le_bytes()].concat()
        );
    }
}
