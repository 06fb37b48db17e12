//! What the Anthropic mock answers: a thinking block first when the request
//! asks for thinking (signed `sig-think-K-HASH` after K tool results, HASH
//! binding the text, so a changed block is refused the next turn as the
//! real API refuses it), then text or a tool call; whole, or as Anthropic's
//! event sequence.

use serde_json::{json, Value};

use crate::script::{words, Call, Script};
use crate::sse::Event;

/// The mock's signature of thinking `text` written at `step`.
pub(crate) fn signature(step: usize, text: &str) -> String {
    // FNV-1a: stable, and enough to tell a changed text.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("sig-think-{step}-{hash:016x}")
}

/// The thinking the mock shows, and the step it signs.
pub(crate) struct Thought {
    text: String,
    step: usize,
}

impl Thought {
    /// Thinking about the last user text, at `step`.
    pub fn about(user_text: &str, step: usize) -> Self {
        Thought {
            text: format!("Thinking about: {user_text}"),
            step,
        }
    }

    fn signature(&self) -> String {
        signature(self.step, &self.text)
    }
}

pub(crate) struct Reply<'a> {
    pub model: &'a str,
    pub script: &'a Script,
    pub tool: Option<Call>,
    /// With thinking on.
    pub thought: Option<Thought>,
}

impl Reply<'_> {
    fn output_tokens(&self) -> u64 {
        let thinking = self.thought.as_ref().map_or(0, |t| words(&t.text));
        thinking
            + match &self.tool {
                Some(call) => call.tokens(),
                None => self.script.completion_tokens(),
            }
    }

    fn stop_reason(&self) -> &'static str {
        match (&self.tool, self.script.truncated) {
            (Some(_), _) => "tool_use",
            (None, true) => "max_tokens",
            (None, false) => "end_turn",
        }
    }

    fn thinking_block(&self) -> Option<Value> {
        let t = self.thought.as_ref()?;
        Some(json!({"type": "thinking", "thinking": t.text, "signature": t.signature()}))
    }

    /// Anthropic counts cache reads apart from `input_tokens`.
    fn usage(&self, output: u64) -> Value {
        let cached = self.script.cached_tokens;
        json!({"input_tokens": self.script.prompt_tokens - cached, "output_tokens": output,
               "cache_read_input_tokens": cached})
    }

    pub fn message(&self) -> Value {
        let mut content: Vec<Value> = self.thinking_block().into_iter().collect();
        content.push(match &self.tool {
            Some(call) => {
                json!({"type": "tool_use", "id": "toolu_mock1", "name": call.name, "input": call.input()})
            }
            None => json!({"type": "text", "text": self.script.text()}),
        });
        json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": self.model,
            "content": content, "stop_reason": self.stop_reason(), "stop_sequence": null,
            "usage": self.usage(self.output_tokens()),
        })
    }

    pub fn stream_events(&self) -> Vec<Event> {
        let start = json!({"type": "message_start", "message": {
            "id": "msg_mock", "type": "message", "role": "assistant", "model": self.model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": self.usage(1)}});
        let mut events = vec![Event::named("message_start", &start, false)];
        if let Some(t) = &self.thought {
            thinking_events(t, &mut events);
        }
        let index = usize::from(self.thought.is_some());
        self.answer_events(index, &mut events);
        let stop = json!({"type": "content_block_stop", "index": index});
        events.push(Event::named("content_block_stop", &stop, false));
        let delta = json!({"type": "message_delta", "delta": {"stop_reason": self.stop_reason(), "stop_sequence": null},
                           "usage": {"output_tokens": self.output_tokens()}});
        events.push(Event::named("message_delta", &delta, false));
        let stop = json!({"type": "message_stop"});
        events.push(Event::named("message_stop", &stop, false));
        events
    }

    /// The answer's block at `index`, without its stop: a tool call's start
    /// and argument fragments, or text tokens after a ping.
    fn answer_events(&self, index: usize, events: &mut Vec<Event>) {
        let block =
            |b: Value| json!({"type": "content_block_start", "index": index, "content_block": b});
        let delta = |d: Value| json!({"type": "content_block_delta", "index": index, "delta": d});
        match &self.tool {
            Some(call) => {
                let start = block(
                    json!({"type": "tool_use", "id": "toolu_mock1", "name": call.name, "input": {}}),
                );
                events.push(Event::named("content_block_start", &start, true));
                for fragment in &call.fragments {
                    let d = delta(json!({"type": "input_json_delta", "partial_json": fragment}));
                    events.push(Event::named("content_block_delta", &d, true));
                }
            }
            None => {
                let start = block(json!({"type": "text", "text": ""}));
                events.push(Event::named("content_block_start", &start, false));
                events.push(Event::named("ping", &json!({"type": "ping"}), false));
                for token in &self.script.tokens {
                    let d = delta(json!({"type": "text_delta", "text": token}));
                    events.push(Event::named("content_block_delta", &d, true));
                }
            }
        }
    }
}

/// Block 0: the thinking text, then its signature, as Anthropic streams them.
fn thinking_events(t: &Thought, events: &mut Vec<Event>) {
    let start = json!({"type": "content_block_start", "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""}});
    events.push(Event::named("content_block_start", &start, false));
    let delta = |d: Value| json!({"type": "content_block_delta", "index": 0, "delta": d});
    let text = delta(json!({"type": "thinking_delta", "thinking": t.text}));
    events.push(Event::named("content_block_delta", &text, true));
    let sig = delta(json!({"type": "signature_delta", "signature": t.signature()}));
    events.push(Event::named("content_block_delta", &sig, false));
    let stop = json!({"type": "content_block_stop", "index": 0});
    events.push(Event::named("content_block_stop", &stop, false));
}
