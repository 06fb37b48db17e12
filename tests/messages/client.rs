//! An Anthropic client's view of the gateway: raw requests to
//! `/v1/messages`, and streams checked event by event and folded into the
//! message they describe, the way the Anthropic SDKs accumulate them.

use serde_json::{json, Value};

use super::common_providers::TOKEN;

pub const VERSION: &str = "2023-06-01";

/// Sends `body` as it is (bytes, not re-serialised) to `path`.
pub async fn send(url: &str, path: &str, body: &[u8], extra: &[(&str, &str)]) -> reqwest::Response {
    let mut rb = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .header("x-api-key", TOKEN)
        .header("anthropic-version", VERSION)
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in extra {
        rb = rb.header(*k, *v);
    }
    rb.send().await.expect("request")
}

pub async fn messages(url: &str, body: &Value) -> reqwest::Response {
    send(url, "/v1/messages", body.to_string().as_bytes(), &[]).await
}

/// `POST /v1/messages/count_tokens`: the count, after checking for a 200.
pub async fn count_tokens(url: &str, body: &Value) -> Value {
    let path = "/v1/messages/count_tokens";
    let resp = send(url, path, body.to_string().as_bytes(), &[]).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("JSON count")
}

/// A request for model `m` asking `text`.
pub fn ask(text: &str, extra: Value) -> Value {
    let mut body = json!({"model": "m", "max_tokens": 256,
        "messages": [{"role": "user", "content": text}]});
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    body
}

pub fn bash_tool() -> Value {
    json!([{"name": "Bash", "description": "Run a shell command",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}])
}

/// Named SSE events: (event name, data).
pub fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or("");
            let data: String = e.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
            let data: Value =
                serde_json::from_str(&data).unwrap_or_else(|err| panic!("{err}: {e}"));
            (name.to_string(), data)
        })
        .collect()
}

/// What a stream said, folded into a message.
#[derive(Debug, Default)]
pub struct Folded {
    pub message: Value,
    pub content: Vec<Value>,
    pub stop_reason: Option<String>,
    pub usage: Value,
    /// The stream ended with an `error` event (and nothing after it).
    pub error: Option<Value>,
}

impl Folded {
    pub fn text(&self) -> String {
        let texts = self.content.iter().filter(|b| b["type"] == "text");
        texts.filter_map(|b| b["text"].as_str()).collect()
    }

    pub fn tool_uses(&self) -> Vec<&Value> {
        self.content
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .collect()
    }
}

/// Checks that `events` is a well-formed Anthropic event sequence and folds
/// it: `message_start` first; blocks opened, filled and closed one at a
/// time with indices 0, 1, ...; deltas of their block's kind; one
/// `message_delta`; `message_stop` last; `ping` anywhere; or an `error`
/// event as the very last event.
pub fn fold(events: &[(String, Value)]) -> Result<Folded, String> {
    let mut f = Folded::default();
    let mut open: Option<(u64, Value, String)> = None;
    let mut stopped = false;
    for (i, (name, data)) in events.iter().enumerate() {
        if data["type"] != name.as_str() {
            return Err(format!(
                "event {i}: name {name:?} but type {}",
                data["type"]
            ));
        }
        if stopped {
            return Err(format!("event {i} ({name}) after message_stop"));
        }
        match name.as_str() {
            "message_start" if i == 0 => {
                f.message = data["message"].clone();
                f.usage = f.message["usage"].clone();
            }
            _ if i == 0 => return Err(format!("first event is {name}, not message_start")),
            "ping" => {}
            "content_block_start" => {
                if open.is_some() {
                    return Err(format!("event {i}: a block starts while another is open"));
                }
                let index = data["index"].as_u64().ok_or("block start without index")?;
                if index != f.content.len() as u64 {
                    return Err(format!(
                        "event {i}: block index {index}, expected {}",
                        f.content.len()
                    ));
                }
                open = Some((index, data["content_block"].clone(), String::new()));
            }
            "content_block_delta" => {
                let (index, block, json) = open
                    .as_mut()
                    .ok_or(format!("event {i}: delta without open block"))?;
                if data["index"] != *index {
                    return Err(format!(
                        "event {i}: delta for block {} while {index} is open",
                        data["index"]
                    ));
                }
                delta(block, json, &data["delta"]).map_err(|e| format!("event {i}: {e}"))?;
            }
            "content_block_stop" => {
                let (index, mut block, json) = open
                    .take()
                    .ok_or(format!("event {i}: stop without open block"))?;
                if data["index"] != index {
                    return Err(format!(
                        "event {i}: stop for block {} while {index} is open",
                        data["index"]
                    ));
                }
                if block["type"] == "tool_use" {
                    block["input"] = if json.is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&json)
                            .map_err(|e| format!("tool input {json:?}: {e}"))?
                    };
                }
                f.content.push(block);
            }
            "message_delta" => {
                if f.stop_reason.is_some() {
                    return Err(format!("event {i}: a second message_delta"));
                }
                f.stop_reason = data["delta"]["stop_reason"].as_str().map(str::to_string);
                for (k, v) in data["usage"].as_object().into_iter().flatten() {
                    f.usage[k] = v.clone();
                }
            }
            "message_stop" => {
                if open.is_some() || f.stop_reason.is_none() {
                    return Err(format!(
                        "event {i}: message_stop with a block open or no message_delta"
                    ));
                }
                stopped = true;
            }
            "error" if i == events.len() - 1 => f.error = Some(data["error"].clone()),
            other => return Err(format!("event {i}: unexpected {other:?}")),
        }
    }
    if !stopped && f.error.is_none() {
        return Err("the stream ended without message_stop or an error event".into());
    }
    Ok(f)
}

fn delta(block: &mut Value, json: &mut String, d: &Value) -> Result<(), String> {
    let append = |block: &mut Value, key: &str, add: &Value| {
        let s = add.as_str().ok_or(format!("{key} is not a string"))?;
        let old = block[key].as_str().unwrap_or("").to_string();
        block[key] = (old + s).into();
        Ok::<_, String>(())
    };
    match (block["type"].as_str(), d["type"].as_str()) {
        (Some("text"), Some("text_delta")) => append(block, "text", &d["text"]),
        (Some("thinking"), Some("thinking_delta")) => append(block, "thinking", &d["thinking"]),
        (Some("thinking"), Some("signature_delta")) => append(block, "signature", &d["signature"]),
        (Some("tool_use"), Some("input_json_delta")) => {
            json.push_str(
                d["partial_json"]
                    .as_str()
                    .ok_or("partial_json is not a string")?,
            );
            Ok(())
        }
        (b, k) => Err(format!("a {k:?} delta in a {b:?} block")),
    }
}

/// Reads a streamed response and folds it, panicking on a malformed stream.
pub async fn stream(resp: reqwest::Response) -> Folded {
    let ct = resp.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("text/event-stream"), "content-type {ct}");
    let text = resp.text().await.expect("body");
    fold(&events(&text)).unwrap_or_else(|e| panic!("{e}\n{text}"))
}
