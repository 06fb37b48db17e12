//! `GET /v1/models` and `GET /v1/models/{id}` in Anthropic's shape, for
//! clients that send `anthropic-version` (as the Anthropic SDKs do). Every
//! model is on the one page; the gateway's models have no creation date.

use axum::http::HeaderMap;
use serde_json::{json, Value};

/// Whether the request came from an Anthropic client.
pub fn wants_anthropic(headers: &HeaderMap) -> bool {
    headers.contains_key("anthropic-version")
}

/// One model object.
pub fn model(id: &str) -> Value {
    json!({"type": "model", "id": id, "display_name": id, "created_at": "1970-01-01T00:00:00Z"})
}

/// The list: all of it on one page.
pub fn list<'a>(ids: impl Iterator<Item = &'a str>) -> Value {
    let data: Vec<Value> = ids.map(model).collect();
    let first = data.first().map(|m| m["id"].clone());
    let last = data.last().map(|m| m["id"].clone());
    json!({"data": data, "has_more": false, "first_id": first, "last_id": last})
}
