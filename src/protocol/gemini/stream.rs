//! Gemini stream events (`alt=sse`: each event a partial
//! `GenerateContentResponse`) → OpenAI `chat.completion.chunk`s.
//!
//! Gemini sends no end marker: the stream is complete once every expected
//! candidate has a `finishReason`; usage comes with the last events.

use serde_json::json;

use super::{finish_reason, Candidate, GenerateResponse, Part, UsageMetadata};
use crate::protocol::carry;
use crate::protocol::output::{random_id, Chunks};
use crate::protocol::sse::SseEvent;
use crate::protocol::{error_summary, EventInfo, StreamError, StreamTranslator};

/// One choice's progress.
struct Choice {
    index: u64,
    tool_calls: usize,
    finished: bool,
}

pub struct Stream {
    client_wants_usage: bool,
    /// Candidates asked for (`n`); the stream ends when that many finished.
    expected: usize,
    chunks: Chunks,
    choices: Vec<Choice>,
    usage: UsageMetadata,
    done: bool,
}

impl Stream {
    pub fn new(client_wants_usage: bool, n: u64, model: &str) -> Self {
        Stream {
            client_wants_usage,
            expected: usize::try_from(n.max(1)).unwrap_or(usize::MAX),
            chunks: Chunks::new(String::new(), model.to_string()),
            choices: Vec::new(),
            usage: UsageMetadata::default(),
            done: false,
        }
    }

    /// The choice's position, announcing it with a role chunk the first time.
    fn choice(&mut self, index: u64, out: &mut Vec<u8>) -> usize {
        if let Some(pos) = self.choices.iter().position(|c| c.index == index) {
            return pos;
        }
        self.chunks.role(out, index);
        self.choices.push(Choice {
            index,
            tool_calls: 0,
            finished: false,
        });
        self.choices.len() - 1
    }

    /// Writes one candidate's parts and finish; true if any was content.
    fn candidate(&mut self, index: u64, cand: &Candidate, out: &mut Vec<u8>) -> bool {
        let pos = self.choice(index, out);
        if self.choices[pos].finished {
            return false;
        }
        let mut content = false;
        for part in cand.content.iter().flat_map(|c| &c.parts) {
            content |= self.part(pos, index, part, out);
        }
        if let Some(reason) = &cand.finish_reason {
            let finish = finish_reason(reason, self.choices[pos].tool_calls > 0);
            self.chunks.delta(out, index, json!({}), Some(finish));
            self.choices[pos].finished = true;
            content = true;
        }
        content
    }

    /// One part as deltas; true if the client sees content.
    fn part(&mut self, pos: usize, index: u64, part: &Part, out: &mut Vec<u8>) -> bool {
        let signature = part.thought_signature.as_deref();
        if let Some(f) = &part.function_call {
            let k = self.choices[pos].tool_calls;
            self.choices[pos].tool_calls += 1;
            let id = random_id("call_");
            let call = (id.as_str(), f.name.as_str(), f.arguments());
            self.chunks
                .tool_start(out, index, k, (call.0, call.1, &call.2), signature);
            return true;
        }
        let text = part.text.as_deref().unwrap_or("");
        let content = !text.is_empty();
        match part.thought {
            true if content => self.chunks.reasoning(out, index, text),
            true => {}
            false if content => self.chunks.text(out, index, text),
            false => {}
        }
        // Often on an empty last part: a delta of its own, not content.
        if let Some(s) = signature.filter(|_| !part.thought) {
            self.chunks
                .extra(out, index, "extra_content", carry::google_extra(s));
        }
        content
    }

    /// Usage (when asked for) and `[DONE]`, once every choice finished.
    fn end_if_complete(&mut self, out: &mut Vec<u8>) -> bool {
        let finished = self.choices.iter().filter(|c| c.finished).count();
        if self.done || finished < self.expected {
            return false;
        }
        self.done = true;
        if self.client_wants_usage {
            self.chunks.usage(out, &self.usage.counts());
        }
        Chunks::done(out);
        true
    }
}

impl StreamTranslator for Stream {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<u8>) -> Result<EventInfo, StreamError> {
        let resp: GenerateResponse =
            serde_json::from_str(&event.data).map_err(|e| StreamError::Malformed(e.to_string()))?;
        if let Some(error) = resp.error {
            let body = json!({ "error": error }).to_string();
            return Err(StreamError::Upstream(error_summary(body.as_bytes())));
        }
        if self.chunks.id.is_empty() {
            self.chunks.id = resp.response_id.unwrap_or_else(|| random_id("chatcmpl-"));
        }
        if let Some(model) = resp.model_version {
            self.chunks.model = model;
        }
        // Each event restates the usage so far.
        if let Some(u) = resp.usage_metadata {
            self.usage = u;
        }
        let mut content = false;
        for (i, cand) in resp.candidates.iter().enumerate() {
            content |= self.candidate(cand.index.unwrap_or(i as u64), cand, out);
        }
        let blocked = resp
            .prompt_feedback
            .is_some_and(|f| f.get("blockReason").is_some());
        if resp.candidates.is_empty() && blocked {
            // The prompt was refused: every choice ends by content filter.
            let blocked = Candidate {
                finish_reason: Some("SAFETY".into()),
                ..Candidate::default()
            };
            for index in 0..self.expected as u64 {
                content |= self.candidate(index, &blocked, out);
            }
        }
        let done = self.end_if_complete(out);
        Ok(EventInfo {
            content,
            done,
            usage: Some(self.usage.counts().usage()),
        })
    }
}
