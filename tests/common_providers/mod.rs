//! Helpers for the provider integration tests: an in-process gateway in
//! front of mock upstreams, and an OpenAI client view of its answers.

#![allow(dead_code)]

use mock_upstream::{Fault, MockConfig, MockServer};
use serde_json::{json, Value};

pub const TOKEN: &str = "user-token-123";

/// A gateway serving `config`, on an OS-chosen port; returns its base URL.
pub async fn gateway(config: &str) -> String {
    let config = switchyard::config::parse(config, &|_| None).expect("test config");
    let state = switchyard::state::AppState::new(config).expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(switchyard::server::serve(
        listener,
        state,
        std::future::pending(),
    ));
    url
}

pub async fn mock(name: &str, fault: Fault) -> MockServer {
    MockServer::start(MockConfig::new(name).with_fault(fault))
        .await
        .expect("mock")
}

/// A provider table for `mock`, with the key `key-{id}`; `extra` adds lines.
pub fn provider(id: &str, kind: &str, mock: &MockServer, extra: &str) -> String {
    let base = match kind {
        "openai" => format!("{}/v1", mock.url()),
        _ => mock.url(),
    };
    format!(
        "[providers.{id}]\nbackend_type = \"{kind}\"\nbase_url = \"{base}\"\napi_key = \"key-{id}\"\n{extra}\n"
    )
}

/// A backend of model `m`; `extra` adds lines (priority, deployment...).
pub fn backend(provider: &str, upstream: &str, extra: &str) -> String {
    format!("[[models.m.backends]]\nprovider = \"{provider}\"\nmodel = \"{upstream}\"\n{extra}\n")
}

pub fn user() -> String {
    format!("[users.u]\ntoken = \"{TOKEN}\"\n")
}

pub async fn post(url: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .expect("request")
}

pub fn weather_tool() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
}

/// What an OpenAI client makes of an answer, streamed or not.
#[derive(Debug, Default)]
pub struct Answer {
    pub text: String,
    /// (id, name, arguments)
    pub tool_calls: Vec<(String, String, String)>,
    pub finish_reason: Option<String>,
    pub usage: Option<Value>,
    /// Streams only: ended with `[DONE]`.
    pub done: bool,
    /// Streams only: an error event arrived.
    pub error: Option<Value>,
    /// `reasoning_content`.
    pub reasoning: String,
    /// The assistant message as a client that keeps every field (the
    /// OpenAI SDKs' `model_dump()`) sends it back on the next turn.
    pub message: Value,
}

impl Answer {
    pub fn from_completion(v: &Value) -> Answer {
        let msg = &v["choices"][0]["message"];
        let calls = msg["tool_calls"].as_array().cloned().unwrap_or_default();
        Answer {
            text: msg["content"].as_str().unwrap_or("").to_string(),
            tool_calls: calls
                .iter()
                .map(|c| {
                    let s = |p: &str| {
                        c.pointer(p)
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string()
                    };
                    (s("/id"), s("/function/name"), s("/function/arguments"))
                })
                .collect(),
            finish_reason: v["choices"][0]["finish_reason"]
                .as_str()
                .map(str::to_string),
            usage: v.get("usage").cloned(),
            done: false,
            error: None,
            reasoning: msg["reasoning_content"].as_str().unwrap_or("").to_string(),
            message: msg.clone(),
        }
    }

    /// Folds SSE chunks the way OpenAI's SDKs do: tool calls by `index`,
    /// id and name from their first delta, arguments concatenated.
    pub fn from_stream(text: &str) -> Answer {
        let mut a = Answer::default();
        let mut message = json!({"role": "assistant", "content": null});
        for data in text.split("\n\n").filter_map(|e| e.strip_prefix("data: ")) {
            if data == "[DONE]" {
                a.done = true;
                continue;
            }
            let chunk: Value = serde_json::from_str(data).expect("chunk JSON");
            if chunk.get("error").is_some() {
                a.error = chunk.get("error").cloned();
                continue;
            }
            if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
                a.usage = Some(u.clone());
            }
            let Some(choice) = chunk["choices"].get(0) else {
                continue;
            };
            if let Some(f) = choice["finish_reason"].as_str() {
                a.finish_reason = Some(f.to_string());
            }
            a.fold_delta(&choice["delta"], &mut message);
        }
        if !a.text.is_empty() {
            message["content"] = a.text.clone().into();
        }
        if !a.reasoning.is_empty() {
            message["reasoning_content"] = a.reasoning.clone().into();
        }
        a.message = message;
        a
    }

    /// Extra fields gathered as an SDK's accumulator does: arrays extend,
    /// other values replace; tool calls' extras stay with their call.
    fn fold_delta(&mut self, delta: &Value, message: &mut Value) {
        if let Some(t) = delta["content"].as_str() {
            self.text.push_str(t);
        }
        if let Some(t) = delta["reasoning_content"].as_str() {
            self.reasoning.push_str(t);
        }
        for key in ["extra_content", "thinking_blocks"] {
            match (&delta[key], &mut message[key]) {
                (Value::Null, _) => {}
                (Value::Array(more), Value::Array(have)) => have.extend(more.iter().cloned()),
                (v, slot) => *slot = v.clone(),
            }
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let i = call["index"].as_u64().expect("tool call index") as usize;
            let calls = &mut message["tool_calls"];
            if calls.is_null() {
                *calls = json!([]);
            }
            let calls = calls.as_array_mut().expect("tool calls");
            if i == calls.len() {
                calls.push(json!({"id": "", "type": "function", "function": {"name": "", "arguments": ""}}));
            }
            let entry = &mut calls[i];
            for key in ["id", "extra_content"] {
                if !call[key].is_null() {
                    entry[key] = call[key].clone();
                }
            }
            if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                entry["function"]["name"] = name.into();
            }
            if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
                let so_far = entry["function"]["arguments"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                entry["function"]["arguments"] = (so_far + args).into();
            }
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let i = call["index"].as_u64().expect("tool call index") as usize;
            if i == self.tool_calls.len() {
                self.tool_calls.push(Default::default());
            }
            let entry = &mut self.tool_calls[i];
            if let Some(id) = call["id"].as_str() {
                entry.0 = id.to_string();
            }
            if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                entry.1 = name.to_string();
            }
            if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
                entry.2.push_str(args);
            }
        }
    }
}

/// Sends `body` (streamed or not) and reads the answer as a client would.
pub async fn ask(
    url: &str,
    body: &Value,
) -> (reqwest::StatusCode, Answer, reqwest::header::HeaderMap) {
    let resp = post(url, body).await;
    let status = resp.status();
    let headers = resp.headers().clone();
    let stream = body["stream"].as_bool() == Some(true);
    let text = resp.text().await.expect("body");
    let answer = if stream && status.is_success() {
        Answer::from_stream(&text)
    } else {
        let v: Value = serde_json::from_str(&text).expect("JSON body");
        if !status.is_success() {
            return (
                status,
                Answer {
                    error: Some(v),
                    ..Answer::default()
                },
                headers,
            );
        }
        Answer::from_completion(&v)
    };
    (status, answer, headers)
}
