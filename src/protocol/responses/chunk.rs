//! A chat completion chunk, as the Responses stream bridge reads back what
//! the inner translator wrote: only what the event sequence needs.

use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct Chunk {
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Vec<Choice>,
}

#[derive(Deserialize)]
pub(super) struct Choice {
    #[serde(default)]
    pub index: u64,
    pub delta: Option<Delta>,
    pub finish_reason: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Delta {
    pub content: Option<String>,
    pub refusal: Option<String>,
    #[serde(default)]
    pub tool_calls: Vec<ToolDelta>,
}

#[derive(Deserialize)]
pub(super) struct ToolDelta {
    #[serde(default)]
    pub index: u64,
    pub id: Option<String>,
    pub function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
pub(super) struct FunctionDelta {
    pub name: Option<String>,
    pub arguments: Option<String>,
}
