//! Anthropic's Messages API (`POST /v1/messages`) behind OpenAI's chat
//! completions. The field-by-field mapping is in docs/providers.md.

mod request;
#[cfg(test)]
mod request_tests;
mod response;
#[cfg(test)]
mod response_tests;
mod stream;

pub use request::build_request;
pub use response::translate_response;
pub use stream::Stream;

use serde::Deserialize;

use super::output::Counts;

/// Anthropic's `usage` object. Every field is optional: `message_delta`
/// events carry only some of them.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct AnthropicUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Later events restate counts; what they carry replaces what we had.
    fn merge(&mut self, newer: &AnthropicUsage) {
        let pick = |new: Option<u64>, old: Option<u64>| new.or(old);
        self.input_tokens = pick(newer.input_tokens, self.input_tokens);
        self.output_tokens = pick(newer.output_tokens, self.output_tokens);
        self.cache_creation_input_tokens = pick(
            newer.cache_creation_input_tokens,
            self.cache_creation_input_tokens,
        );
        self.cache_read_input_tokens =
            pick(newer.cache_read_input_tokens, self.cache_read_input_tokens);
    }

    /// Anthropic counts cached input apart from `input_tokens`; OpenAI's
    /// `prompt_tokens` includes it, with the cache hits broken out.
    fn counts(&self) -> Counts {
        let input = self.input_tokens.unwrap_or(0);
        let created = self.cache_creation_input_tokens.unwrap_or(0);
        let read = self.cache_read_input_tokens.unwrap_or(0);
        Counts {
            prompt: input.saturating_add(created).saturating_add(read),
            completion: self.output_tokens.unwrap_or(0),
            cached: Some(read),
            reasoning: None,
        }
    }
}

/// Anthropic's `stop_reason` as OpenAI's `finish_reason`.
fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn and anything newer.
        _ => "stop",
    }
}
