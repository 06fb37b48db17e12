//! What the Anthropic mock answers: an optional thinking block (when the
//! request asks for thinking) signed by the mock, then text or a tool call;
//! whole, or as Anthropic's event sequence.

use serde_json::{json, Value};

use crate::script::{Call, Script};
use crate::sse::Event;

/// The thinking the mock shows.
const THINKING: &str = "The user wants a short answer. (mock thinking)";

/// The mock's signature of a thinking text: what it checks when the block
/// comes back in a later turn.
pub(crate) fn signature(thinking: &str) -> String {
    // FNV-1a: stable, and enough to tell a changed text.
    let hash = thinking.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("mocksig:{hash:016x}")
}

pub(crate) struct Reply<'a> {
    pub model: &'a str,
    pub script: &'a Script,
    pub tool: Option<Call>,
    pub thinking: bool,
}

impl Reply<'_> {
    fn output_tokens(&self) -> u64 {
        match &self.tool {
            Some(call) => call.args.len() as u64,
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
        self.thinking.then(
            || json!({"type": "thinking", "thinking": THINKING, "signature": signature(THINKING)}),
        )
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
            "usage": {"input_tokens": self.script.prompt_tokens, "output_tokens": self.output_tokens()},
        })
    }

    pub fn stream_events(&self) -> Vec<Event> {
        let start = json!({"type": "message_start", "message": {
            "id": "msg_mock", "type": "message", "role": "assistant", "model": self.model, "content": [],
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": self.script.prompt_tokens, "output_tokens": 1}}});
        let mut events = vec![Event::named("message_start", &start, false)];
        let mut index = 0;
        if self.thinking {
            thinking_events(&mut events);
            index = 1;
        }
        let block =
            |b: Value| json!({"type": "content_block_start", "index": index, "content_block": b});
        let delta = |d: Value| json!({"type": "content_block_delta", "index": index, "delta": d});
        match &self.tool {
            Some(call) => {
                let start = block(
                    json!({"type": "tool_use", "id": "toolu_mock1", "name": call.name, "input": {}}),
                );
                events.push(Event::named("content_block_start", &start, true));
                for fragment in call.args {
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
        let stop = json!({"type": "content_block_stop", "index": index});
        events.push(Event::named("content_block_stop", &stop, false));
        let delta = json!({"type": "message_delta", "delta": {"stop_reason": self.stop_reason(), "stop_sequence": null},
                           "usage": {"output_tokens": self.output_tokens()}});
        events.push(Event::named("message_delta", &delta, false));
        events.push(Event::named(
            "message_stop",
            &json!({"type": "message_stop"}),
            false,
        ));
        events
    }
}

/// Block 0: the thinking text, then its signature, as Anthropic streams them.
fn thinking_events(events: &mut Vec<Event>) {
    let start = json!({"type": "content_block_start", "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""}});
    events.push(Event::named("content_block_start", &start, false));
    let delta = |d: Value| json!({"type": "content_block_delta", "index": 0, "delta": d});
    let text = delta(json!({"type": "thinking_delta", "thinking": THINKING}));
    events.push(Event::named("content_block_delta", &text, true));
    let sig = delta(json!({"type": "signature_delta", "signature": signature(THINKING)}));
    events.push(Event::named("content_block_delta", &sig, true));
    let stop = json!({"type": "content_block_stop", "index": 0});
    events.push(Event::named("content_block_stop", &stop, false));
}
