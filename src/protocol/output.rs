//! Writing OpenAI answers (`chat.completion`, `chat.completion.chunk`) from
//! a native protocol's pieces.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{json, Value};

use super::Usage;

/// Token counts in OpenAI's terms; sums saturate, since the numbers come
/// from upstream and an overflow must not panic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    /// Every input token, cached ones included.
    pub prompt: u64,
    /// Every output token, reasoning included.
    pub completion: u64,
    pub cached: Option<u64>,
    /// Input written to the prompt cache; OpenAI's usage has no field for it.
    pub cache_write: u64,
    pub reasoning: Option<u64>,
}

impl Counts {
    pub fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: self.prompt,
            completion_tokens: self.completion,
            cached_tokens: self.cached.unwrap_or(0),
            cache_write_tokens: self.cache_write,
            reasoning_tokens: self.reasoning.unwrap_or(0),
        }
    }

    pub fn json(&self) -> Value {
        let mut u = json!({
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "total_tokens": self.prompt.saturating_add(self.completion),
        });
        if let Some(c) = self.cached {
            u["prompt_tokens_details"] = json!({"cached_tokens": c});
        }
        if let Some(r) = self.reasoning {
            u["completion_tokens_details"] = json!({"reasoning_tokens": r});
        }
        u
    }
}

pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `prefix` and 24 random alphanumerics, like OpenAI's `call_...` ids.
pub(super) fn random_id(prefix: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + 24);
    id.push_str(prefix);
    id.extend(std::iter::repeat_with(fastrand::alphanumeric).take(24));
    id
}

/// One complete tool call of a `chat.completion` message.
pub(super) fn tool_call(id: &str, name: &str, arguments: String) -> Value {
    json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
}

/// One choice of a `chat.completion`. OpenAI sends `content: null` when
/// the model only called tools.
pub(super) fn choice(index: u64, text: String, tool_calls: Vec<Value>, finish: &str) -> Value {
    let mut message = json!({"role": "assistant", "content": text});
    if !tool_calls.is_empty() {
        if text.is_empty() {
            message["content"] = Value::Null;
        }
        message["tool_calls"] = Value::Array(tool_calls);
    }
    json!({"index": index, "message": message, "logprobs": null, "finish_reason": finish})
}

pub(super) fn completion(id: &str, model: &str, choices: Vec<Value>, counts: &Counts) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": choices,
        "usage": counts.json(),
    })
}

/// Writes the SSE chunks of one translated stream. Chunks are serialized
/// from borrowed structs straight into the output: this runs per chunk, and
/// a `Value` tree per chunk cost several allocations and two string clones.
pub(super) struct Chunks {
    pub id: String,
    pub model: String,
    pub created: u64,
}

#[derive(Serialize)]
struct ChunkOut<'a, C> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: C,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Value>,
}

#[derive(Serialize)]
struct ChoiceOut<'a, D> {
    index: u64,
    delta: D,
    /// Always `null`: no native protocol gives OpenAI-style logprobs.
    logprobs: (),
    finish_reason: Option<&'a str>,
}

#[derive(Serialize)]
struct Text<'a> {
    content: &'a str,
}

#[derive(Serialize)]
struct ToolArgs<'a> {
    tool_calls: [ToolFragment<'a>; 1],
}

#[derive(Serialize)]
struct ToolFragment<'a> {
    index: usize,
    function: Arguments<'a>,
}

#[derive(Serialize)]
struct Arguments<'a> {
    arguments: &'a str,
}

impl Chunks {
    pub fn new(id: String, model: String) -> Self {
        Chunks {
            id,
            model,
            created: now(),
        }
    }

    fn write<C: Serialize>(&self, out: &mut Vec<u8>, choices: C, usage: Option<Value>) {
        let start = out.len();
        out.extend_from_slice(b"data: ");
        let chunk = ChunkOut {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage,
        };
        // Serializing these structs into a Vec cannot fail (string keys
        // only, no I/O); if it ever did, a half-written event must not go out.
        if serde_json::to_writer(&mut *out, &chunk).is_err() {
            out.truncate(start);
            return;
        }
        out.extend_from_slice(b"\n\n");
    }

    /// A chunk with one choice's `delta`, and its finish reason if it ends.
    pub fn delta<D: Serialize>(
        &self,
        out: &mut Vec<u8>,
        index: u64,
        delta: D,
        finish: Option<&str>,
    ) {
        let choice = ChoiceOut {
            index,
            delta,
            logprobs: (),
            finish_reason: finish,
        };
        self.write(out, [choice], None);
    }

    /// A chunk of choice `index`'s text.
    pub fn text(&self, out: &mut Vec<u8>, index: u64, text: &str) {
        self.delta(out, index, Text { content: text }, None);
    }

    /// The usage-only chunk `stream_options.include_usage` asks for.
    pub fn usage(&self, out: &mut Vec<u8>, counts: &Counts) {
        self.write(out, [(); 0], Some(counts.json()));
    }

    pub fn done(out: &mut Vec<u8>) {
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    /// The first delta of a choice, as OpenAI sends it.
    pub fn role(&self, out: &mut Vec<u8>, index: u64) {
        self.delta(
            out,
            index,
            json!({"role": "assistant", "content": ""}),
            None,
        );
    }

    /// The start of streamed tool call `k` (id and name), with `arguments`
    /// so far: none when fragments follow, all of them when none will.
    pub fn tool_start(&self, out: &mut Vec<u8>, index: u64, k: usize, call: (&str, &str, &str)) {
        let (id, name, arguments) = call;
        let call = json!({"index": k, "id": id, "type": "function",
                          "function": {"name": name, "arguments": arguments}});
        self.delta(out, index, json!({"tool_calls": [call]}), None);
    }

    /// A fragment of tool call `k`'s arguments.
    pub fn tool_args(&self, out: &mut Vec<u8>, index: u64, k: usize, fragment: &str) {
        let call = ToolFragment {
            index: k,
            function: Arguments {
                arguments: fragment,
            },
        };
        self.delta(out, index, ToolArgs { tool_calls: [call] }, None);
    }
}
