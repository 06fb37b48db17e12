//! Anthropic stream events → OpenAI `chat.completion.chunk`s.
//!
//! `message_start` gives the id, model and input usage (and our role
//! chunk); content blocks stream text, or tool calls as a `tool_use` start
//! then `input_json_delta` fragments; `message_delta` gives the stop reason
//! and output usage; `message_stop` ends it.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{finish_reason, AnthropicUsage};
use crate::providers::output::Chunks;
use crate::providers::{error_summary, EventInfo, StreamError, StreamTranslator};
use crate::proxy::sse::SseEvent;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: Start,
    },
    ContentBlockStart {
        #[serde(default)]
        index: u64,
        content_block: Value,
    },
    ContentBlockDelta {
        #[serde(default)]
        index: u64,
        delta: Value,
    },
    MessageDelta {
        #[serde(default)]
        delta: Value,
        #[serde(default)]
        usage: AnthropicUsage,
    },
    MessageStop,
    Error {
        #[serde(default)]
        error: Value,
    },
    /// `ping`, `content_block_stop`, and event types added later.
    #[serde(other)]
    Other,
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
                    .tool_start(out, 0, k, (field("id"), field("name"), ""));
                true
            }
            _ => false,
        }
    }

    fn text(&mut self, text: &str, out: &mut Vec<u8>) -> bool {
        if text.is_empty() {
            return false;
        }
        self.chunks.delta(out, 0, json!({"content": text}), None);
        true
    }

    fn block_delta(&mut self, index: u64, delta: &Value, out: &mut Vec<u8>) -> bool {
        self.start(out);
        let field = |name: &str| delta.get(name).and_then(Value::as_str).unwrap_or("");
        match delta.get("type").and_then(Value::as_str) {
            Some("text_delta") => self.text(field("text"), out),
            Some("input_json_delta") => {
                let fragment = field("partial_json");
                let tool = self.tools.iter().find(|(i, _)| *i == index);
                match tool {
                    Some(&(_, k)) if !fragment.is_empty() => {
                        self.chunks.tool_args(out, 0, k, fragment);
                        true
                    }
                    _ => false,
                }
            }
            // Thinking, signatures and citations have no OpenAI equivalent.
            _ => false,
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

impl StreamTranslator for Stream {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<u8>) -> Result<EventInfo, StreamError> {
        let parsed: Event =
            serde_json::from_str(&event.data).map_err(|e| StreamError::Malformed(e.to_string()))?;
        let mut info = EventInfo::default();
        match parsed {
            Event::MessageStart { message } => {
                self.chunks.id = message.id;
                if !message.model.is_empty() {
                    self.chunks.model = message.model;
                }
                self.usage.merge(&message.usage);
                self.start(out);
            }
            Event::ContentBlockStart {
                index,
                content_block,
            } => info.content = self.block_start(index, &content_block, out),
            Event::ContentBlockDelta { index, delta } => {
                info.content = self.block_delta(index, &delta, out);
            }
            Event::MessageDelta { delta, usage } => {
                self.usage.merge(&usage);
                self.finish(delta.get("stop_reason").and_then(Value::as_str), out);
                info.content = true;
                info.usage = Some(self.usage.counts().usage());
            }
            Event::MessageStop => {
                // A stream without `message_delta` still ends with a finish reason.
                self.finish(None, out);
                let counts = self.usage.counts();
                if self.client_wants_usage {
                    self.chunks.usage(out, &counts);
                }
                Chunks::done(out);
                info = EventInfo {
                    content: true,
                    done: true,
                    usage: Some(counts.usage()),
                };
            }
            Event::Error { error } => {
                let body = json!({ "error": error }).to_string();
                return Err(StreamError::Upstream(error_summary(body.as_bytes())));
            }
            Event::Other => {}
        }
        Ok(info)
    }
}
