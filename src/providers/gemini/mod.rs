//! Google's Gemini API (`models/{model}:generateContent`, and
//! `:streamGenerateContent?alt=sse`) behind OpenAI's chat completions. The
//! field-by-field mapping is in docs/providers.md.

mod request;
#[cfg(test)]
mod request_tests;
mod response;
#[cfg(test)]
mod response_tests;
mod schema;
mod stream;

pub use request::build_request;
pub use response::translate_response;
pub use stream::Stream;

use serde::Deserialize;
use serde_json::Value;

use super::output::Counts;

/// A `GenerateContentResponse`: the whole answer, or one stream event.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    usage_metadata: Option<UsageMetadata>,
    model_version: Option<String>,
    response_id: Option<String>,
    prompt_feedback: Option<Value>,
    /// Streams report failures as an event with only this.
    error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    content: Option<Content>,
    finish_reason: Option<String>,
    index: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    text: Option<String>,
    /// Thought summaries are not part of OpenAI's message.
    #[serde(default)]
    thought: bool,
    function_call: Option<FunctionCall>,
}

#[derive(Debug, Default, Deserialize)]
struct FunctionCall {
    #[serde(default)]
    name: String,
    #[serde(default)]
    args: Value,
}

impl FunctionCall {
    /// OpenAI carries arguments as a JSON string; no args means none.
    fn arguments(&self) -> String {
        match &self.args {
            Value::Null => "{}".to_string(),
            v => v.to_string(),
        }
    }
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
    cached_content_token_count: Option<u64>,
    thoughts_token_count: Option<u64>,
}

impl UsageMetadata {
    /// Gemini's prompt count already includes cached tokens; its candidate
    /// count leaves out thinking, which OpenAI counts as completion.
    fn counts(&self) -> Counts {
        let thoughts = self.thoughts_token_count;
        Counts {
            prompt: self.prompt_token_count.unwrap_or(0),
            completion: self
                .candidates_token_count
                .unwrap_or(0)
                .saturating_add(thoughts.unwrap_or(0)),
            cached: self.cached_content_token_count,
            reasoning: thoughts,
        }
    }
}

/// Gemini's `finishReason` as OpenAI's `finish_reason`. A normal stop that
/// produced function calls is a `tool_calls` finish in OpenAI's terms.
fn finish_reason(reason: &str, called_tools: bool) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        _ if called_tools => "tool_calls",
        _ => "stop",
    }
}
