//! An OpenAI-compatible stream: chunks passed through as they came, read
//! only for content, the end, usage and error chunks; the usage chunk the
//! gateway asked for on the client's behalf is kept from the client.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::scan::{Facts, Template};
use crate::protocol::sse::SseEvent;
use crate::protocol::{EventInfo, StreamError, StreamTranslator, Usage};

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    choices: Vec<Choice<'a>>,
    usage: Option<Usage>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    /// Text completions stream `text`, not a `delta`.
    #[serde(borrow)]
    text: Option<&'a RawValue>,
    finish_reason: Option<IgnoredAny>,
}

impl Choice<'_> {
    fn has_content(&self) -> bool {
        self.finish_reason.is_some()
            || self.delta.as_ref().is_some_and(Delta::has_content)
            || self.text.is_some_and(|t| t.get() != "\"\"")
    }
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow)]
    content: Option<&'a RawValue>,
    #[serde(borrow)]
    reasoning_content: Option<&'a RawValue>,
    tool_calls: Option<IgnoredAny>,
    function_call: Option<IgnoredAny>,
    refusal: Option<IgnoredAny>,
}

impl Delta<'_> {
    fn has_content(&self) -> bool {
        let text = |v: Option<&RawValue>| v.is_some_and(|v| v.get() != "\"\"");
        text(self.content)
            || text(self.reasoning_content)
            || self.tool_calls.is_some()
            || self.function_call.is_some()
            || self.refusal.is_some()
    }
}

/// Reads a chunk with serde: the chunks the quick read gives up on, among
/// them every error event, and the reference that read is tested against.
pub(super) fn read(data: &str) -> Result<Facts, StreamError> {
    let chunk: Chunk =
        serde_json::from_str(data).map_err(|e| StreamError::Malformed(e.to_string()))?;
    if let Some(err) = chunk.error {
        return Err(StreamError::Upstream(
            crate::protocol::errors::error_summary(
                format!("{{\"error\":{}}}", err.get()).as_bytes(),
            ),
        ));
    }
    Ok(Facts {
        content: chunk.choices.iter().any(Choice::has_content),
        finished: chunk.choices.iter().any(|c| c.finish_reason.is_some()),
        choices: !chunk.choices.is_empty(),
        usage: chunk.usage,
    })
}

/// Passes OpenAI chunks through. It drops the usage-only chunk the gateway
/// asked for when the client did not ask for it.
pub struct Stream {
    client_wants_usage: bool,
    /// Some relays end with the finish-reason chunk and never send `[DONE]`.
    finished: bool,
    /// The last chunk read in full, the next ones are read against.
    last: Template,
}

impl Stream {
    pub fn new(client_wants_usage: bool) -> Self {
        Stream {
            client_wants_usage,
            finished: false,
            last: Template::default(),
        }
    }
}

impl Stream {
    /// What `data` (trimmed) says, and whether the client gets the event.
    fn read(&mut self, data: &str) -> Result<(EventInfo, bool), StreamError> {
        if data == "[DONE]" {
            let done = EventInfo {
                done: true,
                ..EventInfo::default()
            };
            return Ok((done, true));
        }
        let facts = match super::scan::chunk_after(data, &mut self.last) {
            Some(facts) => facts,
            None => read(data)?,
        };
        self.finished |= facts.finished;
        let usage_only = !facts.choices && facts.usage.is_some();
        let info = EventInfo {
            content: facts.content,
            done: false,
            usage: facts.usage,
        };
        Ok((info, !usage_only || self.client_wants_usage))
    }
}

impl StreamTranslator for Stream {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<u8>) -> Result<EventInfo, StreamError> {
        let data = event.data.trim();
        let (info, shown) = self.read(data)?;
        if shown && info.done {
            out.extend_from_slice(b"data: [DONE]\n\n");
        } else if shown {
            crate::protocol::sse::write_event(out, None, data);
        }
        Ok(info)
    }

    /// Every event the client gets is written as it came; a hidden usage
    /// chunk goes through `event` (which reads it again, to the same end).
    fn passes(&self) -> bool {
        true
    }

    fn pass(&mut self, data: &str) -> Option<Result<EventInfo, StreamError>> {
        match self.read(data) {
            Ok((info, true)) => Some(Ok(info)),
            Ok((_, false)) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn closed(&mut self, out: &mut Vec<u8>) -> bool {
        if self.finished {
            out.extend_from_slice(b"data: [DONE]\n\n");
        }
        self.finished
    }
}
