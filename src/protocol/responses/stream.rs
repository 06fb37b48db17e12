//! A chat stream (a chat upstream's, or a native protocol's translation)
//! → the Responses event sequence, each event with its `sequence_number`.
//!
//! The inner translator writes chat chunks; they are read back and become
//! `response.created`, `response.in_progress`, one `output_item.added` per
//! message or call, its deltas, and at the end every item's `.done` events
//! and `response.completed` (or `response.incomplete`). A custom tool's
//! input arrives as JSON-string fragments, so it is sent whole at the end.

use serde_json::{json, Map, Value};

use super::chunk::{Chunk, ToolDelta};
use super::output::{self, merge, with, Call, Item, Part};
use super::tools::Names;
use crate::protocol::output::{now, random_id};
use crate::protocol::sse::{SseEvent, SseParser};
use crate::protocol::{EventInfo, Request, StreamError, StreamTranslator, Usage};

pub struct FromChat {
    inner: Box<dyn StreamTranslator>,
    /// Reads back what `inner` wrote.
    parser: SseParser,
    scratch: Vec<u8>,
    sequence: u64,
    response: Map<String, Value>,
    names: Names,
    started: bool,
    items: Vec<Item>,
    /// The message item, once text came.
    message: Option<usize>,
    /// Chat tool call index → item.
    calls: Vec<(u64, usize)>,
    /// As the inner translator read it.
    usage: Option<Usage>,
    finish: Option<String>,
    done: bool,
}

impl FromChat {
    pub fn new(req: &Request, inner: Box<dyn StreamTranslator>) -> Self {
        FromChat {
            inner,
            parser: SseParser::default(),
            scratch: Vec::new(),
            sequence: 0,
            response: output::skeleton(req, &random_id("resp_"), &req.model, now()),
            names: Names::read(req),
            started: false,
            items: Vec::new(),
            message: None,
            calls: Vec::new(),
            usage: None,
            finish: None,
            done: false,
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, kind: &str, mut fields: Value) {
        fields["type"] = kind.into();
        fields["sequence_number"] = self.sequence.into();
        self.sequence += 1;
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\ndata: ");
        out.extend_from_slice(fields.to_string().as_bytes());
        out.extend_from_slice(b"\n\n");
    }

    fn snapshot(&self, status: &str) -> Value {
        let mut r = self.response.clone();
        r.insert("status".into(), status.into());
        Value::Object(r)
    }

    /// Translates what the inner translator wrote.
    fn drain(&mut self, out: &mut Vec<u8>) -> Result<(), StreamError> {
        let bad = |e: String| StreamError::Malformed(e);
        self.parser
            .push(&self.scratch)
            .map_err(|e| bad(e.to_string()))?;
        self.scratch.clear();
        while let Some(event) = self.parser.next_event().map_err(|e| bad(e.to_string()))? {
            if event.data.trim() == "[DONE]" {
                self.finish(out);
                continue;
            }
            let chunk: Chunk = serde_json::from_str(&event.data).map_err(|e| bad(e.to_string()))?;
            self.apply(chunk, out);
        }
        Ok(())
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            let created = self.snapshot("in_progress");
            self.emit(out, "response.created", json!({"response": created}));
            self.emit(out, "response.in_progress", json!({"response": created}));
        }
    }

    fn apply(&mut self, chunk: Chunk, out: &mut Vec<u8>) {
        if !self.started {
            if let Some(m) = chunk.model.filter(|m| !m.is_empty()) {
                self.response.insert("model".into(), m.into());
            }
        }
        self.start(out);
        // Responses has no `n`: only the first choice exists.
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(d) = choice.delta {
                for (refusal, text) in [(false, d.content), (true, d.refusal)] {
                    match text {
                        Some(t) if !t.is_empty() => self.text(refusal, &t, out),
                        _ => {}
                    }
                }
                for call in d.tool_calls {
                    self.tool(call, out);
                }
            }
            self.finish = choice.finish_reason.or(self.finish.take());
        }
    }

    fn text(&mut self, refusal: bool, delta: &str, out: &mut Vec<u8>) {
        let index = match self.message {
            Some(i) => i,
            None => {
                let item = Item::Message {
                    id: random_id("msg_"),
                    parts: Vec::new(),
                };
                self.added(item, out)
            }
        };
        let Item::Message { id, parts } = &mut self.items[index] else {
            return;
        };
        self.message = Some(index);
        let id = id.clone();
        let new_part = parts.last().is_none_or(|p| p.refusal != refusal);
        if new_part {
            parts.push(Part {
                refusal,
                text: String::new(),
            });
        }
        let part = parts.len() - 1;
        let empty = parts[part].json();
        parts[part].text.push_str(delta);
        let at = json!({"item_id": id, "output_index": index, "content_index": part});
        if new_part {
            self.emit(out, "response.content_part.added", with(&at, "part", empty));
        }
        let (kind, extra) = match refusal {
            false => (
                "response.output_text.delta",
                json!({"delta": delta, "logprobs": []}),
            ),
            true => ("response.refusal.delta", json!({"delta": delta})),
        };
        self.emit(out, kind, merge(&at, extra));
    }

    fn tool(&mut self, t: ToolDelta, out: &mut Vec<u8>) {
        let (name, arguments) = t.function.map_or((None, None), |f| (f.name, f.arguments));
        let index = match self.calls.iter().find(|(k, _)| *k == t.index) {
            Some(&(_, i)) => i,
            None => {
                let name = name.unwrap_or_default();
                let origin = self.names.of(&name);
                let prefix = if origin.custom { "ctc_" } else { "fc_" };
                let call = Call {
                    id: random_id(prefix),
                    call_id: t.id.unwrap_or_else(|| random_id("call_")),
                    name,
                    arguments: String::new(),
                    origin,
                };
                let i = self.added(Item::Call(call), out);
                self.calls.push((t.index, i));
                i
            }
        };
        let Some(fragment) = arguments.filter(|a| !a.is_empty()) else {
            return;
        };
        if let Item::Call(c) = &mut self.items[index] {
            c.arguments.push_str(&fragment);
            if !c.origin.custom {
                let at = json!({"item_id": c.id, "output_index": index, "delta": fragment});
                self.emit(out, "response.function_call_arguments.delta", at);
            }
        }
    }

    /// Announces a new item; returns its output index.
    fn added(&mut self, item: Item, out: &mut Vec<u8>) -> usize {
        let index = self.items.len();
        let fields = json!({"output_index": index, "item": item.json("in_progress")});
        self.items.push(item);
        self.emit(out, "response.output_item.added", fields);
        index
    }

    /// Every item's `.done` events, then the response's end.
    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.start(out);
        self.done = true;
        let items = std::mem::take(&mut self.items);
        for (index, item) in items.iter().enumerate() {
            self.close(index, item, out);
        }
        let (status, incomplete) = output::status(self.finish.as_deref());
        let mut response = self.snapshot(status);
        response["incomplete_details"] = incomplete;
        response["output"] = items.iter().map(|i| i.json("completed")).collect();
        if let Some(u) = &self.usage {
            response["usage"] = output::usage_json(u);
        }
        let kind = if status == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        self.emit(out, kind, json!({"response": response}));
        self.items = items;
    }

    fn close(&mut self, index: usize, item: &Item, out: &mut Vec<u8>) {
        let at = json!({"item_id": item.id(), "output_index": index});
        match item {
            Item::Message { parts, .. } => {
                for (j, p) in parts.iter().enumerate() {
                    let at = with(&at, "content_index", j.into());
                    let done = match p.refusal {
                        false => (
                            "response.output_text.done",
                            json!({"text": p.text, "logprobs": []}),
                        ),
                        true => ("response.refusal.done", json!({"refusal": p.text})),
                    };
                    self.emit(out, done.0, merge(&at, done.1));
                    self.emit(
                        out,
                        "response.content_part.done",
                        with(&at, "part", p.json()),
                    );
                }
            }
            Item::Call(c) if c.origin.custom => {
                let input = c.input();
                self.emit(
                    out,
                    "response.custom_tool_call_input.delta",
                    with(&at, "delta", input.clone().into()),
                );
                self.emit(
                    out,
                    "response.custom_tool_call_input.done",
                    with(&at, "input", input.into()),
                );
            }
            Item::Call(c) => {
                let args = json!({"name": c.name, "arguments": c.arguments});
                self.emit(
                    out,
                    "response.function_call_arguments.done",
                    merge(&at, args),
                );
            }
        }
        let done = json!({"output_index": index, "item": item.json("completed")});
        self.emit(out, "response.output_item.done", done);
    }
}

impl StreamTranslator for FromChat {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<u8>) -> Result<EventInfo, StreamError> {
        let info = self.inner.event(event, &mut self.scratch)?;
        self.usage = info.usage.or(self.usage);
        self.drain(out)?;
        Ok(info)
    }

    fn closed(&mut self, out: &mut Vec<u8>) -> bool {
        let complete = self.inner.closed(&mut self.scratch);
        complete && self.drain(out).is_ok() && self.done
    }

    /// `response.failed`, with what came so far: never a clean end.
    fn broken(&mut self, message: &str, out: &mut Vec<u8>) {
        self.start(out);
        let mut response = self.snapshot("failed");
        response["error"] = json!({"code": "server_error", "message": message});
        response["output"] = self.items.iter().map(|i| i.json("incomplete")).collect();
        self.emit(out, "response.failed", json!({"response": response}));
    }
}
