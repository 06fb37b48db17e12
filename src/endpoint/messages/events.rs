//! A chat completions stream as Anthropic's event sequence. The protocol's
//! own translator writes chat chunks (passed through from OpenAI, or made
//! from Gemini's events); this turns them into `message_start`, one
//! `content_block_start` / `content_block_delta`s / `content_block_stop` per
//! block (text, thinking from `reasoning_content`, each tool call with its
//! arguments as `input_json_delta`), then `message_delta` with the stop
//! reason and usage, and `message_stop`. A broken stream ends with
//! `event: error`, never `message_stop`.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::answer::{anthropic_usage, message_id, stop_reason};
use crate::protocol::sse::SseEvent;
use crate::protocol::{anthropic_stream_error, EventInfo, StreamError, StreamTranslator, Usage};

/// The silence after which a `ping` goes to the client.
const PING_AFTER: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    id: String,
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    index: u64,
    delta: Option<Delta>,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    content: Option<String>,
    reasoning_content: Option<String>,
    refusal: Option<String>,
    tool_calls: Option<Vec<CallDelta>>,
}

#[derive(Deserialize)]
struct CallDelta {
    #[serde(default)]
    index: u64,
    id: Option<String>,
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    /// A tool call, by its chat completions index.
    Tool(u64),
}

/// Wraps a translator that writes chat chunks.
pub(super) struct Encoder {
    inner: Box<dyn StreamTranslator>,
    /// What `inner` wrote for the current event.
    chat: Vec<u8>,
    model: String,
    started: bool,
    /// The open content block and its index.
    open: Option<(Block, u64)>,
    next: u64,
    stop: Option<String>,
    usage: Usage,
}

impl Encoder {
    pub fn new(inner: Box<dyn StreamTranslator>, public_model: &str) -> Self {
        Encoder {
            inner,
            chat: Vec::new(),
            model: public_model.to_string(),
            started: false,
            open: None,
            next: 0,
            stop: None,
            usage: Usage::default(),
        }
    }

    /// Turns the chunks `inner` wrote into events.
    fn encode(&mut self, out: &mut Vec<u8>) -> Result<(), StreamError> {
        let chat = std::mem::take(&mut self.chat);
        let text = String::from_utf8_lossy(&chat);
        for event in text.split("\n\n") {
            let data: String = event
                .split('\n')
                .filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
                .collect::<Vec<_>>()
                .join("\n");
            if data.is_empty() || data.trim() == "[DONE]" {
                continue;
            }
            let chunk: Chunk = serde_json::from_str(&data)
                .map_err(|e| StreamError::Malformed(format!("chat chunk: {e}")))?;
            self.chunk(chunk, out)?;
        }
        self.chat = chat;
        self.chat.clear();
        Ok(())
    }

    fn chunk(&mut self, chunk: Chunk, out: &mut Vec<u8>) -> Result<(), StreamError> {
        if !self.started {
            self.started = true;
            let start = json!({"type": "message_start", "message": {
                "id": message_id(&chunk.id), "type": "message", "role": "assistant",
                "model": self.model, "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0}}});
            write(out, &start);
        }
        if let Some(usage) = chunk.usage {
            self.usage = usage;
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            let delta = choice.delta.unwrap_or_default();
            if let Some(t) = delta.reasoning_content.filter(|t| !t.is_empty()) {
                self.enter(Block::Thinking, out);
                let d = json!({"type": "thinking_delta", "thinking": t});
                self.delta(d, out);
            }
            for t in [delta.content, delta.refusal].into_iter().flatten() {
                if !t.is_empty() {
                    self.enter(Block::Text, out);
                    self.delta(json!({"type": "text_delta", "text": t}), out);
                }
            }
            for call in delta.tool_calls.into_iter().flatten() {
                self.call(call, out)?;
            }
            if let Some(finish) = choice.finish_reason {
                self.close(out);
                self.stop = Some(finish);
            }
        }
        Ok(())
    }

    fn call(&mut self, call: CallDelta, out: &mut Vec<u8>) -> Result<(), StreamError> {
        let function = call.function.unwrap_or(FunctionDelta {
            name: None,
            arguments: None,
        });
        if let Some(id) = call.id {
            self.close(out);
            let (index, name) = (self.next, function.name.unwrap_or_default());
            self.next += 1;
            self.open = Some((Block::Tool(call.index), index));
            let start = json!({"type": "content_block_start", "index": index,
                "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}});
            write(out, &start);
        }
        let Some(args) = function.arguments.filter(|a| !a.is_empty()) else {
            return Ok(());
        };
        match self.open {
            Some((Block::Tool(k), _)) if k == call.index => {
                self.delta(
                    json!({"type": "input_json_delta", "partial_json": args}),
                    out,
                );
                Ok(())
            }
            // Anthropic streams one block after another.
            _ => Err(StreamError::Malformed(format!(
                "arguments for tool call {} arrived after another block started",
                call.index
            ))),
        }
    }

    /// Makes `block` the open block, closing another one first.
    fn enter(&mut self, block: Block, out: &mut Vec<u8>) {
        if self.open.is_some_and(|(b, _)| b == block) {
            return;
        }
        self.close(out);
        let index = self.next;
        self.next += 1;
        self.open = Some((block, index));
        let content_block = match block {
            Block::Thinking => json!({"type": "thinking", "thinking": "", "signature": ""}),
            _ => json!({"type": "text", "text": ""}),
        };
        let start =
            json!({"type": "content_block_start", "index": index, "content_block": content_block});
        write(out, &start);
    }

    fn delta(&self, delta: Value, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open {
            let d = json!({"type": "content_block_delta", "index": index, "delta": delta});
            write(out, &d);
        }
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open.take() {
            write(out, &json!({"type": "content_block_stop", "index": index}));
        }
    }

    /// The stream is complete: the stop reason and usage, then `message_stop`.
    fn end(&mut self, out: &mut Vec<u8>) {
        self.close(out);
        let delta = json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason(self.stop.as_deref()), "stop_sequence": null},
            "usage": anthropic_usage(&self.usage)});
        write(out, &delta);
        write(out, &json!({"type": "message_stop"}));
    }
}

/// One named event: Anthropic's events carry their type twice.
fn write(out: &mut Vec<u8>, event: &Value) {
    let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Serializing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, event);
    out.extend_from_slice(b"\n\n");
}

impl StreamTranslator for Encoder {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<u8>) -> Result<EventInfo, StreamError> {
        self.chat.clear();
        let info = self.inner.event(event, &mut self.chat)?;
        self.encode(out)?;
        if info.done {
            self.end(out);
        }
        Ok(info)
    }

    fn closed(&mut self, out: &mut Vec<u8>) -> bool {
        self.chat.clear();
        let complete = self.inner.closed(&mut self.chat);
        if complete && self.encode(out).is_ok() {
            self.end(out);
            return true;
        }
        false
    }

    fn broken(&mut self, message: &str, out: &mut Vec<u8>) {
        anthropic_stream_error(message, out);
    }

    /// Anthropic upstreams send their own pings; other upstreams' silences
    /// (a reasoning model thinking) get ours.
    fn keepalive(&self) -> Option<(Duration, &'static [u8])> {
        Some((PING_AFTER, b"event: ping\ndata: {\"type\":\"ping\"}\n\n"))
    }
}
