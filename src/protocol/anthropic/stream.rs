//! Anthropic stream events → OpenAI `chat.completion.chunk`s.
//!
//! `message_start` gives the id, model and input usage (and our role
//! chunk); content blocks stream text, thinking (`reasoning_content`, then
//! the signed block whole in `thinking_blocks` at its end), or tool calls as
//! a `tool_use` start then `input_json_delta` fragments; `message_delta`
//! gives the stop reason and output usage; `message_stop` ends it.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{finish_reason, AnthropicUsage};
use crate::protocol::output::Chunks;
use crate::protocol::sse::SseEvent;
use crate::protocol::{carry, error_summary, EventInfo, StreamError, StreamTranslator};

/// One event, parsed flat in a single pass: an internally tagged enum
/// would first buffer every event into serde's intermediate tree. Fields
/// not in an event's type are absent; unknown types (`ping`,
/// `content_block_stop`, later additions) are skipped.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    index: u64,
    message: Option<Start>,
    content_block: Option<Value>,
    #[serde(borrow)]
    delta: Option<Delta<'a>>,
    #[serde(default)]
    usage: AnthropicUsage,
    error: Option<Value>,
}

/// A `content_block_delta`'s or a `message_delta`'s `delta`; text borrows
/// from the event unless it has escapes.
#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    text: Cow<'a, str>,
    #[serde(default, borrow)]
    partial_json: Cow<'a, str>,
    #[serde(default, borrow)]
    thinking: Cow<'a, str>,
    #[serde(default, borrow)]
    signature: Cow<'a, str>,
    stop_reason: Option<String>,
}

/// A thinking block being streamed: sent back whole, signed, at its end.
struct Thinking {
    index: u64,
    text: String,
    signature: String,
}

#[derive(Deserialize)]
struct Start {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: AnthropicUsage,
}

pub struct Stream {
    client_wants_usage: bool,
    chunks: Chunks,
    started: bool,
    /// Anthropic block index → OpenAI tool call index, for open tool blocks.
    tools: Vec<(u64, usize)>,
    thinking: Option<Thinking>,
    usage: AnthropicUsage,
    finished: bool,
}

impl Stream {
    pub fn new(client_wants_usage: bool, model: &str) -> Self {
        Stream {
            client_wants_usage,
            chunks: Chunks::new(String::new(), model.to_string()),
            started: false,
            tools: Vec::new(),
            thinking: None,
            usage: AnthropicUsage::default(),
            finished: false,
        }
    }

    /// The role chunk comes first, whatever the upstream sent first.
    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            self.chunks.role(out, 0);
        }
    }

    fn block_start(&mut self, index: u64, block: &Value, out: &mut Vec<u8>) -> bool {
        self.start(out);
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                self.text(text, out)
            }
            Some("tool_use") => {
                let k = self.tools.len();
                self.tools.push((index, k));
                let field = |name: &str| block.get(name).and_then(Value::as_str).unwrap_or("");
                self.chunks
                    .tool_start(out, 0, k, (field("id"), field("name"), ""), None);
                true
            }
            Some("thinking") => {
                let field = |name: &str| block.get(name).and_then(Value::as_str).unwrap_or("");
                self.thinking = Some(Thinking {
                    index,
                    text: String::new(),
                    signature: field("signature").to_string(),
                });
                self.reasoning(field("thinking"), out)
            }
            Some("redacted_thinking") => {
                let data = block.get("data").and_then(Value::as_str).unwrap_or("");
                self.thinking_blocks(carry::redacted_block(data), out);
                false
            }
            _ => false,
        }
    }

    fn reasoning(&mut self, text: &str, out: &mut Vec<u8>) -> bool {
        let Some(t) = self.thinking.as_mut().filter(|_| !text.is_empty()) else {
            return false;
        };
        t.text.push_str(text);
        self.chunks.reasoning(out, 0, text);
        true
    }

    fn thinking_blocks(&self, block: Value, out: &mut Vec<u8>) {
        self.chunks.extra(out, 0, "thinking_blocks", json!([block]));
    }

    /// `content_block_stop`: a thinking block goes to the client whole.
    fn block_stop(&mut self, index: u64, out: &mut Vec<u8>) {
        if let Some(t) = self.thinking.take_if(|t| t.index == index) {
            self.thinking_blocks(carry::thinking_block(&t.text, &t.signature), out);
        }
    }

    fn text(&mut self, text: &str, out: &mut Vec<u8>) -> bool {
        if text.is_empty() {
            return false;
        }
        self.chunks.text(out, 0, text);
        true
    }

    fn block_delta(&mut self, index: u64, delta: &Delta, out: &mut Vec<u8>) -> bool {
        self.start(out);
        match delta.kind.as_ref() {
            "text_delta" => self.text(&delta.text, out),
            "input_json_delta" => {
                let tool = self.tools.iter().find(|(i, _)| *i == index);
                match tool {
                    Some(&(_, k)) if !delta.partial_json.is_empty() => {
                        self.chunks.tool_args(out, 0, k, &delta.partial_json);
                        true
                    }
                    _ => false,
                }
            }
            "thinking_delta" => self.reasoning(&delta.thinking, out),
            "signature_delta" => {
                if let Some(t) = self.thinking.as_mut() {
                    t.signature.push_str(&delta.signature);
                }
                false
            }
            // Citations have no OpenAI equivalent.
            _ => false,
        }
    }

    /// `message_stop`. A stream without `message_delta` still ends with a
    /// finish reason.
    fn stop(&mut self, out: &mut Vec<u8>) -> EventInfo {
        self.finish(None, out);
        let counts = self.usage.counts();
        if self.client_wants_usage {
            self.chunks.usage(out, &counts);
        }
        Chunks::done(out);
        EventInfo {
            content: true,
            done: true,
            usage: Some(counts.usage()),
        }
    }

    fn finish(&mut self, stop_reason: Option<&str>, out: &mut Vec<u8>) {
        self.start(out);
        if !self.finished {
            self.finished = true;
            self.chunks
                .delta(out, 0, json!({}), Some(finish_reason(stop_reason)));
        }
    }
}

fn malformed(what: &str) -> StreamError {
    StreamError::Malformed(format!("{what} event without its payload"))
}

impl StreamTranslator for Stream {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<u8>) -> Result<EventInfo, StreamError> {
        let parsed: Event =
            serde_json::from_str(&event.data).map_err(|e| StreamError::Malformed(e.to_string()))?;
        let mut info = EventInfo::default();
        match parsed.kind.as_ref() {
            "message_start" => {
                let message = parsed.message.ok_or_else(|| malformed("message_start"))?;
                self.chunks.id = message.id;
                if !message.model.is_empty() {
                    self.chunks.model = message.model;
                }
                self.usage.merge(&message.usage);
                self.start(out);
            }
            "content_block_start" => {
                let block = parsed.content_block.as_ref();
                let block = block.ok_or_else(|| malformed("content_block_start"))?;
                info.content = self.block_start(parsed.index, block, out);
            }
            "content_block_delta" => {
                let delta = parsed.delta.as_ref();
                let delta = delta.ok_or_else(|| malformed("content_block_delta"))?;
                info.content = self.block_delta(parsed.index, delta, out);
            }
            "content_block_stop" => self.block_stop(parsed.index, out),
            "message_delta" => {
                self.usage.merge(&parsed.usage);
                let stop = parsed.delta.as_ref().and_then(|d| d.stop_reason.as_deref());
                self.finish(stop, out);
                info.content = true;
                info.usage = Some(self.usage.counts().usage());
            }
            "message_stop" => info = self.stop(out),
            "error" => {
                let body = json!({ "error": parsed.error.unwrap_or_default() }).to_string();
                return Err(StreamError::Upstream(error_summary(body.as_bytes())));
            }
            _ => {}
        }
        Ok(info)
    }
}
