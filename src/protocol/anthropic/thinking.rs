//! `reasoning_effort` → Anthropic's `thinking`, and what thinking allows.

use serde_json::{json, Map, Value};

use crate::protocol::input::{Effort, Input};
use crate::protocol::messages::{Message, Role};
use crate::protocol::tools::{self as openai_tools, ToolChoice};
use crate::protocol::RequestError;

/// How the provider's models take thinking (`anthropic_thinking`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `{"type": "enabled", "budget_tokens": N}` (Claude 3.7 to 4.6).
    Budget,
    /// `{"type": "adaptive"}` with `output_config.effort` (Claude 4.6 and
    /// later; the only form from Opus 4.7).
    Adaptive,
}

/// The effort when thinking goes on: not for `none`, and not when the
/// conversation continues a tool loop whose assistant turn came back
/// without its thinking blocks (Anthropic refuses thinking then: "a final
/// assistant message must start with a thinking block").
pub(super) fn effort(input: &Input, list: &[Message]) -> Result<Option<Effort>, RequestError> {
    let effort = input.reasoning_effort()?.filter(|e| *e != Effort::None);
    let last_assistant = list.iter().rev().find(|m| m.role == Role::Assistant);
    let unsigned_loop =
        last_assistant.is_some_and(|m| !m.tool_calls.is_empty() && m.thinking.is_empty());
    Ok(effort.filter(|_| !unsigned_loop))
}

/// Adds `thinking` (and for `Budget`, room for it in `max_tokens`: the
/// budget counts against it and must stay below it, so the provider's
/// default, or a client's `max_tokens` not above the budget, becomes
/// budget + max_tokens, keeping the answer that room).
pub(super) fn apply(
    input: &Input,
    mode: Mode,
    effort: Effort,
    default_max: bool,
    body: &mut Map<String, Value>,
) -> Result<(), RequestError> {
    check(input)?;
    match mode {
        Mode::Budget => {
            let budget = effort.budget();
            let max = body.get("max_tokens").and_then(Value::as_u64).unwrap_or(0);
            if default_max || max <= budget {
                body.insert("max_tokens".into(), budget.saturating_add(max).into());
            }
            let thinking = json!({"type": "enabled", "budget_tokens": budget});
            body.insert("thinking".into(), thinking);
        }
        Mode::Adaptive => {
            let level = match effort {
                Effort::None | Effort::Minimal | Effort::Low => "low",
                Effort::Medium => "medium",
                Effort::High => "high",
                Effort::XHigh => "max",
            };
            body.insert("thinking".into(), json!({"type": "adaptive"}));
            body.insert("output_config".into(), json!({"effort": level}));
        }
    }
    Ok(())
}

/// Thinking takes temperature 1, no `top_k`, `top_p` from 0.95, and no
/// forced tool: other values are refused rather than changed.
fn check(input: &Input) -> Result<(), RequestError> {
    let with = "with `reasoning_effort` (thinking) is not supported";
    if input.number("temperature")?.is_some_and(|t| t != 1.0) {
        return Err(input.unsupported("temperature", &format!("other than 1 {with}")));
    }
    if input.uint("top_k")?.is_some() {
        return Err(input.unsupported("top_k", with));
    }
    if input.number("top_p")?.is_some_and(|p| p < 0.95) {
        return Err(input.unsupported("top_p", &format!("below 0.95 {with}")));
    }
    let forced = matches!(
        openai_tools::tool_choice(input)?,
        Some(ToolChoice::Required | ToolChoice::Function(_))
    );
    if forced {
        return Err(input.unsupported("tool_choice", &format!("forcing a tool call {with}")));
    }
    Ok(())
}
