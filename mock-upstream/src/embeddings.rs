//! Embeddings, OpenAI's (`POST /v1/embeddings`, Azure's deployment path)
//! and Gemini's (`:batchEmbedContents`), with the same vectors for the
//! same text ([`embedding`]), so a test can tell the translation kept them.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use base64::Engine;
use serde_json::{json, Value};

use crate::reply::{json as reply, openai_request, whole};
use crate::{gemini, openai, Fault, Shared};

/// Dimensions when a request asks for none.
pub const DEFAULT_DIMENSIONS: usize = 8;

/// The mock's vector for `text`: deterministic, `dimensions` long.
pub fn embedding(text: &str, dimensions: usize) -> Vec<f32> {
    (0..dimensions)
        .map(|j| {
            // FNV-1a over the text and the position.
            let mut h: u32 = 0x811c_9dc5;
            for b in text.bytes().chain((j as u32).to_le_bytes()) {
                h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
            }
            (h % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

pub(crate) async fn openai(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let (req, fault) = match openai_request(&shared, &uri, &headers, body).await {
        Ok(started) => started,
        Err(resp) => return resp,
    };
    let Some(texts) = texts(req.get("input")) else {
        let missing = openai::error_body(400, "'input' is a required property");
        return reply(400, &missing);
    };
    let dims = req
        .get("dimensions")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_DIMENSIONS, |d| d as usize);
    let base64 = req.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(index, t)| {
            let v = embedding(t, dims);
            let embedding = if base64 {
                Value::from(encode(&v))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let used: u64 = texts
        .iter()
        .map(|t| t.split_whitespace().count().max(1) as u64)
        .sum();
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-embedding");
    let body = json!({"object": "list", "data": data, "model": model,
                      "usage": {"prompt_tokens": used, "total_tokens": used}});
    whole(&fault, &body).await
}

/// The texts of `input`: a string, strings, token ids or arrays of them.
fn texts(input: Option<&Value>) -> Option<Vec<String>> {
    match input? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) if items.iter().all(Value::is_number) => Some(vec![tokens(items)]),
        Value::Array(items) => Some(
            items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => tokens(other.as_array().map_or(&[][..], Vec::as_slice)),
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Token ids stand for their text: the ids, joined.
fn tokens(ids: &[Value]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn encode(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Gemini's `batchEmbedContents`: one embedding per request, no usage (as
/// Gemini sends them).
pub(crate) async fn gemini(req: &Value, fault: &Fault) -> Response<Body> {
    let Some(requests) = req.get("requests").and_then(Value::as_array) else {
        return reply(400, &gemini::error_body(400, "requests: Field required"));
    };
    let embeddings: Vec<Value> = requests
        .iter()
        .map(|r| {
            let text = crate::script::text_of(r.pointer("/content/parts"));
            let dims = r.get("outputDimensionality").and_then(Value::as_u64);
            json!({"values": embedding(&text, dims.map_or(DEFAULT_DIMENSIONS, |d| d as usize))})
        })
        .collect();
    whole(fault, &json!({"embeddings": embeddings})).await
}
