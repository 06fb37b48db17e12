//! Helpers for the Responses, embeddings and completions tests: posting to
//! any endpoint, and reading a Responses event stream the way the SDKs do,
//! checking on the way that it is well formed.

#![allow(dead_code)]

use mock_upstream::MockServer;
use serde_json::Value;

pub use crate::common_providers::*;

/// POSTs `body` to `path` with the test token.
pub async fn post_to(url: &str, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}{path}"))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .expect("request")
}

/// An SSE body as `(event name, data)` pairs.
pub fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = String::new();
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            let data = serde_json::from_str(&data)
                .unwrap_or_else(|_| panic!("event data is not JSON: {e:?}"));
            (name, data)
        })
        .collect()
}

/// What a Responses client makes of an answer.
#[derive(Debug, Default)]
pub struct Folded {
    /// The final `response` object (of `response.completed` or `.incomplete`).
    pub response: Value,
    /// The text of the `output_text` deltas.
    pub text: String,
    /// `(type, call_id, name, arguments or input)` of the output calls.
    pub calls: Vec<(String, String, String, String)>,
}

impl Folded {
    pub fn output_text(&self) -> String {
        output_text(&self.response)
    }
}

/// The `output_text` of a `response` object, as the SDKs' property joins it.
pub fn output_text(response: &Value) -> String {
    let items = response["output"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["type"] == "output_text")
        .filter_map(|p| p["text"].as_str().map(str::to_string))
        .collect()
}

/// The calls among a `response` object's output items.
pub fn calls(response: &Value) -> Vec<(String, String, String, String)> {
    let items = response["output"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter(|i| {
            matches!(
                i["type"].as_str(),
                Some("function_call" | "custom_tool_call")
            )
        })
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap_or("").to_string();
            let args = if i["type"] == "custom_tool_call" {
                s("input")
            } else {
                s("arguments")
            };
            (s("type"), s("call_id"), s("name"), args)
        })
        .collect()
}

/// Checks the Responses event sequence: typed events numbered 0, 1, ...,
/// `response.created` first, every added item done, and one clean end,
/// last. Returns what a client folds from it.
pub fn well_formed(events: &[(String, Value)]) -> Result<Folded, String> {
    let first = events.first().ok_or("no events")?;
    if first.0 != "response.created" {
        return Err(format!("first event is {}", first.0));
    }
    let mut added = Vec::new();
    let mut done = Vec::new();
    let mut folded = Folded::default();
    for (i, (name, data)) in events.iter().enumerate() {
        if data["type"] != name.as_str() {
            return Err(format!(
                "event {i}: named {name} but typed {}",
                data["type"]
            ));
        }
        if data["sequence_number"].as_u64() != Some(i as u64) {
            return Err(format!(
                "event {i} ({name}) has sequence_number {}",
                data["sequence_number"]
            ));
        }
        match name.as_str() {
            "response.output_item.added" => added.push(data["output_index"].as_u64()),
            "response.output_item.done" => done.push(data["output_index"].as_u64()),
            "response.output_text.delta" => {
                folded.text.push_str(data["delta"].as_str().unwrap_or(""))
            }
            "response.failed" | "error" => return Err(format!("stream failed: {data}")),
            "response.completed" | "response.incomplete" if i + 1 != events.len() => {
                return Err(format!("{name} is not the last event"))
            }
            "response.completed" | "response.incomplete" => {
                folded.response = data["response"].clone()
            }
            _ => {}
        }
    }
    if folded.response.is_null() {
        return Err("no response.completed".into());
    }
    if added != done {
        return Err(format!("items added {added:?} but done {done:?}"));
    }
    folded.calls = calls(&folded.response);
    Ok(folded)
}

/// A streamed Responses request: its status and events.
pub async fn stream(url: &str, body: &Value) -> (u16, Vec<(String, Value)>) {
    let resp = post_to(url, "/v1/responses", body).await;
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    if status != 200 {
        panic!("HTTP {status}: {text}");
    }
    (status, events(&text))
}

/// A whole Responses request: its status and JSON body.
pub async fn create(url: &str, body: &Value) -> (u16, Value) {
    let resp = post_to(url, "/v1/responses", body).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

/// The `param` of an OpenAI-shaped error answer.
pub async fn error_param(resp: reqwest::Response) -> String {
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"]["message"].is_string(), "{v}");
    v["error"]["param"].as_str().unwrap_or("").to_string()
}

/// Model `m` with one backend `p` of `kind` (`responses` = an OpenAI
/// provider that speaks the Responses API).
pub fn single(kind: &str, mock: &MockServer) -> String {
    let (kind, extra, upstream, backend_extra) = match kind {
        "responses" => ("openai", "responses = true", "up-model", ""),
        "anthropic" => ("anthropic", "", "claude-sonnet-4", ""),
        "gemini" => ("gemini", "", "gemini-2.5-flash", ""),
        "azure" => ("azure", "", "gpt-4o", "deployment = \"dep-1\""),
        _ => ("openai", "", "gpt-4o", ""),
    };
    format!(
        "{}{}{}",
        provider("p", kind, mock, extra),
        backend("p", upstream, backend_extra),
        user()
    )
}
