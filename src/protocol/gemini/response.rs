//! Gemini `GenerateContentResponse` → OpenAI `chat.completion`.

use bytes::Bytes;
use serde_json::Value;

use super::{finish_reason, Candidate, GenerateResponse};
use crate::protocol::output::{self, AssistantMessage};
use crate::protocol::{carry, Answer};

pub fn translate_response(body: Bytes, model: &str) -> Result<Answer, String> {
    let resp: GenerateResponse = serde_json::from_slice(&body)
        .map_err(|e| format!("upstream sent an invalid Gemini response: {e}"))?;
    let counts = resp.usage_metadata.unwrap_or_default().counts();
    let mut choices: Vec<Value> = resp
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| choice(c.index.unwrap_or(i as u64), c))
        .collect();
    if choices.is_empty() {
        // The prompt itself was blocked: OpenAI has no such answer, the
        // nearest is an empty choice stopped by the content filter.
        let blocked = resp
            .prompt_feedback
            .as_ref()
            .is_some_and(|f| f.get("blockReason").is_some());
        let finish = if blocked { "content_filter" } else { "stop" };
        choices.push(output::choice(0, AssistantMessage::default(), finish));
    }
    let id = resp
        .response_id
        .unwrap_or_else(|| output::random_id("chatcmpl-"));
    let model = resp.model_version.as_deref().unwrap_or(model);
    let out = output::completion(&id, model, choices, &counts);
    Ok(Answer {
        state: None,
        body: Bytes::from(out.to_string()),
        usage: Some(counts.usage()),
    })
}

fn choice(index: u64, c: &Candidate) -> Value {
    let mut m = AssistantMessage::default();
    for part in c.content.iter().flat_map(|c| &c.parts) {
        let signature = part.thought_signature.as_deref();
        if let Some(f) = &part.function_call {
            // Gemini gives calls no id; OpenAI clients need one to answer.
            let id = output::random_id("call_");
            let call = output::tool_call(&id, &f.name, f.arguments(), signature);
            m.tool_calls.push(call);
            continue;
        }
        let text = part.text.as_deref().unwrap_or("");
        if part.thought {
            m.reasoning.push_str(text);
        } else {
            m.text.push_str(text);
        }
        // The signature of the text parts (Gemini signs the last one).
        if let Some(s) = signature.filter(|_| !part.thought) {
            m.extra
                .insert("extra_content".into(), carry::google_extra(s));
        }
    }
    let finish = finish_reason(
        c.finish_reason.as_deref().unwrap_or("STOP"),
        !m.tool_calls.is_empty(),
    );
    output::choice(index, m, finish)
}
